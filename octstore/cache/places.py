"""Where the cache lives and how big it may grow: its root, its size bound, its locks, and the
path of an entry."""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import platformdirs
from filelock import FileLock
from pydantic import ByteSize, TypeAdapter

from octstore.errors import OctstoreError
from octstore.location import Location

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None


DEFAULT_MAX_BYTES = 20 * 2**30


def cache_root() -> Path:
    """The cache directory: ``OCTSTORE_CACHE_DIR``, else the user cache dir for octstore."""
    environ = os.environ
    return _root(
        environ.get("OCTSTORE_CACHE_DIR"), environ.get("XDG_CACHE_HOME"), environ.get("HOME")
    )


@functools.lru_cache(maxsize=16)
def _root(configured: str | None, xdg_cache_home: str | None, home: str | None) -> Path:
    """:func:`cache_root` for these variables (the ones it and platformdirs read)."""
    root = Path(configured) if configured else Path(platformdirs.user_cache_dir("octstore"))
    return root.expanduser()


def max_bytes() -> int:
    """The size bound: ``OCTSTORE_CACHE_MAX_BYTES`` (bytes, or ``"10GiB"``), else 20 GiB."""
    configured = os.environ.get("OCTSTORE_CACHE_MAX_BYTES")
    if not configured:
        return DEFAULT_MAX_BYTES
    try:
        return int(TypeAdapter(ByteSize).validate_python(configured))
    except ValueError:
        raise OctstoreError(
            f"OCTSTORE_CACHE_MAX_BYTES={configured!r} is not a size: use bytes or a size "
            "such as '500MiB' or '20GB'"
        ) from None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def lock(key: str) -> FileLock:
    """A cross-process lock for ``key`` (a URL, a cache entry), kept in the cache directory,
    or, if that cannot be written, in the system's temp directory."""
    directory = cache_root() / "locks"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        directory = Path(tempfile.gettempdir()) / f"octstore-locks-{_user()}"
        directory.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory / f"{_digest(key)[:32]}.lock"))


def _user() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "user"


class CacheUnavailableError(OctstoreError, OSError):
    """The cache cannot hold a file: its directory cannot be written, or its disk is full."""


#: What a full disk raises: no space, over quota, or over the process's file size limit.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, says a disk is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _unavailable(location: Location, error: OSError) -> CacheUnavailableError:
    reason = error.strerror or type(error).__name__
    return CacheUnavailableError(
        f"{location.url} cannot be kept in the octstore cache {cache_root()} ({reason}): set "
        "OCTSTORE_CACHE_DIR to a writable directory with free space, or read the file with "
        "open(), which works without the cache"
    )


def entry_path(location: Location, version_token: str) -> Path:
    """Where the content of ``location`` at ``version_token`` is cached.

    The entry keeps the file's own name, so programs that look at the extension still work.
    """
    digest = _digest(location.url, version_token)
    return cache_root() / "objects" / digest[:2] / digest / "data" / (location.name or "content")


def _entry_directory(entry: Path) -> Path:
    return entry.parent.parent


def _url_index(location: Location) -> Path:
    digest = _digest(location.url)
    return cache_root() / "urls" / digest[:2] / f"{digest}.json"
