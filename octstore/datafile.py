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
import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from octstore import cache, hdf5, names
from octstore.backends import MetadataBackend, ObjectState, backend_for
from octstore.changes import MetadataChanges
from octstore.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    InvalidMetadataError,
    InvalidModeError,
    NotFoundError,
    NotWrittenError,
    OctstoreError,
    UnsafePathError,
)
from octstore.hashing import crc32c_file, crc32c_stream
from octstore.location import Location, relative_path, translate_errors
from octstore.metadata import LabelSet, Metadata, TagDict, check_document_size
from octstore.ranges import VersionFile
from octstore.redaction import redact
from octstore.state import local_version_token

__all__ = ["Datafile"]

_VALID_MODES = (
    "r, rb, w, wb, a, ab, x, xb, r+, r+b, w+, w+b, a+, a+b, x+, x+b (t for text is implied)"
)


def _parse_mode(mode: str, url: str) -> tuple[str, bool]:
    """The mode's kind (one of ``rwax``) and whether it writes, or InvalidModeError."""
    kinds = [char for char in mode if char in "rwax"]
    valid = (
        isinstance(mode, str)
        and len(kinds) == 1
        and len(set(mode)) == len(mode)
        and set(mode) <= set("rwaxbt+")
        and not {"b", "t"} <= set(mode)
    )
    if not valid:
        raise InvalidModeError(f"mode {mode!r} is invalid for {url}: use one of {_VALID_MODES}")
    return kinds[0], kinds[0] != "r" or "+" in mode


@dataclass
class _PendingWrite:
    """A write in progress: the temporary copy, and the state write-back must still find."""

    temporary: str
    if_matches: ObjectState | None
    copied: bool = False  # it starts with the current content (r+, a), not empty
    submitted: bool = False  # the write-back was attempted: the copy must then survive


def _offline_by_default() -> bool:
    return os.environ.get("OCTSTORE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class Datafile:
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

    Stored metadata is read once, here, with one metadata request and no content transfer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        labels: LabelSet | set[str] | list[str] | str | None = None,
        tags: TagDict | dict[str, Any] | None = None,
        timestamp: datetime | str | float | None = None,
        id: str | None = None,
        storage_options: dict[str, Any] | None = None,
        ignore_stored_metadata: bool = False,
        offline: bool | None = None,
    ) -> None:
        self._location = Location(path, storage_options)
        self._offline = _offline_by_default() if offline is None else offline
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
            self._state = self._stat()
        # The state the in-memory metadata was read from, where writes start from.
        self._metadata_basis = self._state
        stored = self._state.metadata if self._state else None
        self._metadata = self._merge(stored, given, ignore_stored_metadata, id is not None)
        self._set_basis(stored)

    @staticmethod
    def _merge(
        stored: Metadata | None, given: Metadata, ignore_stored: bool, id_given: bool
    ) -> Metadata:
        if stored is None:
            return given
        if id_given and given.id != stored.id:
            raise InvalidMetadataError(
                f"id {str(given.id)!r} differs from the stored id {str(stored.id)!r}: ids are "
                "immutable once stored; leave id out to use the stored one"
            )
        if ignore_stored:
            return given.model_copy(update={"id": stored.id})
        return Metadata(
            id=stored.id,
            timestamp=stored.timestamp if stored.timestamp is not None else given.timestamp,
            labels=stored.labels or given.labels,
            tags=stored.tags or given.tags,
        )

    @classmethod
    def _assemble(
        cls, location: Location, metadata: Metadata | None, state: ObjectState | None
    ) -> Datafile:
        """A datafile from parts already known (a dict, a listing), with no request; with no
        ``metadata``, it has the id derived from its location and nothing else."""
        datafile = cls.__new__(cls)
        datafile._location = location
        datafile._offline = _offline_by_default()
        datafile._metadata = (
            metadata if metadata is not None else Metadata(id=location.derived_id())
        )
        datafile._state = datafile._metadata_basis = state
        if state is not None:
            datafile._set_basis(state.metadata)
        else:  # what is stored was not read: the user's changes are to this metadata
            datafile._basis = metadata.model_copy(deep=True) if metadata is not None else None
            datafile._basis_read = False
        datafile._state_is_fresh = state is not None
        datafile._content_hash = None
        return datafile

    def _set_basis(self, stored: Metadata | None) -> None:
        """Remember ``stored`` (None: nothing), just read or written, as the metadata the
        user's changes are to."""
        self._basis = stored.model_copy(deep=True) if stored is not None else None
        self._basis_read = True

    def _changes(self) -> MetadataChanges:
        """What the user changed since the metadata was read, for a write to apply to what
        is stored then (where nothing is, the datafile's whole metadata is stored)."""
        return MetadataChanges.between(self._basis, self._metadata)

    def _adopt(self, state: ObjectState) -> None:
        """After a write: ``state`` is current, and its metadata (the user's changes applied
        to what was stored) is the datafile's, updated in place."""
        self._state = self._metadata_basis = state
        stored = state.metadata
        if stored is not None and stored != self._metadata:
            metadata = self._metadata
            metadata.id = stored.id
            metadata.timestamp = stored.timestamp
            metadata.labels.intersection_update(stored.labels)
            metadata.labels.update(stored.labels)
            for name in metadata.tags.keys() - stored.tags.keys():
                del metadata.tags[name]
            metadata.tags.update(stored.tags)
        self._set_basis(stored)

    def _store_id(self, id: uuid.UUID) -> None:
        """Store ``id`` as the file's id, replacing a stored one, with the user's other
        changes: only for the id its copy at an upload's destination has, which wins."""
        changes = dataclasses.replace(self._changes(), id=id, sets_id=True)
        self._adopt(
            self._backend.write_metadata(self._location, changes, if_matches=self._metadata_basis)
        )

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
        """The URL for a remote file, None for a local one."""
        return None if self._location.is_local else self._location.url

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec storage options this datafile was made with."""
        return dict(self._location.storage_options)

    def _stat(self) -> ObjectState:
        """The stored state: one metadata request, or, offline, what the cache recorded."""
        if not (self._offline and not self._location.is_local):
            return self._backend.stat(self._location)
        state = cache.lookup(self._location)
        if state is None:
            raise NotFoundError(
                f"{self.path} is not in the cache, and offline mode makes no requests: read "
                "it once online, or unset OCTSTORE_OFFLINE"
            )
        return state

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

    def _fetch(self, state: ObjectState) -> str:
        """The cached content at ``state``, downloaded through the backend if needed."""
        return cache.fetch(self._location, state, self._backend.download, offline=self._offline)

    def _refuse_offline_write(self) -> None:
        if self._offline and not self._location.is_local:
            raise OctstoreError(
                f"{self.path} cannot be written in offline mode: unset OCTSTORE_OFFLINE or "
                "pass offline=False"
            )

    @property
    def local_path(self) -> str:
        """A local path with the content; a remote file is downloaded into the cache first.

        An unchanged remote file is served from the cache after one metadata request.
        """
        if self._location.is_local:
            return self._location.url
        return self._fetch(self._current())

    def __fspath__(self) -> str:
        return self.local_path

    @property
    def exists_locally(self) -> bool:
        """Whether the content is on local disk (a local file, or a cached remote one)."""
        if self._location.is_local:
            return os.path.isfile(self._location.url)
        state = self._state
        return state is not None and cache.is_cached(self._location, state)

    @property
    def exists_in_cloud(self) -> bool:
        """Whether a remote file exists (one metadata request); always False for local files."""
        if self._location.is_local:
            return False
        try:
            self._refresh()
        except NotFoundError:
            self._state = None
            return False
        return True

    @property
    def size(self) -> int:
        """The content's size in bytes, without download.

        A local file's size is read afresh; a remote file's is the one known since it was
        last read or written (no request, so filtering many files stays cheap).
        """
        if self._location.is_local:
            with translate_errors(self.path, "reading the size of"):
                return os.stat(self._location.url).st_size
        return (self._state or self._refresh()).size

    # --- metadata -------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The datafile's UUID, as a string; immutable once stored."""
        return str(self._metadata.id)

    @property
    def labels(self) -> LabelSet:
        """The labels; changes are checked at once and stored by ``update_metadata()``."""
        return self._metadata.labels

    @labels.setter
    def labels(self, value: LabelSet | set[str] | list[str] | str | None) -> None:
        self._metadata.labels = LabelSet(value)

    @property
    def tags(self) -> TagDict:
        """The tags; changes are checked at once and stored by ``update_metadata()``."""
        return self._metadata.tags

    @tags.setter
    def tags(self, value: TagDict | dict[str, Any] | None) -> None:
        self._metadata.tags = TagDict(value)

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
        if self._location.is_local:
            with translate_errors(self.path, "hashing"):
                stat = os.stat(self._location.url)
            token = local_version_token(stat)
            if self._content_hash is None or self._content_hash[0] != token:
                self._content_hash = (token, crc32c_file(self._location.url))
            return self._content_hash[1]
        state = self._state or self._refresh()
        if state.crc32c is not None:
            return state.crc32c
        if self._content_hash is None or self._content_hash[0] != state.version_token:
            if cache.is_cached(self._location, state):
                value = crc32c_file(self._fetch(state))
            else:
                with (
                    translate_errors(self.path, "hashing"),
                    self._location.fs.open(self._location.fs_path, "rb") as stream,
                ):
                    value = crc32c_stream(stream)
            self._content_hash = (state.version_token, value)
        return self._content_hash[1]

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
        self._refuse_offline_write()
        names.check_writable(self._location)
        changes = self._changes()
        if changes.is_empty and self._basis_read and self._basis is not None:
            return
        check_document_size(self._metadata, self.path)
        self._adopt(
            self._backend.write_metadata(self._location, changes, if_matches=self._metadata_basis)
        )

    # --- content --------------------------------------------------------------------------

    @contextlib.contextmanager
    def open(self, mode: str = "r", *, download: bool = False, **kwargs: Any) -> Iterator[Any]:
        """Open the content like the builtin ``open``, as a context manager.

        Reading a remote file downloads it into the cache first (once per version). Writing
        goes to a temporary copy; on a clean exit the copy replaces the content in one step,
        with the metadata, and only if the file did not change meanwhile. If the block
        raises, nothing is written anywhere. Metadata changed inside the block is stored on
        a clean exit in every mode.

        HDF5 files (``.h5``, ``.hdf5``) open as an ``h5py.File`` in h5py's modes (``r``,
        ``r+``, ``w``, ``w-``/``x``, ``a``; extra ``hdf5``). Reading one from S3 or GCS
        fetches only the parts h5py reads, unless a copy is cached or ``download`` is set:
        see :mod:`octstore.hdf5`. Binary modes give any file's raw bytes.

        Args:
            mode: A builtin mode: ``r``, ``w``, ``a``, ``x``, with ``b``/``t`` and ``+``; for
                HDF5 files, h5py's.
            download: Read a remote HDF5 file from a local copy, downloaded into the cache,
                rather than in parts. (Other files are always read from a local copy.)
            **kwargs: Passed to the builtin ``open`` (``encoding``, ``newline``, ...), or to
                ``h5py.File``.

        Raises:
            InvalidModeError: For a mode the builtin (or h5py) would refuse.
            NotFoundError: When reading (``r``, ``r+``) a file that does not exist.
            AlreadyExistsError: For ``x`` modes when the file exists.
            ConflictError: When the remote file changed since it was read; your content is
                kept and the error says where.
            IntegrityError: When a remote HDF5 file read in parts changed meanwhile.
        """
        is_hdf5 = hdf5.is_hdf5(self.name, mode)
        if is_hdf5:
            kind, writes = hdf5.parse_mode(mode, self.path, kwargs)
        else:
            kind, writes = _parse_mode(mode, self.path)
        before = self._metadata.model_copy(deep=True)
        if not writes:
            if is_hdf5:
                reading = self._open_hdf5_for_reading(download, **kwargs)
            else:
                reading = self._open_for_reading(mode, **kwargs)
            with reading as file:
                yield file
            if self._metadata != before:
                self.update_metadata()
            return
        with self._writable_copy(kind) as pending:
            if is_hdf5:
                local_mode = "r+" if pending.copied else "w"
                writing = hdf5.open_file(pending.temporary, local_mode, self.path, **kwargs)
            else:
                writing = open(pending.temporary, mode.replace("x", "w"), **kwargs)  # noqa: SIM115
            with writing as file:
                yield file
            self._write_back(pending)

    @contextlib.contextmanager
    def _open_for_reading(self, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
        if not self._location.is_local:
            state = self._current()
            with cache.open_entry(
                self._location, state, self._backend.download, mode, offline=self._offline, **kwargs
            ) as file:
                yield file
            return
        with translate_errors(self.path, "opening"):
            file = open(self.local_path, mode, **kwargs)  # noqa: SIM115
        with file:
            yield file

    @contextlib.contextmanager
    def _open_hdf5_for_reading(self, download: bool, **kwargs: Any) -> Iterator[Any]:
        """An ``h5py.File`` reading the content: a remote version in parts where the backend
        can pin one, unless a local copy is cached or asked for."""
        if self._location.is_local:
            with hdf5.open_file(self._location.url, "r", self.path, **kwargs) as file:
                yield file
            return
        state = self._current()
        backend = self._backend
        if (
            download
            or self._offline
            or not backend.reads_version_ranges
            or cache.is_cached(self._location, state)
        ):
            with (
                cache.open_entry(
                    self._location, state, backend.download, "rb", offline=self._offline
                ) as entry,
                hdf5.open_file(entry.name, "r", self.path, **kwargs) as file,
            ):
                yield file
            return
        with (
            VersionFile(self._location, state, backend.read_range) as stream,
            hdf5.open_file(stream, "r", self.path, **kwargs) as file,
        ):
            yield file

    @contextlib.contextmanager
    def _writable_copy(self, kind: str) -> Iterator[_PendingWrite]:
        """A temporary file to write to, with the state the write-back must still find.

        The temporary file is removed if the block fails, and kept if the write-back was
        attempted and failed: then the user's content exists nowhere else.
        """
        self._refuse_offline_write()
        names.check_writable(self._location)
        if self._location.is_read_only:
            raise AccessDeniedError(
                f"{self.path} is read-only ({self._location.protocol}://): write to a local "
                "path or a writable URL instead"
            )
        try:
            current: ObjectState | None = self._current()
        except NotFoundError:
            current = None
            if kind == "r":
                raise
        if kind == "x" and current is not None:
            raise AlreadyExistsError(
                f"{self.path} already exists: open it with 'w' to replace it or 'a' to append"
            )
        try:
            temporary = self._temporary_path()
        except OSError as error:
            raise self._unwritable(error) from error
        pending = _PendingWrite(temporary, current)
        try:
            if kind in "ra" and current is not None:
                local = self._location.is_local
                source = self._location.url if local else self._fetch(current)
                shutil.copyfile(source, temporary)
                pending.copied = True
            if self._location.is_local and current is not None:
                shutil.copymode(self._location.url, temporary)
            yield pending
        except BaseException as error:
            if not pending.submitted:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(temporary)
                if cache.is_disk_full(error):
                    raise self._unwritable(error) from error
            raise

    def _unwritable(self, error: BaseException) -> OctstoreError:
        """The error for a destination that is full or cannot be written: it names the
        datafile, never a temp file, and the way out."""
        where = self._location.parent if self._location.is_local else str(cache.cache_root())
        reason = getattr(error, "strerror", None) or type(error).__name__
        if cache.is_disk_full(error):
            return NotWrittenError(
                f"{self.path} was not written: the disk holding {where} is full ({reason}); "
                "nothing changed: free space there, or write elsewhere",
                path=self.path,
            )
        return AccessDeniedError(
            f"{self.path} cannot be written: {where} is read-only or not writable ({reason}); "
            "nothing changed: write elsewhere, or make it writable"
        )

    def _temporary_path(self) -> str:
        if not self._location.is_local:
            return cache.staging_path(self.name)
        real = os.path.realpath(self._location.url)  # a link's target is what is written
        os.makedirs(os.path.dirname(real), exist_ok=True)
        return cache.temporary_path_beside(real)

    def _write_back(self, pending: _PendingWrite) -> None:
        """Replace the content with the temporary copy's, with the metadata, in one step.

        Raises:
            NotWrittenError: If it could not be written (a ``ConflictError`` if the file
                changed meanwhile); the content is kept at the path the error names.
        """
        pending.submitted = True
        try:
            check_document_size(self._metadata, self.path)
            state = self._backend.put(
                self._location,
                pending.temporary,
                self._changes(),
                crc32c=crc32c_file(pending.temporary),
                if_matches=pending.if_matches,
                if_absent=pending.if_matches is None,
            )
        except NotWrittenError as error:
            if error.kept_at is not None or not os.path.exists(pending.temporary):
                raise
            raise type(error)(
                f"{error}; your content is kept at {pending.temporary}",
                path=self.path,
                kept_at=pending.temporary,
            ) from error
        except Exception as error:
            raise NotWrittenError(
                f"{self.path} was not written ({error}); your content is kept at "
                f"{pending.temporary}: write it again",
                path=self.path,
                kept_at=pending.temporary,
            ) from error
        self._adopt(state)
        self._state_is_fresh = True  # the version just written
        if self._location.is_local or not os.path.exists(pending.temporary):
            return
        if self._backend.versioned_writes:
            cache.keep(self._location, state, pending.temporary)
        else:  # the version is not known for sure: do not file these bytes under it
            os.remove(pending.temporary)

    def download(
        self, local_path: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> str:
        """Download the content; return the local path it is at.

        A copy is made from the cache, in the kernel where the filesystem allows, so content
        already downloaded is never transferred again.

        Args:
            local_path: Where to put a copy (a file, or a directory to put it in by name);
                by default the file stays in the cache (remote) or where it is (local).
            overwrite: Replace a file at ``local_path`` whose content differs. Identical
                content already there is left as it is, with no copy and no duplicate.

        Raises:
            AlreadyExistsError: If a file with other content is at ``local_path`` and
                ``overwrite`` is False.
        """
        if local_path is not None and os.path.isdir(os.fspath(local_path)):
            self._name_inside_a_directory()  # before anything is downloaded
        source = self.local_path
        if local_path is None:
            return source
        target = os.path.abspath(os.fspath(local_path))
        if os.path.isdir(target):
            target = os.path.join(target, self._name_inside_a_directory())
        if os.path.isfile(target) and target != source:
            if os.path.getsize(target) == os.path.getsize(source) and (
                crc32c_file(target) == self.hash_value
            ):
                return target
            if not overwrite:
                raise AlreadyExistsError(
                    f"{target} exists with other content than {self.path}: pass "
                    "overwrite=True to replace it, or download to another path"
                )
        cache.copy_file(source, target)
        return target

    def _name_inside_a_directory(self) -> str:
        """The file's name, if it names a file inside a directory (not ``..``, ``~``, ...).

        Raises:
            UnsafePathError: If it does not; nothing was written.
        """
        try:
            return relative_path(self.name)
        except ValueError as error:
            raise UnsafePathError(
                f"{self.path} cannot be downloaded into a directory by its name "
                f"{self.name!r} ({str(error).split(': ', 1)[-1]}); nothing was written: give "
                "download() a file path instead",
                key=self.name,
            ) from None

    def upload(
        self, cloud_path: str | None = None, *, update_metadata: bool = True, **storage_options: Any
    ) -> str:
        """Copy the content, and the metadata, to ``cloud_path`` in one request where possible.

        Args:
            cloud_path: The URL to upload to. Required for local files.
            update_metadata: Store this datafile's metadata there; if False, the destination
                keeps the metadata it has (or gets only this datafile's id).
            **storage_options: Storage options for the destination (default: this
                datafile's).

        Returns:
            The destination URL.
        """
        if cloud_path is None:
            if self._location.is_local:
                raise OctstoreError(f"upload() of the local file {self.path} needs a cloud_path")
            if update_metadata:
                self.update_metadata()
            return self.path
        destination = Location(cloud_path, storage_options or self._location.storage_options)
        names.check_writable(destination)
        backend = backend_for(destination)
        metadata = self._metadata
        if not update_metadata:
            try:
                metadata = backend.stat(destination).metadata or Metadata(id=metadata.id)
            except NotFoundError:
                metadata = Metadata(id=metadata.id)
        source = self.local_path
        staged = cache.staging_path(self.name)
        try:
            shutil.copyfile(source, staged)  # the backend may consume its source
            backend.put(destination, staged, metadata, crc32c=self.hash_value)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
        return destination.url

    def delete(self) -> None:
        """Delete the content and its metadata.

        Raises:
            NotFoundError: If there is nothing to delete.
        """
        self._backend.delete(self._location)
        self._state = self._metadata_basis = None
        self._set_basis(None)

    # --- conversions ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description that ``from_dict`` turns back into an equal datafile.

        It never holds credentials: secret storage options (at any depth) and a URL's
        userinfo and signature are left out; give them again to ``from_dict``.
        """
        return {
            "path": redact(self.path, mask=None),
            **self._metadata.model_dump(mode="json"),
            "storage_options": redact(self._location.storage_options, mask=None),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], **storage_options: Any) -> Datafile:
        """The datafile ``to_dict`` described, without any request.

        Args:
            data: The output of ``to_dict``.
            **storage_options: Extra storage options, e.g. credentials ``to_dict`` left out.
        """
        location = Location(data["path"], {**data.get("storage_options", {}), **storage_options})
        metadata = Metadata.model_validate(
            {"id": location.derived_id()}
            | {key: data[key] for key in ("id", "timestamp", "labels", "tags") if key in data}
        )
        return cls._assemble(location, metadata, None)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "location": self._location,
            "metadata": self._metadata,
            "state": self._state,
            "metadata_basis": self._metadata_basis,
            "basis": self._basis,
            "basis_read": self._basis_read,
            "offline": self._offline,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._location = state["location"]
        self._metadata = state["metadata"]
        self._state = state["state"]
        self._metadata_basis = state["metadata_basis"]
        # (pickles of an octstore before metadata changes: the metadata is the basis)
        self._basis = state.get("basis", state["metadata"])
        self._basis_read = state.get("basis_read", False)
        self._offline = state["offline"]
        self._state_is_fresh = False
        self._content_hash = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Datafile):
            return NotImplemented
        return self.path == other.path and self._metadata == other._metadata

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return redact(f"<Datafile({self.path!r}) id={self.id!r} labels={sorted(self.labels)!r}>")
