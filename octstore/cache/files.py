"""Files written whole or not at all: temp names beside their target, atomic replacement, the
permissions a new file gets, and kernel copies."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None
from octstore.cache.places import cache_root
from octstore.errors import AccessDeniedError, IntegrityError
from octstore.hashing import crc32c_file

_TEMP_SUFFIX = ".tmp"
#: Bytes a kernel copy moves between two reports of its progress.
_COPY_STEP = 16 * 2**20


# The temp files ``temporary_path_beside`` makes: ".<name>.<8 random chars>.tmp".
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    try:  # Linux tells it without changing it
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere, read it once, at import, before any thread writes
    os.umask(umask)
    return umask


_UMASK = _umask()


def default_permissions() -> int:
    """The permissions ``open()`` gives a new file: read and write, less the umask."""
    return 0o666 & ~_UMASK


_DENIED = "permission denied (check the folder's permissions or choose another destination)"
#: The system's refusals of a write, by errno, as :func:`named_refusal` words them.
_REFUSALS = {
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.EROFS: "the file system is read-only (choose another destination)",
}
#: Marks the errors :func:`named_refusal` raised, for an outer block to name its path.
_NAMED = "_octstore_refused_write"


@contextlib.contextmanager
def named_refusal(path: str) -> Iterator[None]:
    """Inside the block, the system refusing a write (no permission, a read-only file
    system) raises an :class:`~octstore.errors.AccessDeniedError` naming ``path``, the file
    or folder being written, rather than the temp file or folder the refusal named. Nested
    blocks name the outermost ``path``: the destination the caller asked for.
    """
    try:
        yield
    except OSError as error:
        cause: BaseException | None = error
        if isinstance(error, AccessDeniedError):  # named already: again if an inner block's
            cause = error.__cause__ if getattr(error, _NAMED, False) else None
        if not isinstance(cause, OSError) or cause.errno not in _REFUSALS:
            raise
        refusal = AccessDeniedError(f"cannot write to {path}: {_REFUSALS[cause.errno]}")
        setattr(refusal, _NAMED, True)
        raise refusal from cause


def temporary_path_beside(path: str) -> str:
    """A fresh temp file name in ``path``'s directory (made if need be), so ``os.replace``
    onto it is atomic.

    Outside the cache it has the permissions of a file made with ``open()``, since it becomes
    a file others read; inside, ``mkstemp``'s private ones: cached cloud content stays the
    user's own.

    Raises:
        AccessDeniedError: If the system refuses to write there, naming ``path``.
    """
    directory, name = os.path.split(path)
    with named_refusal(path):
        if directory:
            os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMP_SUFFIX, dir=directory)
        os.close(handle)
        if not _in_cache(directory):
            os.chmod(temporary, default_permissions())
    return temporary


def _in_cache(directory: str) -> bool:
    return _resolved(Path(directory)).is_relative_to(_resolved(cache_root()))


@functools.lru_cache(maxsize=256)
def _resolved(path: Path) -> Path:
    """``path`` resolved, once per process: it only decides a temp file's permissions."""
    return path.resolve()


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is one of octstore's temp files or directories (an unfinished write,
    or content kept after a failed one), which listings leave out."""
    return _TEMP_NAME.fullmatch(name) is not None


def staging_path(name: str) -> str:
    """A fresh temp file in the cache, for content on its way to a remote file ``name``; in
    the system's temp directory if the cache cannot be written."""
    directory = cache_root() / "writes"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return temporary_path_beside(str(directory / name))
    except OSError:
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMP_SUFFIX)
        os.close(handle)
        return temporary


#: Whether atomic writes also reach the disk before they return (see :func:`rebuildable`).
_durable: ContextVar[bool] = ContextVar("octstore_durable_writes", default=True)


@contextlib.contextmanager
def rebuildable() -> Iterator[None]:
    """Inside the block, :func:`write_atomically` writes content that a verified download
    can rebuild (a downloaded copy and its sidecar): still all or nothing for a reader, but
    without waiting for the disk (``fsync``). After a power loss such a file may be its old
    version, never a mix; the next sync reports it."""
    token = _durable.set(False)
    try:
        yield
    finally:
        _durable.reset(token)


def write_atomically(path: str, data: bytes, *, durable: bool | None = None) -> None:
    """Write ``data`` to ``path`` so a reader sees the old bytes or the new, never a mix; on
    disk before it returns when ``durable`` (by default: outside :func:`rebuildable`)."""
    temporary = temporary_path_beside(path)
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            if _durable.get() if durable is None else durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def copy_file(source: str, target: str, callback: Callback = DEFAULT_CALLBACK) -> None:
    """Copy ``source`` to ``target`` atomically, in the kernel where it can (reflinks on
    filesystems that have them), so content already on disk is never transferred again;
    the bytes copied are told to ``callback`` as they go."""
    temporary = temporary_path_beside(target)
    try:
        copied = False
        if hasattr(os, "copy_file_range"):
            with (
                open(source, "rb") as src,
                open(temporary, "wb") as dst,
                contextlib.suppress(OSError),
            ):
                size = remaining = os.fstat(src.fileno()).st_size
                while remaining > 0:
                    sent = os.copy_file_range(
                        src.fileno(), dst.fileno(), min(remaining, _COPY_STEP)
                    )
                    if sent == 0:
                        break
                    remaining -= sent
                    callback.absolute_update(size - remaining)
                copied = remaining == 0
        if not copied:
            shutil.copyfile(source, temporary)
            callback.absolute_update(os.path.getsize(temporary))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def copy_unchanged(
    source: str,
    target: str,
    crc32c: str,
    destination: str,
    callback: Callback = DEFAULT_CALLBACK,
) -> str:
    """Copy the local file ``source`` to ``target`` as :func:`copy_file` does, checking that
    the copy has the CRC32C ``crc32c`` that ``source`` had before: a file another program
    wrote during the copy would give a copy of two versions at once. Returns the CRC32C.

    Raises:
        IntegrityError: If it has not, naming ``destination`` (where the copy was to go);
            ``target`` is removed.
    """
    copy_file(source, target, callback)
    if crc32c_file(target) != crc32c:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)
        raise IntegrityError.changed_while_uploaded(source, destination)
    return crc32c
