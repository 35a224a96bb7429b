"""Where metadata lives, by protocol: one small interface and a registry.

A :class:`MetadataBackend` knows how one kind of storage keeps a file's content and its
octstore metadata together: object metadata on GCS and S3 (``gcs.py``, ``s3.py``), a sidecar
file next to the content everywhere else (``sidecar.py``). Adding a backend is adding one
module and one entry in :data:`octstore.protocols.REGISTRY`; ``datafile.py`` never asks which
protocol it has.
"""

from __future__ import annotations

import importlib
import os
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.errors import NotFoundError
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate
from octstore.protocols import lookup
from octstore.state import ObjectState

__all__ = [
    "UNSETTLED",
    "Known",
    "Listed",
    "MetadataBackend",
    "ObjectState",
    "backend_for",
    "listing",
]

#: One listed file: where it is, its state with its metadata, and its listing version.
Listed = tuple[Location, ObjectState, str]
#: States known from elsewhere (a manifest), by URL: the listing version, and the state.
Known = Mapping[str, tuple[str, ObjectState]]
#: Ends a listing version that a later listing could show unchanged although the file's
#: metadata changed (an S3 metadata update in the same second): a loader reads such a file
#: afresh. A sync may plan on it all the same (:func:`trusting_unsettled`), since each of its
#: writes re-checks the file's state under its precondition.
UNSETTLED = "|unsettled"


def trusting_unsettled(known: Known) -> tuple[dict[str, tuple[str, ObjectState]], set[str]]:
    """``known`` with its unsettled listing versions taken at their word, and the URLs whose
    versions were unsettled (to be marked so again in what the listing returns)."""
    trusted: dict[str, tuple[str, ObjectState]] = {}
    unsettled: set[str] = set()
    for url, (version, state) in known.items():
        if version.endswith(UNSETTLED):
            version = version[: -len(UNSETTLED)]
            unsettled.add(url)
        trusted[url] = (version, state)
    return trusted, unsettled


class MetadataBackend(ABC):
    """How one kind of storage keeps content and metadata. Stateless; one instance serves all.

    Every method raises octstore errors (``NotFoundError``, ``ConflictError``, ...) naming
    the location, never the SDK's own.
    """

    #: Whether content and metadata are written in one request, so that a reader can never
    #: see the new content with the old metadata.
    atomic_metadata: bool = False
    #: Whether ``put`` returns the version token of exactly what it wrote (from the write's
    #: own response). Without it, the written content is not filed in the cache, since a
    #: version read after the write might be someone else's.
    versioned_writes: bool = False
    #: Whether ``read_range`` reads parts of exactly one version of a file (S3 ``If-Match``,
    #: GCS ``generation``), so that a reader can fetch only the parts it needs. Without it,
    #: readers that want parts download the whole file into the cache instead.
    reads_version_ranges: bool = False
    #: Whether ``put`` writes nothing when the bytes it reads from ``source`` do not have the
    #: ``crc32c`` it was given (a file changed while it was uploaded). Without it, callers
    #: copy a file that another program may be writing first, and check the copy.
    checks_sent_content: bool = False
    #: Whether :meth:`download_async` runs on fsspec's event loop, so that the transfer
    #: engine runs many downloads at once there rather than a thread for each.
    async_downloads: bool = False

    @abstractmethod
    def stat(self, location: Location) -> ObjectState:
        """The file's state and stored metadata, in as few requests as the backend allows.

        Raises:
            NotFoundError: If there is no file at ``location``.
        """

    @abstractmethod
    def put(
        self,
        location: Location,
        source: str,
        metadata: MetadataUpdate,
        *,
        crc32c: str,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> ObjectState:
        """Make ``location`` hold the content of the local file ``source``, with ``metadata``:
        changes applied to the metadata stored when the write happens, or whole metadata
        (which replaces it, keeping only the stored id).

        ``source`` may be consumed (moved into place) by backends that can do so atomically;
        callers must not rely on it afterwards.

        Args:
            location: Where to write.
            source: A local file with the new content.
            metadata: The metadata changes (or whole metadata) to store with it.
            crc32c: The CRC32C of ``source``, computed by the caller.
            if_matches: Write only if the stored content is still in this state (with whole
                metadata: its metadata too).
            if_absent: Write only if there is no file at ``location``.
            callback: An fsspec callback told how many bytes of ``source`` were sent so far,
                as they go, where the backend can tell (a retry starts again from 0); a
                backend that moves ``source`` into place sends none. Callers tell it the size
                and, once ``put`` returns, that all of it is there.

        Raises:
            ConflictError: If a precondition does not hold; nothing was written.
        """

    def copy(
        self,
        source: Location,
        source_state: ObjectState,
        destination: Location,
        metadata: Metadata,
        *,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
    ) -> ObjectState | None:
        """Copy the version ``source_state`` of ``source``, on this backend's filesystem, to
        ``destination`` with whole ``metadata``, inside the storage service (no content
        crosses the wire), under the same preconditions as :meth:`put`; or None where the
        backend cannot do that in one conditional write (the caller then uses ``put``).

        Raises:
            ConflictError: If a precondition failed, or ``source`` changed; nothing was
                written.
        """
        return None

    def consumes_source(self, location: Location) -> bool:
        """Whether ``put`` to ``location`` moves its ``source`` into place rather than reading
        it (callers that need the source afterwards pass a copy)."""
        return False

    @abstractmethod
    def write_metadata(
        self, location: Location, metadata: MetadataUpdate, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Store ``metadata`` for the existing file at ``location`` without moving content.

        Changes are applied to the metadata stored at the time of writing, under the
        backend's lock, lease or precondition, so concurrent changes all land
        (``if_matches``, the state they were made on, is then only a starting point).
        Whole metadata replaces what is stored (keeping the stored id), and with
        ``if_matches`` only if the file did not change since.

        Raises:
            NotFoundError: If there is no file at ``location``.
            ConflictError: If whole metadata was given with ``if_matches`` and the file
                changed since, or another writer kept the file locked too long.
        """

    def read_bytes(self, location: Location) -> bytes:
        """The whole content of a small file (a manifest, a sidecar), in one request.

        Raises:
            FileNotFoundError: If there is no such file (callers treat that as "none").
        """
        data: bytes = location.fs.cat_file(location.fs_path)
        return data

    def download(
        self,
        location: Location,
        state: ObjectState,
        target: str,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> None:
        """Transfer the content of ``location`` at exactly ``state`` to the local file ``target``.

        Backends that can pin the version (S3 ``If-Match``, GCS ``generation``) do, so that
        content is never filed under a version it does not belong to. This default, for
        filesystems that cannot, transfers whatever is there now; callers verify it.

        Raises:
            IntegrityError: If the file is no longer at ``state`` (it changed meanwhile).
        """
        with translate_errors(location.url, "downloading"):
            location.fs.get_file(location.fs_path, target, callback=callback)

    def read_range(self, location: Location, state: ObjectState, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` of the content of ``location`` at exactly ``state``,
        in one request.

        Only backends with :attr:`reads_version_ranges` implement it: a range of whatever
        version is there now could be spliced with ranges of another.

        Raises:
            IntegrityError: If the file is no longer at ``state`` (changed or deleted since).
            NotImplementedError: If the backend cannot pin a version.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot read parts of one version of {location.url}: "
            "download it instead"
        )

    @abstractmethod
    def delete(self, location: Location) -> None:
        """Delete the file and any metadata kept beside it.

        Raises:
            NotFoundError: If there is no file at ``location``.
        """

    @abstractmethod
    def list(
        self, location: Location, *, recursive: bool = True, known: Known | None = None
    ) -> list[Listed]:
        """Every data file under the directory or prefix ``location``, with its state and
        metadata, in as few requests as the backend allows; metadata files are skipped.

        Args:
            location: The directory or prefix.
            recursive: Include files in subdirectories.
            known: States already known (from a manifest) by URL, each with the listing
                version it was known at. A file whose listing version is unchanged keeps
                its known state, with no request for its metadata; any other is read afresh.

        Returns:
            ``(location, state, listing version)`` for each file. The listing version changes
            whenever the file's content or metadata changes, and is computed from the listing
            alone.

        Raises:
            NotFoundError: If there is no such directory, prefix or bucket.
        """

    async def download_async(
        self,
        location: Location,
        state: ObjectState,
        target: str,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> None:
        """:meth:`download`, as a coroutine on the event loop of ``location``'s filesystem
        (only where :attr:`async_downloads`); ``callback`` is told the bytes as they come."""
        raise NotImplementedError(f"{type(self).__name__} downloads in a thread")

    def listing_version(self, location: Location, state: ObjectState) -> str | None:
        """The listing version :meth:`list` shows of the file at ``location`` while it is at
        ``state`` (one a write returned, say), if ``state`` alone tells it without a request;
        else None, and whoever records the state must have it read afresh next time.

        Here, None: a sidecar's listing version holds its modification time, which no write
        returns, and S3's cannot tell a change later in the same second (see ``list``).
        """
        return None

    def written_version(self, location: Location, state: ObjectState) -> str | None:
        """The version to give :meth:`list` as ``known`` for ``state``, which a write just
        returned, in the listing that follows the write, so that listing the file costs no
        request for its metadata: its :meth:`listing_version`, unless the backend completes
        it from that listing (S3: the LastModified that a write's response lacks)."""
        return self.listing_version(location, state)

    def metadata_location(self, location: Location, state: ObjectState) -> str:
        """Where the metadata of the file at ``location`` is kept, for people to read: here,
        the sidecar file's path or URL."""
        from octstore.backends.sidecar_files import sidecar_name

        return location.sibling(sidecar_name(location.name)).url

    def is_metadata_file(self, name: str) -> bool:
        """Whether a file of this name holds metadata rather than data (skipped in listings)."""
        from octstore.backends.sidecar_files import is_sidecar_name

        return is_sidecar_name(name)


def listing(
    location: Location, *, recursive: bool, listed: dict[str, dict[str, Any]] | None = None
) -> tuple[list[tuple[Location, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The data files under ``location`` with their fsspec infos (metadata files and octstore's
    temp files left out), and every listed info by path (metadata files included), fresh
    from the filesystem, or ``listed`` (infos by path) where a backend listed them itself.

    Raises:
        NotFoundError: If ``location`` is a local path that is not a directory. (A cloud
            prefix without objects is an empty listing.)
    """
    from octstore.backends.sidecar_files import is_sidecar_name
    from octstore.cache import is_temporary_name

    fs = location.fs
    with translate_errors(location.url, "listing"):
        fs.invalidate_cache(location.fs_path)
        if listed is not None:
            infos = listed
        elif recursive:
            infos = fs.find(location.fs_path, detail=True, withdirs=False)
        else:
            infos = {info["name"]: info for info in fs.ls(location.fs_path, detail=True)}
        # Local symbolic links: one to a file is that file; one to a directory is not
        # followed (it may lead out of the folder, or round in a circle).
        infos = {
            name: info
            for name, info in infos.items()
            if info["type"] == "file" or (info.get("islink") and os.path.isfile(name))
        }
        if location.is_local and not fs.isdir(location.fs_path):
            raise NotFoundError(f"{location.url} is not a directory: check the path")
    root = location.fs_path.rstrip("/")
    files = [
        (location.listed(name), info)
        for name, info in sorted(infos.items())
        if not is_sidecar_name(posixpath.basename(name))
        and not any(map(is_temporary_name, name[len(root) :].split("/")))
    ]
    return files, infos


_instances: dict[str, MetadataBackend] = {}


def backend_for(location: Location) -> MetadataBackend:
    """The backend that keeps metadata for ``location``'s protocol (its entry in
    :data:`octstore.protocols.REGISTRY`; sidecar files for a protocol it does not list)."""
    target = lookup(location.protocol).backend
    backend = _instances.get(target)
    if backend is None:
        module_name, class_name = target.split(":")
        backend = getattr(importlib.import_module(module_name), class_name)()
        _instances[target] = backend
    return backend
