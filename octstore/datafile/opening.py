"""Opening a datafile's content: modes, reading through the cache (or, for HDF5, in parts),
and writing to a temporary copy that replaces the content, with the metadata, in one step."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from octstore import cache
from octstore.backends import ObjectState
from octstore.datafile import basis, copies, hdf5, linked, names
from octstore.datafile.openfile import OpenFile
from octstore.datafile.ranges import VersionFile
from octstore.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    InvalidModeError,
    NotFoundError,
    NotWrittenError,
    OctstoreError,
)
from octstore.hashing import crc32c_file
from octstore.location import translate_errors
from octstore.metadata import check_document_size

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


VALID_MODES = (
    "r, rb, w, wb, a, ab, x, xb, r+, r+b, w+, w+b, a+, a+b, x+, x+b (t for text is implied)"
)


def parse_mode(mode: str, url: str) -> tuple[str, bool]:
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
        raise InvalidModeError(f"mode {mode!r} is invalid for {url}: use one of {VALID_MODES}")
    return kinds[0], kinds[0] != "r" or "+" in mode


@dataclass
class PendingWrite:
    """A write in progress: the temporary copy, and the state write-back must still find."""

    temporary: str
    if_matches: ObjectState | None
    copied: bool = False  # it starts with the current content (r+, a), not empty
    submitted: bool = False  # the write-back was attempted: the copy must then survive


def open_content(datafile: Datafile, mode: str, download: bool, **kwargs: Any) -> OpenFile:
    """The content opened in ``mode``: see ``Datafile.open``."""
    is_hdf5 = hdf5.is_hdf5(datafile.name, mode)
    if is_hdf5:
        kind, writes = hdf5.parse_mode(mode, datafile.path, kwargs)
    else:
        kind, writes = parse_mode(mode, datafile.path)
    if writes:
        opening = writing(datafile, mode, kind, is_hdf5, **kwargs)
    else:
        opening = reading(datafile, mode, is_hdf5, download, **kwargs)
    return OpenFile(opening, datafile.path, writes=writes)


@contextlib.contextmanager
def reading(
    datafile: Datafile, mode: str, is_hdf5: bool, download: bool, **kwargs: Any
) -> Iterator[Any]:
    """The content, read; metadata changed meanwhile is stored on a clean exit."""
    before = datafile._metadata.model_copy(deep=True)
    if is_hdf5:
        opened = open_hdf5_for_reading(datafile, download, **kwargs)
    else:
        opened = open_for_reading(datafile, mode, **kwargs)
    with opened as file:
        yield file
    if datafile._metadata != before:
        datafile.update_metadata()


@contextlib.contextmanager
def writing(
    datafile: Datafile, mode: str, kind: str, is_hdf5: bool, **kwargs: Any
) -> Iterator[Any]:
    """A temporary copy to write to, which replaces the content on a clean exit."""
    with writable_copy(datafile, kind) as pending:
        if is_hdf5:
            local_mode = "r+" if pending.copied else "w"
            opened = hdf5.open_file(pending.temporary, local_mode, datafile.path, **kwargs)
        else:
            opened = open(pending.temporary, mode.replace("x", "w"), **kwargs)  # noqa: SIM115
        with opened as file:
            yield file
        write_back(datafile, pending)
    linked.after_write(datafile)


@contextlib.contextmanager
def open_for_reading(datafile: Datafile, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
    if not datafile._location.is_local:
        state = datafile._current()
        with cache.open_entry(
            datafile._location,
            state,
            datafile._backend.download,
            mode,
            offline=datafile._offline,
            **kwargs,
        ) as file:
            yield file
        return
    with translate_errors(datafile.path, "opening"):
        file = open(datafile.local_path, mode, **kwargs)  # noqa: SIM115
    with file:
        yield file


@contextlib.contextmanager
def open_hdf5_for_reading(datafile: Datafile, download: bool, **kwargs: Any) -> Iterator[Any]:
    """An ``h5py.File`` reading the content: a remote version in parts where the backend
    can pin one, unless a local copy is cached or asked for."""
    if datafile._location.is_local:
        with hdf5.open_file(datafile._location.url, "r", datafile.path, **kwargs) as file:
            yield file
        return
    state = datafile._current()
    backend = datafile._backend
    if (
        download
        or datafile._offline
        or not backend.reads_version_ranges
        or cache.is_cached(datafile._location, state)
    ):
        with (
            cache.open_entry(
                datafile._location, state, backend.download, "rb", offline=datafile._offline
            ) as entry,
            hdf5.open_file(entry.name, "r", datafile.path, **kwargs) as file,
        ):
            yield file
        return
    with (
        VersionFile(datafile._location, state, backend.read_range) as stream,
        hdf5.open_file(stream, "r", datafile.path, **kwargs) as file,
    ):
        yield file


@contextlib.contextmanager
def writable_copy(datafile: Datafile, kind: str) -> Iterator[PendingWrite]:
    """A temporary file to write to, with the state the write-back must still find.

    The temporary file is removed if the block fails, and kept if the write-back was
    attempted and failed: then the user's content exists nowhere else.
    """
    copies.refuse_offline_write(datafile)
    names.check_writable(datafile._location)
    if datafile._location.is_read_only:
        raise AccessDeniedError(
            f"{datafile.path} is read-only ({datafile._location.protocol}://): write to a local "
            "path or a writable URL instead"
        )
    try:
        current: ObjectState | None = datafile._current()
    except NotFoundError:
        current = None
        if kind == "r":
            raise
    if kind == "x" and current is not None:
        raise AlreadyExistsError(
            f"{datafile.path} already exists: open it with 'w' to replace it or 'a' to append"
        )
    try:
        temporary = temporary_path(datafile)
    except OSError as error:
        raise unwritable(datafile, error) from error
    pending = PendingWrite(temporary, current)
    try:
        if kind in "ra" and current is not None:
            local = datafile._location.is_local
            source = datafile._location.url if local else datafile._fetch(current)
            shutil.copyfile(source, temporary)
            pending.copied = True
        if datafile._location.is_local and current is not None:
            shutil.copymode(datafile._location.url, temporary)
        yield pending
    except BaseException as error:
        if not pending.submitted:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
            if cache.is_disk_full(error):
                raise unwritable(datafile, error) from error
        raise


def unwritable(datafile: Datafile, error: BaseException) -> OctstoreError:
    """The error for a destination that is full or cannot be written: it names the
    datafile, never a temp file, and the way out."""
    where = datafile._location.parent if datafile._location.is_local else str(cache.cache_root())
    reason = getattr(error, "strerror", None) or type(error).__name__
    if cache.is_disk_full(error):
        return NotWrittenError(
            f"{datafile.path} was not written: the disk holding {where} is full ({reason}); "
            "nothing changed: free space there, or write elsewhere",
            path=datafile.path,
        )
    return AccessDeniedError(
        f"{datafile.path} cannot be written: {where} is read-only or not writable ({reason}); "
        "nothing changed: write elsewhere, or make it writable"
    )


def temporary_path(datafile: Datafile) -> str:
    if not datafile._location.is_local:
        return cache.staging_path(datafile.name)
    real = os.path.realpath(datafile._location.url)  # a link's target is what is written
    os.makedirs(os.path.dirname(real), exist_ok=True)
    return cache.temporary_path_beside(real)


def write_back(datafile: Datafile, pending: PendingWrite) -> None:
    """Replace the content with the temporary copy's, with the metadata, in one step.

    Raises:
        NotWrittenError: If it could not be written (a ``ConflictError`` if the file
            changed meanwhile); the content is kept at the path the error names.
    """
    pending.submitted = True
    try:
        check_document_size(datafile._metadata, datafile.path)
        state = datafile._backend.put(
            datafile._location,
            pending.temporary,
            basis.changes(datafile),
            crc32c=crc32c_file(pending.temporary),
            if_matches=pending.if_matches,
            if_absent=pending.if_matches is None,
        )
    except NotWrittenError as error:
        if error.kept_at is not None or not os.path.exists(pending.temporary):
            raise
        raise type(error)(
            f"{error}; your content is kept at {pending.temporary}",
            path=datafile.path,
            kept_at=pending.temporary,
        ) from error
    except Exception as error:
        raise NotWrittenError(
            f"{datafile.path} was not written ({error}); your content is kept at "
            f"{pending.temporary}: write it again",
            path=datafile.path,
            kept_at=pending.temporary,
        ) from error
    basis.adopt(datafile, state)
    datafile._state_is_fresh = True  # the version just written
    if datafile._location.is_local or not os.path.exists(pending.temporary):
        return
    if datafile._backend.versioned_writes:
        cache.keep(datafile._location, state, pending.temporary)
    else:  # the version is not known for sure: do not file these bytes under it
        os.remove(pending.temporary)
