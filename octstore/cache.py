"""The local cache of remote content: versioned, verified, safe across processes, bounded.

Correct first, fast second:

- An entry is keyed by the file's canonical URL and its version token (GCS generation, S3
  ETag, modification time and size elsewhere), so a changed remote file is never served from
  an old entry. Revalidating an entry is one metadata request, done by the caller; with
  ``offline=True`` (or ``OCTSTORE_OFFLINE=1``) the newest entry is trusted with none.
- Downloads go to a unique temp file beside the entry and are renamed into place only when
  complete and, where the backend gives a CRC32C, verified; a mismatch raises and caches
  nothing. A process killed mid-download leaves only a temp file, which nothing trusts and
  :func:`prune` removes.
- One file lock per entry: N processes reading one uncached file cause one download, and all
  read the complete bytes.
- Each entry records its size, modification time and inode when it is made; an entry changed
  on disk since (bytes flipped, truncated) is re-verified against its CRC32C, or dropped and
  fetched again.
- The cache is bounded (``OCTSTORE_CACHE_MAX_BYTES``, default 20 GiB; ``"500MiB"`` style
  sizes work) with least-recently-used eviction that never removes an entry a reader has open
  or one used in the last minute.

Layout under :func:`cache_root` (``OCTSTORE_CACHE_DIR``, else the user cache directory)::

    objects/<h[:2]>/<h>/data/<name>      content; h = sha256(URL, version token)
    objects/<h[:2]>/<h>/entry.json       what the entry holds: URL, state, size, mtime, inode
    urls/<u[:2]>/<u>.json                the newest entry of a URL, for offline use
    locks/                               download locks
    writes/                              content on its way to a remote file; never evicted,
                                         and where a write that hit a conflict is kept
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import platformdirs
from filelock import FileLock, Timeout
from pydantic import ByteSize, TypeAdapter

from octstore.errors import IntegrityError, NotFoundError, OctstoreError, warn
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors
from octstore.state import ObjectState

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheInfo",
    "PruneReport",
    "cache_root",
    "clear",
    "copy_out",
    "entry_path",
    "fetch",
    "info",
    "is_temporary_name",
    "keep",
    "lock",
    "lookup",
    "max_bytes",
    "open_entry",
    "prune",
]

DEFAULT_MAX_BYTES = 20 * 2**30
#: Entries used this recently are never evicted: their paths may have just been handed out.
RECENT_SECONDS = 60.0
#: The longest a process goes without scanning the cache's size while it adds to it.
RESCAN_SECONDS = 30.0
_RECORD = "entry.json"
_TEMP_SUFFIX = ".tmp"
# The temp files ``temporary_path_beside`` makes: ".<name>.<8 random chars>.tmp".
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")
#: Downloads a file's content at a state into a local file: a backend's ``download``.
Transfer = Callable[[Location, ObjectState, str], None]


# --- places -------------------------------------------------------------------------------


def cache_root() -> Path:
    """The cache directory: ``OCTSTORE_CACHE_DIR``, else the user cache dir for octstore."""
    configured = os.environ.get("OCTSTORE_CACHE_DIR")
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


# --- atomic files -------------------------------------------------------------------------


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


def temporary_path_beside(path: str) -> str:
    """A fresh temp file name in ``path``'s directory, so ``os.replace`` onto it is atomic.

    Outside the cache it has the permissions of a file made with ``open()``, since it becomes
    a file others read; inside, ``mkstemp``'s private ones: cached cloud content stays the
    user's own.
    """
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMP_SUFFIX, dir=directory)
    os.close(handle)
    if not _in_cache(directory):
        os.chmod(temporary, default_permissions())
    return temporary


def _in_cache(directory: str) -> bool:
    return Path(directory).resolve().is_relative_to(cache_root().resolve())


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


def copy_file(source: str, target: str) -> None:
    """Copy ``source`` to ``target`` atomically, in the kernel where it can (reflinks on
    filesystems that have them), so content already on disk is never transferred again."""
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    temporary = temporary_path_beside(target)
    try:
        copied = False
        if hasattr(os, "copy_file_range"):
            with (
                open(source, "rb") as src,
                open(temporary, "wb") as dst,
                contextlib.suppress(OSError),
            ):
                remaining = os.fstat(src.fileno()).st_size
                while remaining > 0:
                    sent = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                    if sent == 0:
                        break
                    remaining -= sent
                copied = remaining == 0
        if not copied:
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


# --- entries ------------------------------------------------------------------------------


def _record(entry: Path, location: Location, state: ObjectState) -> None:
    """Note what ``entry`` holds, and make it the URL's newest entry for offline use."""
    stat = entry.stat()
    document = {
        "url": location.url,
        "state": state.to_json(),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ino": stat.st_ino,
    }
    write_atomically(str(_entry_directory(entry) / _RECORD), json.dumps(document).encode())
    index = {"url": location.url, "entry": str(entry.relative_to(cache_root()))}
    write_atomically(str(_url_index(location)), json.dumps(index).encode())


def _read_record(directory: Path) -> dict[str, Any] | None:
    """The record of the entry in ``directory``, or None if it has none (yet), or one that
    is not a record (an entry without a record is never served)."""
    try:
        record: dict[str, Any] = json.loads((directory / _RECORD).read_bytes())
        well_formed = (
            isinstance(record["url"], str)
            and all(isinstance(record[key], int) for key in ("size", "mtime_ns", "ino"))
            and isinstance(record["state"]["size"], int)
            and isinstance(record["state"].get("crc32c"), (str, type(None)))
        )
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    return record if well_formed else None


def _intact(entry: Path, record: dict[str, Any] | None) -> bool:
    """Whether ``entry`` still holds what it was made with (re-hashing it if it changed)."""
    if record is None:
        return False
    try:
        stat = entry.stat()
    except FileNotFoundError:
        return False
    if (stat.st_size, stat.st_mtime_ns, stat.st_ino) == (
        record["size"],
        record["mtime_ns"],
        record["ino"],
    ):
        return True
    expected = record["state"].get("crc32c")
    if expected is None or stat.st_size != record["state"]["size"]:
        return False
    return bool(crc32c_file(entry) == expected)


def _touch(entry: Path) -> None:
    """Mark ``entry`` used now (its access time), for least-recently-used eviction."""
    with contextlib.suppress(OSError):
        os.utime(entry, ns=(time.time_ns(), entry.stat().st_mtime_ns))


def _drop(entry: Path) -> None:
    shutil.rmtree(_entry_directory(entry), ignore_errors=True)


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
        return str(entry)
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
            _verify(location, state, temporary)
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
    entry = entry_path(location, state.version_token)
    if _intact(entry, _read_record(_entry_directory(entry))):
        _touch(entry)
        copy_file(str(entry), target)
        return
    try:
        download(location, state, target, transfer)
        _verify(location, state, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)
        raise


def download(location: Location, state: ObjectState, target: str, transfer: Transfer) -> None:
    """Transfer ``location``'s content at ``state`` to ``target``: the cache's only content GET."""
    transfer(location, state, target)


def _verify(location: Location, state: ObjectState, path: str) -> None:
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
        _verify(location, state, temporary)
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def _in_use(entry: Path) -> bool:
    """Whether a reader holds ``entry`` open (through :func:`open_entry`)."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        with open(entry, "rb") as probe:
            try:
                fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return True
                raise
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


# --- size bound ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds.

    Attributes:
        root: The cache directory.
        entries: The number of cached file versions.
        bytes: Their total size.
        max_bytes: The size bound.
    """

    root: str
    entries: int
    bytes: int
    max_bytes: int


@dataclass
class PruneReport:
    """What :func:`prune` or :func:`clear` did.

    Attributes:
        removed: Cache entries removed (URLs of the versions).
        freed_bytes: Bytes freed, temp files included.
        kept_in_use: Entries kept because a reader has them open or used them just now.
        temp_files_removed: Leftovers of interrupted downloads removed.
    """

    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_in_use: int = 0
    temp_files_removed: int = 0


@dataclass
class _Entry:
    path: Path
    size: int
    used: float
    url: str


def _entries() -> list[_Entry]:
    """Every complete entry, tolerating entries that other processes remove meanwhile."""
    entries: list[_Entry] = []
    for directory in _entry_directories():
        record = _read_record(directory)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for path in (directory / "data").iterdir():
                if _TEMP_NAME.fullmatch(path.name) and path.name != _content_name(record):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    stat = path.stat()
                    url = record["url"] if record else str(path)
                    entries.append(_Entry(path, stat.st_size, stat.st_atime, url))
    return entries


def _entry_directories() -> list[Path]:
    objects = cache_root() / "objects"
    try:
        return [d for shard in objects.iterdir() for d in _children(shard)]
    except FileNotFoundError:
        return []


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _content_name(record: dict[str, Any] | None) -> str | None:
    return Location(record["url"]).name if record else None


def info() -> CacheInfo:
    """How many entries the cache holds and how large they are."""
    entries = _entries()
    return CacheInfo(
        root=str(cache_root()),
        entries=len(entries),
        bytes=sum(entry.size for entry in entries),
        max_bytes=max_bytes(),
    )


def _remove_orphaned_temp_files(report: PruneReport) -> None:
    """Delete leftovers of downloads whose process died (their entry lock is free)."""
    for directory in _entry_directories():
        content = _content_name(_read_record(directory))
        for temporary in _children(directory / "data"):
            match = _TEMP_NAME.fullmatch(temporary.name)
            if match is None or temporary.name == content:
                continue
            entry_lock = lock(str(temporary.parent / match["name"]))
            try:
                entry_lock.acquire(blocking=False)
            except Timeout:
                continue  # a download is running
            try:
                with contextlib.suppress(FileNotFoundError):
                    size = temporary.stat().st_size
                    temporary.unlink()
                    report.freed_bytes += size
                    report.temp_files_removed += 1
            finally:
                entry_lock.release()


def prune(max_size: int | None = None, *, keep_recent: bool = True) -> PruneReport:
    """Evict least-recently-used entries until the cache holds at most ``max_size`` bytes.

    Entries a reader has open are never evicted, nor (with ``keep_recent``) those used in
    the last minute, whose paths may just have been handed to a program. Leftovers of
    interrupted downloads are removed too.

    Args:
        max_size: The size to prune to; by default :func:`max_bytes`.
        keep_recent: Keep entries used in the last :data:`RECENT_SECONDS`.
    """
    limit = max_bytes() if max_size is None else max_size
    report = PruneReport()
    _remove_orphaned_temp_files(report)
    entries = sorted(_entries(), key=lambda entry: entry.used)
    total = sum(entry.size for entry in entries)
    recent = time.time() - RECENT_SECONDS
    for entry in entries:
        if total <= limit:
            break
        if (keep_recent and entry.used > recent) or _in_use(entry.path):
            report.kept_in_use += 1
            continue
        entry_lock = lock(str(entry.path))
        try:
            entry_lock.acquire(blocking=False)
        except Timeout:
            report.kept_in_use += 1
            continue
        try:
            # Look again under the lock: it may have been handed out since the listing.
            if (keep_recent and _used_at(entry.path) > recent) or _in_use(entry.path):
                report.kept_in_use += 1
                continue
            _drop(entry.path)
        finally:
            entry_lock.release()
        total -= entry.size
        report.freed_bytes += entry.size
        report.removed.append(entry.url)
    return report


def clear() -> PruneReport:
    """Remove every entry no reader has open (content being uploaded is kept)."""
    report = prune(0, keep_recent=False)
    urls = cache_root() / "urls"
    for index in urls.glob("*/*.json") if urls.is_dir() else ():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            entry = cache_root() / json.loads(index.read_bytes())["entry"]
            if not entry.exists():
                index.unlink()
    return report


def _used_at(entry: Path) -> float:
    try:
        return entry.stat().st_atime
    except FileNotFoundError:
        return 0.0


@dataclass
class _Usage:
    """This process's estimate of the cache's size: the last scan plus what it added since."""

    root: Path | None = None
    bytes: int = 0
    scanned_at: float = -math.inf


_usage = _Usage()
_usage_lock = threading.Lock()


def _evict_over_bound(added: int) -> None:
    """Keep the cache under its bound after ``added`` bytes went in; housekeeping, so it never
    fails the caller.

    A scan of the whole cache costs a few system calls per entry, too many to repeat for each
    of a dataset's thousand files. So the cache is scanned (and pruned if over its bound) only
    when this process's additions since the last scan would take it over the bound, or the
    last scan is :data:`RESCAN_SECONDS` old (other processes add too).
    """
    try:
        limit, root, now = max_bytes(), cache_root(), time.monotonic()
        with _usage_lock:
            if (
                _usage.root == root
                and now - _usage.scanned_at < RESCAN_SECONDS
                and _usage.bytes + added <= limit
            ):
                _usage.bytes += added
                return
        total = info().bytes
        if total > limit:
            total -= prune(limit).freed_bytes
        with _usage_lock:
            _usage.root, _usage.bytes, _usage.scanned_at = root, total, now
    except OSError as error:
        warn(f"could not evict from the octstore cache: {error}", stacklevel=3)
