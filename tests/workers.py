"""Functions run in other processes by the tests (kept light: they import octstore only)."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from typing import Any

from octstore import Datafile
from octstore.hashing import crc32c_bytes


def read_after_barrier(url: str, options: dict[str, Any], barrier: Barrier, results: Any) -> None:
    """Wait for the other readers, then read ``url`` through the cache; report its hash."""
    barrier.wait(timeout=60)
    with Datafile(url, storage_options=options).open("rb") as f:
        data = f.read()
    results.put((len(data), crc32c_bytes(data)))


def read(url: str, options: dict[str, Any]) -> bytes:
    """Read ``url`` through the cache."""
    with Datafile(url, storage_options=options).open("rb") as f:
        data: bytes = f.read()
    return data


def read_in_worker(datafile: Datafile) -> tuple[int, str, str]:
    """Read a (pickled) datafile where this runs; report the process, name and hash."""
    import os

    with datafile.open("rb") as f:
        data = f.read()
    return os.getpid(), datafile.name, crc32c_bytes(data)


def add_in_rounds(options: dict[str, Any], commands: Any, barrier: Barrier, results: Any) -> None:
    """For each ``(store url, [(name, content), ...])`` command: wait for the others, then
    add every item in order; report the handles. ``None`` ends."""
    from octstore import Store

    for url, items in iter(commands.get, None):
        store = Store(url, options)
        barrier.wait(timeout=120)
        results.put([store.add(name, content) for name, content in items])


def collect_in_rounds(
    options: dict[str, Any], commands: Any, barrier: Barrier, stop: Any, results: Any
) -> None:
    """For each ``(store url, grace seconds)`` command: wait for the others, then run gc
    with no referenced handles until ``stop`` is set; report (gc runs, objects deleted)."""
    from datetime import timedelta

    from octstore import Store

    for url, grace in iter(commands.get, None):
        store = Store(url, options)
        barrier.wait(timeout=120)
        runs = deleted = 0
        while not stop.is_set():
            deleted += len(store.gc(set(), grace=timedelta(seconds=grace)).deleted)
            runs += 1
        results.put((runs, deleted))
