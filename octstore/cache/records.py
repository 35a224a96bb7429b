"""What a cache entry on disk holds, and whether it is still intact, recently used or open."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from octstore.hashing import crc32c_file
from octstore.location import Location
from octstore.state import ObjectState

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows refuses to delete open files, which protects readers
    fcntl = None
from octstore.cache.files import write_atomically
from octstore.cache.places import _entry_directory, _url_index, cache_root

_RECORD = "entry.json"


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
    write_atomically(
        str(_entry_directory(entry) / _RECORD), json.dumps(document).encode(), durable=False
    )
    index = {"url": location.url, "entry": str(entry.relative_to(cache_root()))}
    write_atomically(str(_url_index(location)), json.dumps(index).encode(), durable=False)


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


def _used_at(entry: Path) -> float:
    try:
        return entry.stat().st_atime
    except FileNotFoundError:
        return 0.0
