"""The lock that keeps writers of one file in turn, where the storage has no preconditions.

A local file's lock is a hidden file beside the data, ``.<name>.octstore-lock``, named after
the file's real path (symbolic links resolved), so that every process that can write the file
— through a linked directory, under another user, with another cache directory — takes the
same lock. (Device and inode cannot key it: every atomic replace makes a new inode.) Its
permissions follow the folder's: whoever may write the folder may take it. Reads never need
it; a folder where it cannot be created is read-only for octstore. It is removed, while
still held, when the write is done, so nothing is left beside the data: a writer that was
waiting on it finds, once it has it, that it is no longer the file at that path, and locks
the path's new one.

``memory://`` lives in one process, so a lock in that process serves. Other filesystems
without preconditions (``sftp://`` ...) lock in the cache directory, which keeps this
machine's writers in turn.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from filelock import FileLock

from octstore import cache
from octstore.errors import AccessDeniedError
from octstore.location import Location

__all__ = ["LOCK_SUFFIX", "held", "lock_name", "real_location"]

LOCK_SUFFIX = ".octstore-lock"
#: Tries at making the folder and its lock file, each time someone removed the folder.
_ATTEMPTS = 100

_memory_locks: dict[str, threading.RLock] = {}
_memory_locks_guard = threading.Lock()


def lock_name(name: str) -> str:
    """The lock file name of the data file ``name``."""
    return f".{name}{LOCK_SUFFIX}"


def real_location(location: Location) -> Location:
    """A local location with its symbolic links resolved (others as they are), so that a
    write through a link changes the file it points to, and keeps the link."""
    if not location.is_local:
        return location
    real = os.path.realpath(location.url)
    return location if real == location.url else Location(real, location.storage_options)


def _permissions(directory: str) -> int:
    """Read for all, write for the owner and for whoever may write ``directory``."""
    mode = os.stat(directory).st_mode
    return (
        0o644
        | (0o020 if mode & stat.S_IWGRP else 0)
        | (0o002 if mode & stat.S_IWOTH and not mode & stat.S_ISVTX else 0)
    )


@contextlib.contextmanager
def held(location: Location) -> Iterator[None]:
    """Hold the writers' lock of the file at ``location`` (see the module's docstring).

    Raises:
        AccessDeniedError: If the lock file cannot be created: the folder is read-only for
            octstore (reads work without it).
    """
    if location.protocol == "memory":
        with _memory_locks_guard:
            lock = _memory_locks.setdefault(location.url, threading.RLock())
        with lock:
            yield
        return
    if not location.is_local:
        with cache.lock(location.url):
            yield
        return
    real = os.path.realpath(location.url)
    directory, name = os.path.split(real)
    path = os.path.join(directory, lock_name(name))
    try:
        for attempt in range(_ATTEMPTS):
            try:
                os.makedirs(directory, exist_ok=True)
                file_lock = _lock_file(path, _permissions(directory))
                file_lock.__enter__()
                break
            except FileNotFoundError:  # the empty folder was removed meanwhile (a store's
                if attempt == _ATTEMPTS - 1:  # garbage collection): make it again
                    raise
    except OSError as error:
        raise AccessDeniedError(
            f"{location.url} cannot be written: octstore could not create its lock file "
            f"{path} ({error.strerror or error}); the folder is read-only for octstore: get "
            f"write permission on {directory}, or write the file elsewhere"
        ) from error
    try:
        yield
    finally:
        file_lock.__exit__(None, None, None)


def _lock_file(path: str, mode: int) -> contextlib.AbstractContextManager[object]:
    """An exclusive lock on the file at ``path``, created with ``mode`` if needed."""
    if fcntl is None:  # Windows: filelock's lock, and its file stays (it cannot be removed
        return FileLock(path, mode=mode)  # while another process has it open)
    return _flock(path, mode)


@contextlib.contextmanager
def _flock(path: str, mode: int) -> Iterator[None]:
    """``flock`` on the file at ``path``, removed while still held when done, so that no lock
    file is left beside the data.

    Whoever waited on the removed file holds a lock on a file no longer at ``path``: after
    each lock, the descriptor must still be the file at ``path`` (same device and inode),
    else it is dropped and the path's new file locked. (A link count of zero would not tell
    on NFS, where a removed open file lives on under another name.)
    """
    assert fcntl is not None
    while True:
        # never through a link planted at that name: that would chmod what it points to
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
        try:
            with contextlib.suppress(PermissionError):
                os.fchmod(descriptor, mode)  # creating it, the umask took some bits away
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                    break
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
        os.close(descriptor)  # closing releases the lock
