"""What a process the crash tests kill runs: ``python -m tests.reliability.crash_child JOB ARGS``.

Each job repeats one octstore operation in a loop, printing ``ready`` once set up and
``done N`` after the N-th operation completes, so that the test knows which state the
storage must be in when it kills the process: the state after the last ``done``, or the next.

With ``OCTSTORE_TEST_CRASH_AFTER=K``, the process kills itself with SIGKILL right after the
K-th call (counted from ``ready``) of ``os.replace``, ``os.remove`` or a write into a file:
an instrumented crash point between two steps of an operation.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from octstore import Datafile, Dataset, Store

_calls = 0
_armed = False


def _crash_point() -> None:
    global _calls
    if not _armed:
        return
    _calls += 1
    if _calls == int(os.environ["OCTSTORE_TEST_CRASH_AFTER"]):
        os.kill(os.getpid(), signal.SIGKILL)


def _instrument() -> None:
    """Count every step that changes the disk: a rename, a removal, a file closed after
    writing. (Remote steps are whole requests: the random-delay kills cover those.)"""
    real_replace, real_remove, real_open = os.replace, os.remove, builtins.open

    def replace(*args: Any, **kwargs: Any) -> None:
        real_replace(*args, **kwargs)
        _crash_point()

    def remove(*args: Any, **kwargs: Any) -> None:
        real_remove(*args, **kwargs)
        _crash_point()

    class Counted:
        def __init__(self, file: Any) -> None:
            self._file = file

        def __getattr__(self, name: str) -> Any:
            return getattr(self._file, name)

        def __iter__(self) -> Any:
            return iter(self._file)

        def __enter__(self) -> Counted:
            self._file.__enter__()
            return self

        def __exit__(self, *exc: Any) -> None:
            self._file.__exit__(*exc)
            _crash_point()

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        opened = real_open(file, mode, *args, **kwargs)
        return Counted(opened) if any(c in mode for c in "wax+") else opened

    os.replace = replace  # type: ignore[assignment]
    os.remove = remove  # type: ignore[assignment]
    builtins.open = open_  # type: ignore[assignment]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def version(i: int, size: int) -> bytes:
    """The content of version ``i``: ``size`` bytes that say which version they are."""
    stamp = f"version {i};".encode()
    return (stamp * (size // len(stamp) + 1))[:size]


def write_back(url: str, options: dict[str, Any], size: int) -> None:
    """Overwrite ``url`` again and again, each version with its own label."""
    for i in range(1, 10**6):
        df = Datafile(url, storage_options=options)
        df.labels = [f"v{i}"]
        df.tags = {"version": i}
        with df.open("wb") as f:
            f.write(version(i, size))
        _say(f"done {i}")


def download(urls: list[str], options: dict[str, Any]) -> None:
    """Read every url through the cache, again and again, after clearing the cache."""
    from octstore import cache

    for i in range(1, 10**6):
        cache.clear()
        for url in urls:
            Datafile(url, storage_options=options).local_path  # noqa: B018
        _say(f"done {i}")


def upload_dataset(root: str, destination: str, options: dict[str, Any]) -> None:
    """Upload a local dataset once."""
    Dataset(root).upload(destination, storage_options=options)
    _say("done 1")


def download_dataset(prefix: str, target: str, options: dict[str, Any]) -> None:
    """Download a dataset into a directory once."""
    Dataset(prefix, storage_options=options).download(target)
    _say("done 1")


def store_gc(url: str, options: dict[str, Any], referenced: list[str]) -> None:
    """Collect every object of a store that ``referenced`` does not name, once."""
    Store(url, options or None).gc(set(referenced), grace=timedelta(0))
    _say("done 1")


def store_add(url: str, options: dict[str, Any], size: int) -> None:
    """Add version after version to a store, each under its own name."""
    store = Store(url, options or None)
    for i in range(1, 10**6):
        store.add(f"v{i}.bin", version(i, size))
        _say(f"done {i}")


JOBS = {
    "write_back": write_back,
    "download": download,
    "upload_dataset": upload_dataset,
    "download_dataset": download_dataset,
    "store_gc": store_gc,
    "store_add": store_add,
}


def main() -> None:
    global _armed
    job, arguments = sys.argv[1], json.loads(sys.argv[2])
    if os.environ.get("OCTSTORE_TEST_CRASH_AFTER"):
        _instrument()
    Path(os.environ["OCTSTORE_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    import gcsfs  # noqa: F401 - imported now, so that a kill after "ready" lands in the job
    import s3fs  # noqa: F401

    _say("ready")
    _armed = True
    JOBS[job](**arguments)


if __name__ == "__main__":
    main()
