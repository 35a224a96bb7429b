"""``Datafile``: one file, local or remote, with lazy content and searchable metadata.

Examples:
    >>> import tempfile, os
    >>> from octstore import Datafile
    >>> path = os.path.join(tempfile.mkdtemp(), "readings.csv")
    >>> df = Datafile(path, labels=["raw"], tags={"site": "north"})
    >>> with df.open("w") as f:
    ...     _ = f.write("speed\\n4.2\\n")
    >>> Datafile(path).tags
    TagDict({'site': 'north'})
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import MetadataBackend, ObjectState, backend_for
from octstore.datafile import basis, conversions, copies, linked, names, uploading
from octstore.datafile.content import ContentAccess
from octstore.datafile.octue import OctueNames, either
from octstore.errors import NotFoundError
from octstore.location import Location, translate_errors
from octstore.metadata import LabelSet, Metadata, TagDict, check_document_size
from octstore.metadata.holder import MetadataHolder
from octstore.path_objects import PathArgument
from octstore.redaction import redact

__all__ = ["Datafile"]


class Datafile(MetadataHolder, ContentAccess, conversions.Conversions, OctueNames):
    """A file at a local path or any fsspec URL, with labels, tags, a timestamp and an id.

    Args:
        path: A local path or a URL (``s3://bucket/key``, ``gs://bucket/key``,
            ``memory://dir/name``, ...).
        labels: Labels to use where none are stored.
        tags: Tags to use where none are stored.
        timestamp: A timestamp to use where none is stored (naive means UTC).
        id: An id to use where none is stored; a stored id never changes.
        storage_options: Arguments for the fsspec filesystem (credentials, endpoint_url, ...).
        ignore_stored_metadata: Use the arguments instead of the stored labels, tags and
            timestamp (the stored id is kept: ids are immutable).
        offline: Make no requests for a remote file: trust what the cache holds (its newest
            version and metadata). By default, whether ``OCTSTORE_OFFLINE`` is set to 1.
        mode: The mode ``with Datafile(path, mode="w") as (datafile, f):`` opens it in
            (octue's; by default ``"r"``).
        local_path: For a remote file, a local path to keep its content at (instead of the
            cache), as the ``local_path`` setter does.
        cloud_path: For a local file, the URL of its cloud copy, which ``upload()`` and
            ``update_cloud_metadata()`` then use (octue's: a local file's content is sent now).
        hypothetical: Read nothing stored now (octue's): the arguments are the metadata,
            and the first write adds all of it to what is stored then.

    Stored metadata is read once, here, with one metadata request and no content transfer.
    """

    __slots__ = basis.SLOTS  # what each holds: see basis
    _basis: Metadata | None
    _basis_read: bool
    _own_metadata: Metadata | None
    _mode: str
    _opened: contextlib.AbstractContextManager[Any] | None
    _linked: linked.Link | None

    def __init__(
        self,
        path: PathArgument,
        *,
        labels: LabelSet | set[str] | list[str] | str | None = None,
        tags: TagDict | dict[str, Any] | None = None,
        timestamp: datetime | str | float | None = None,
        id: str | None = None,
        storage_options: dict[str, Any] | None = None,
        ignore_stored_metadata: bool = False,
        offline: bool | None = None,
        mode: str = "r",
        local_path: str | os.PathLike[str] | None = None,
        cloud_path: str | None = None,
        hypothetical: bool = False,
    ) -> None:
        self._location = Location(path, storage_options)
        self._mode, self._opened, self._linked = mode, None, None
        self._offline = conversions.offline_by_default() if offline is None else offline
        given = Metadata.model_validate(
            {
                key: value
                for key, value in {
                    "labels": labels,
                    "tags": tags,
                    "timestamp": timestamp,
                    "id": id if id is not None else self._location.derived_id(),
                }.items()
                if value is not None
            }
        )
        self._state: ObjectState | None = None
        self._content_hash: tuple[str, str] | None = None
        # A state just read is the revalidation of the first content access that follows.
        self._state_is_fresh = True
        with contextlib.suppress(NotFoundError):
            self._state = None if hypothetical else self._stat()
        # The state the in-memory metadata was read from, where writes start from.
        self._metadata_basis = self._state
        stored = self._state.metadata if self._state else None
        self._metadata = basis.merge(stored, given, ignore_stored_metadata, id is not None)
        basis.set_basis(self, stored, read=not hypothetical)
        uploading.link(self, local_path=local_path, cloud_path=cloud_path)

    # --- where it is ----------------------------------------------------------------------

    @property
    def _backend(self) -> MetadataBackend:
        return backend_for(self._location)

    @property
    def path(self) -> str:
        """The canonical path: an absolute local path, or the full URL."""
        return self._location.url

    @property
    def name(self) -> str:
        """The file name, without directories."""
        return self._location.name

    @property
    def extension(self) -> str:
        """The file name's extension without the dot (``"csv"``), or ``""``."""
        return os.path.splitext(self.name)[1].lstrip(".")

    @property
    def cloud_path(self) -> str | None:
        """The URL of a remote file; for a local one, the URL of its cloud copy (given as
        ``cloud_path=`` or uploaded to), or None. Setting it uploads there (octue's)."""
        return linked.cloud_path(self)

    @cloud_path.setter
    def cloud_path(self, url: str | None) -> None:
        linked.set_cloud_path(self, url)

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec storage options this datafile was made with."""
        return dict(self._location.storage_options)

    def _stat(self) -> ObjectState:
        """The stored state: one metadata request, or, offline, what the cache recorded."""
        return copies.stored_state(self)

    def _refresh(self) -> ObjectState:
        """Re-read the stored state (see ``_stat``), keeping the in-memory metadata."""
        self._state = self._stat()
        return self._state

    def _current(self) -> ObjectState:
        """The state a content access acts on: the one just read, if no access used it yet
        (so ``Datafile(url).open()`` costs one metadata request), else a fresh one."""
        if self._state is not None and self._state_is_fresh:
            self._state_is_fresh = False
            return self._state
        return self._refresh()

    def _fetch(self, state: ObjectState, callback: Callback = DEFAULT_CALLBACK) -> str:
        """The cached content at ``state``, downloaded through the backend if needed."""
        return copies.fetch(self, state, callback)

    @property
    def local_path(self) -> str:
        """A local path with the content; a remote file is downloaded into the cache first
        (or into the local copy it was given, which the user's edits are never lost from).

        An unchanged remote file is served from the cache after one metadata request.
        """
        if self._location.is_local:
            return self._location.url
        return linked.local_copy(self) or self._fetch(self._current())

    @local_path.setter
    def local_path(self, path: str | os.PathLike[str] | None) -> None:
        linked.set_local_path(self, path)

    def __fspath__(self) -> str:
        return self.local_path

    @property
    def exists_locally(self) -> bool:
        """Whether the content is on local disk (a local file, a remote one's local copy, or
        a cached remote one)."""
        return linked.exists_locally(self)

    @property
    def exists_in_cloud(self) -> bool:
        """Whether a remote file exists (one metadata request); for a local file, whether its
        cloud copy (``cloud_path``) does."""
        try:
            if self._location.is_local:
                return linked.cloud_copy_exists(self)
            self._refresh()
        except NotFoundError:
            self._state = None
            return False
        return True

    @property
    def size(self) -> int:
        """The content's size in bytes, without download: a local file's read afresh, a
        remote file's known since it was last read or written (no request)."""
        if self._location.is_local:
            with translate_errors(self.path, "reading the size of"):
                return os.stat(self._location.url).st_size
        return (self._state or self._refresh()).size

    # --- metadata -------------------------------------------------------------------------

    @property
    def _metadata(self) -> Metadata:
        """The in-memory metadata: made on first use, from the stored metadata (see basis)."""
        if self._own_metadata is None:
            self._own_metadata = basis.own_metadata(self)
        return self._own_metadata

    @_metadata.setter
    def _metadata(self, metadata: Metadata) -> None:
        self._own_metadata = metadata

    @property
    def timestamp(self) -> datetime | None:
        """A timezone-aware timestamp (UTC), or None."""
        return self._metadata.timestamp

    @timestamp.setter
    def timestamp(self, value: datetime | str | float | None) -> None:
        self._metadata.timestamp = value  # type: ignore[assignment]  # validated by pydantic

    @property
    def metadata_location(self) -> str | None:
        """Where the metadata is stored, for people to read: the sidecar file's path or URL,
        or the cloud object's own metadata (and its sidecar object, if it spilled there);
        None while none is stored (the id, labels and tags are then this object's only)."""
        state = self._state or self._refresh()
        if state.metadata is None:
            return None
        return self._backend.metadata_location(self._location, state)

    def metadata(self) -> Metadata:
        """A copy of the datafile's metadata."""
        return self._metadata.model_copy(deep=True)

    @property
    def metadata_hash_value(self) -> str:
        """The CRC32C of the canonical JSON of labels, tags and timestamp."""
        return self._metadata.metadata_hash_value

    @property
    def hash_value(self) -> str:
        """The content's CRC32C (GCS encoding): from the backend if it knows it, else streamed."""
        return copies.content_hash(self)

    def update_metadata(self) -> None:
        """Store the changes to labels, tags and timestamp without transferring content.

        What changed since the metadata was read (labels added and removed, tags set and
        removed, the timestamp) is applied to the metadata stored now, so changes that
        another process made meanwhile are kept, and appear here afterwards. With nothing
        changed and metadata already stored, nothing is written.

        Raises:
            NotFoundError: If the file does not exist yet (write it first).
            ConflictError: If another writer kept the file locked for too long.
        """
        copies.refuse_offline_write(self)
        names.check_writable(self._location)
        changes = basis.changes(self)
        if basis.nothing_to_store(self, changes):
            return
        check_document_size(self._metadata, self.path)
        basis.adopt(
            self,
            self._backend.write_metadata(self._location, changes, if_matches=self._metadata_basis),
        )

    # --- content --------------------------------------------------------------------------

    def download(
        self,
        local_path: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> str:
        """Download the content; return the local path it is at.

        A copy is made from the cache (in the kernel where it can): content already
        downloaded is never transferred again.

        Args:
            local_path: Where to put a copy (a file, or a directory to put it in by name);
                by default the file stays in the cache (remote) or where it is (local).
            overwrite: Replace a file at ``local_path`` with other content (the same content
                there is left as it is).
            callback: An fsspec callback (``TqdmCallback()``): the size, then the bytes.

        Raises:
            AlreadyExistsError: If a file with other content is at ``local_path`` and
                ``overwrite`` is False.
        """
        return copies.download(self, local_path, overwrite=overwrite, callback=callback)

    def upload(
        self,
        cloud_path: PathArgument | None = None,
        *,
        update_metadata: bool = True,
        callback: Callback = DEFAULT_CALLBACK,
        storage_options: dict[str, Any] | None = None,
        update_cloud_metadata: bool | None = None,
    ) -> str:
        """Copy the content, and the metadata, to ``cloud_path`` in one request where possible.

        Args:
            cloud_path: The URL to upload to. Required for local files.
            update_metadata: Store this datafile's metadata there; if False, the destination
                keeps the metadata it has (or gets only this datafile's id).
            callback: An fsspec callback, told the file's size, then its bytes as they are sent.
            storage_options: Storage options for the destination (default: this one's).
            update_cloud_metadata: octue's name for ``update_metadata``.

        Returns:
            The destination URL.
        """
        keep = either(
            "update_metadata", update_metadata, True, "update_cloud_metadata", update_cloud_metadata
        )
        return uploading.upload(self, cloud_path, keep, callback, storage_options)

    def delete(self) -> None:
        """Delete the content and its metadata.

        Raises:
            NotFoundError: If there is nothing to delete.
        """
        self._backend.delete(self._location)
        self._state = self._metadata_basis = None
        basis.set_basis(self, None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Datafile):
            return NotImplemented
        return self.path == other.path and self._metadata == other._metadata

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return redact(f"<Datafile({self.name!r})>")  # octue's; str() is the path

    def __str__(self) -> str:
        return redact(self.path)
