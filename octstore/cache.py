"""The local cache of remote content.

An entry is keyed by the file's canonical URL and its version token (GCS generation, S3 ETag,
modification time and size elsewhere), so a changed remote file is never served from an old
entry. Downloads go to a temp file beside the entry and are renamed into place only when
complete and, where the backend gives a CRC32C, verified. A file lock per entry makes
concurrent downloaders of one file wait for a single download.

The cache lives in ``OCTSTORE_CACHE_DIR``, by default the platform's user cache directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from filelock import FileLock

from octstore.errors import IntegrityError
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors

if TYPE_CHECKING:
    from octstore.backends import ObjectState

__all__ = ["cache_root", "entry_path", "fetch", "keep", "lock", "write_atomically"]


def cache_root() -> Path:
    """The cache directory: ``OCTSTORE_CACHE_DIR``, else the user cache dir for octstore."""
    configured = os.environ.get("OCTSTORE_CACHE_DIR")
    root = Path(configured) if configured else Path(platformdirs.user_cache_dir("octstore"))
    return root.expanduser()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def lock(key: str) -> FileLock:
    """A cross-process lock for ``key`` (a URL, a cache entry), kept in the cache directory."""
    directory = cache_root() / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory / f"{_digest(key)[:32]}.lock"))


def temporary_path_beside(path: str) -> str:
    """A fresh temp file name in ``path``'s directory, so ``os.replace`` onto it is atomic."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    return temporary


def staging_path(name: str) -> str:
    """A fresh temp file in the cache, for content on its way to a remote file ``name``."""
    directory = cache_root() / "writes"
    directory.mkdir(parents=True, exist_ok=True)
    return temporary_path_beside(str(directory / name))


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old bytes or the new, never a mix."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = temporary_path_beside(path)
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def entry_path(location: Location, version_token: str) -> Path:
    """Where the content of ``location`` at ``version_token`` is cached.

    The entry keeps the file's own name, so programs that look at the extension still work.
    """
    digest = _digest(location.url, version_token)
    return cache_root() / "objects" / digest[:2] / digest / (location.name or "content")


def fetch(location: Location, state: ObjectState) -> str:
    """The local path of ``location``'s content at ``state``, downloading it if not cached.

    Raises:
        IntegrityError: If the downloaded bytes do not match the backend's CRC32C; nothing is
            cached then.
    """
    entry = entry_path(location, state.version_token)
    if entry.is_file():
        return str(entry)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with lock(str(entry)):
        if entry.is_file():  # another process downloaded it while we waited
            return str(entry)
        temporary = temporary_path_beside(str(entry))
        try:
            download(location, temporary)
            if state.crc32c is not None:
                actual = crc32c_file(temporary)
                if actual != state.crc32c:
                    raise IntegrityError(
                        f"downloaded {location.url} but its CRC32C is {actual}, not "
                        f"{state.crc32c}: the transfer was corrupted or the file changed "
                        "meanwhile; try again"
                    )
            os.replace(temporary, entry)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
    return str(entry)


def download(location: Location, target: str) -> None:
    """Transfer ``location``'s content to the local file ``target`` (the only content GET)."""
    with translate_errors(location.url, "downloading"):
        location.fs.get_file(location.fs_path, target)


def keep(location: Location, state: ObjectState, source: str) -> str:
    """Move the local file ``source``, known to hold ``state``'s content, into the cache."""
    entry = entry_path(location, state.version_token)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with lock(str(entry)):
        try:
            os.replace(source, entry)
        except OSError:  # source on another filesystem: copy beside the entry, then swap
            temporary = temporary_path_beside(str(entry))
            shutil.copyfile(source, temporary)
            os.replace(temporary, entry)
            os.remove(source)
    return str(entry)
