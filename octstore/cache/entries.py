"""Cache entries filled and read: fetch a version once, verify it, keep written content, look
up the newest entry, and open an entry so that it cannot be evicted under a reader."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from octstore.errors import IntegrityError, NotFoundError, warn
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors
from octstore.redaction import get_logger
from octstore.state import ObjectState

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None
from octstore.cache.files import copy_file, temporary_path_beside
from octstore.cache.places import (
    CacheUnavailableError,
    _entry_directory,
    _unavailable,
    _url_index,
    cache_root,
    entry_path,
    is_disk_full,
    lock,
)
from octstore.cache.pruning import _evict_over_bound
from octstore.cache.records import _drop, _intact, _read_record, _record, _touch

#: Downloads a file's content at a state into a local file: a backend's ``download``.
Transfer = Callable[[Location, ObjectState, str], None]


_log = get_logger(__name__)


def fetch(
    location: Location, state: ObjectState, transfer: Transfer, *, offline: bool = False
) -> str:
    """The local path of ``location``'s content at ``state``, downloading it if not cached.

    Args:
        location: The file.
        state: The version wanted (just revalidated by the caller, or trusted offline).
        transfer: Downloads that version into a local file: the backend's ``download``.
        offline: Never download: a missing entry raises NotFoundError.

    Raises:
        IntegrityError: If the downloaded bytes do not match the backend's CRC32C (or, with
            no CRC32C, its size); nothing is cached then.
    """
    entry = entry_path(location, state.version_token)
    if _intact(entry, _read_record(_entry_directory(entry))):
        _touch(entry)
        _log.debug("cache hit: %s at %s", location.url, state.version_token)
        return str(entry)
    _log.debug("cache miss: %s at %s", location.url, state.version_token)
    if offline:
        raise NotFoundError(
            f"{location.url} is not in the cache, and offline mode makes no requests: read it "
            "once online, or unset OCTSTORE_OFFLINE"
        )
    with lock(str(entry)):
        if _intact(entry, _read_record(_entry_directory(entry))):  # downloaded meanwhile
            _touch(entry)
            return str(entry)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)  # under the lock: prune cannot race
            temporary = temporary_path_beside(str(entry))
        except OSError as error:
            raise _unavailable(location, error) from error
        try:
            download(location, state, temporary, transfer)
            verify(location, state, temporary)
            os.replace(temporary, entry)
            _record(entry, location, state)
        except OSError as error:
            if not is_disk_full(error):
                raise
            _drop(entry)
            raise _unavailable(location, error) from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
    _evict_over_bound(state.size)
    return str(entry)


def copy_out(location: Location, state: ObjectState, target: str, transfer: Transfer) -> None:
    """Put ``location``'s content at ``state`` into the local file ``target``, verified: copied
    from the cache if an entry holds it, else downloaded straight to ``target`` (not cached,
    so copying a large dataset out neither churns the cache nor doubles its disk use).

    Raises:
        IntegrityError: If the downloaded bytes do not match the state; ``target`` is removed.
    """
    if copy_cached(location, state, target):
        return
    try:
        download(location, state, target, transfer)
        verify(location, state, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)
        raise


def copy_cached(location: Location, state: ObjectState, target: str) -> bool:
    """Copy ``location``'s content at ``state`` into ``target`` if an intact cache entry holds
    it; whether one did."""
    entry = entry_path(location, state.version_token)
    if not _intact(entry, _read_record(_entry_directory(entry))):
        return False
    _touch(entry)
    copy_file(str(entry), target)
    return True


def download(location: Location, state: ObjectState, target: str, transfer: Transfer) -> None:
    """Transfer ``location``'s content at ``state`` to ``target``: the cache's only content GET."""
    transfer(location, state, target)


def verify(location: Location, state: ObjectState, path: str) -> None:
    """Check the downloaded ``path`` against ``state``: its CRC32C, else its size.

    Raises:
        IntegrityError: If it does not match.
    """
    if state.crc32c is not None:
        actual = crc32c_file(path)
        if actual != state.crc32c:
            raise IntegrityError(
                f"downloaded {location.url} but its CRC32C is {actual}, not {state.crc32c}: "
                "the transfer was corrupted or the file changed meanwhile; nothing was "
                "cached, try again"
            )
        return
    size = os.path.getsize(path)
    if size != state.size:
        raise IntegrityError(
            f"downloaded {location.url} but got {size} bytes, not {state.size}: it changed "
            "while it was downloaded; nothing was cached, try again"
        )


def keep(location: Location, state: ObjectState, source: str) -> str | None:
    """Move the local file ``source``, known to hold ``state``'s content, into the cache;
    return the entry, or None if the cache could not keep it.

    It is called after the content was written, so it never fails the caller: if the cache
    cannot be written or its disk is full, ``source`` is removed, nothing half-made is left,
    and an :class:`OctstoreWarning` says so (the next read downloads the content).
    """
    entry = entry_path(location, state.version_token)
    try:
        with lock(str(entry)):
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, entry)
            except OSError:  # source on another filesystem
                copy_file(source, str(entry))
                os.remove(source)
            _record(entry, location, state)
    except OSError as error:
        _drop(entry)
        with contextlib.suppress(FileNotFoundError):
            os.remove(source)
        warn(
            f"{location.url} was written, but the octstore cache {cache_root()} could not keep "
            f"a copy ({error.strerror or type(error).__name__}), so the next read downloads it: "
            "free space there, or set OCTSTORE_CACHE_DIR to a writable directory",
            stacklevel=4,
        )
        return None
    _evict_over_bound(state.size)
    return str(entry)


def lookup(location: Location) -> ObjectState | None:
    """The state of ``location``'s newest intact entry, without any request; None if none.

    This is what offline mode trusts.
    """
    try:
        parts = Path(json.loads(_url_index(location).read_bytes())["entry"]).parts
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    # objects/<h[:2]>/<h>/data/<name>, and nowhere else
    if len(parts) != 5 or parts[0] != "objects" or parts[3] != "data" or ".." in parts:
        return None
    entry = cache_root().joinpath(*parts)
    record = _read_record(_entry_directory(entry))
    if record is None or record["url"] != location.url or not _intact(entry, record):
        return None
    try:
        return ObjectState.from_json(record["state"])
    except (ValueError, TypeError, KeyError):
        return None


def is_cached(location: Location, state: ObjectState) -> bool:
    """Whether an intact entry holds ``location``'s content at ``state``."""
    entry = entry_path(location, state.version_token)
    return _intact(entry, _read_record(_entry_directory(entry)))


@contextlib.contextmanager
def open_entry(
    location: Location,
    state: ObjectState,
    transfer: Transfer,
    mode: str,
    *,
    offline: bool = False,
    **kwargs: Any,
) -> Iterator[IO[Any]]:
    """Open ``location``'s cached content read-only, fetching it first if needed.

    While the file is open, the entry is held with a shared lock, so eviction passes it by.
    """
    for attempt in (1, 2):
        try:
            path = fetch(location, state, transfer, offline=offline)
        except CacheUnavailableError as error:
            warn(f"reading it uncached: {error}", stacklevel=4)
            with _uncached(location, state, transfer) as path, open(path, mode, **kwargs) as file:
                yield file
            return
        try:
            file = open(path, mode, **kwargs)  # noqa: SIM115
        except FileNotFoundError:  # evicted between fetch and open: fetch again, once
            if attempt == 2:
                raise
            continue
        with file:
            if fcntl is not None:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH)
            yield file
        return


@contextlib.contextmanager
def _uncached(location: Location, state: ObjectState, transfer: Transfer) -> Iterator[str]:
    """``location``'s content at ``state`` in a verified temp file outside the cache (in the
    system's temp directory, ``TMPDIR``), removed afterwards."""
    handle, temporary = tempfile.mkstemp(prefix="octstore-", suffix=f"-{location.name}"[:64])
    os.close(handle)
    try:
        with translate_errors(location.url, "downloading"):
            download(location, state, temporary, transfer)
        verify(location, state, temporary)
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
