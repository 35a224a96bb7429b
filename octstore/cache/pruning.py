"""The cache's size bound: what it holds, pruning to a size, clearing, and eviction of the least
recently used entries as content is added."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout

from octstore.errors import warn
from octstore.location import Location

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None
from octstore.cache.files import _TEMP_NAME
from octstore.cache.places import cache_root, lock, max_bytes
from octstore.cache.records import _drop, _in_use, _read_record, _used_at

#: Entries used this recently are never evicted: their paths may have just been handed out.
RECENT_SECONDS = 60.0


#: The longest a process goes without scanning the cache's size while it adds to it.
RESCAN_SECONDS = 30.0


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
