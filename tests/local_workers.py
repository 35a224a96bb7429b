"""What the processes of tests/test_local_lock.py run (kept light: they import octstore only)."""

from __future__ import annotations

import os
from multiprocessing.synchronize import Barrier
from typing import Any

from octstore import ConflictError, Datafile

_barrier: Barrier | None = None


def start(barrier: Barrier) -> None:
    """Pool initializer: the barrier the writers wait at before they race."""
    global _barrier
    _barrier = barrier


def append_and_label(path: str, cache_dir: str, writer: int, rounds: int) -> dict[str, Any]:
    """Append a line and add a label ``rounds`` times to the file at ``path`` (retrying on
    conflicts, as a careful user would), with a cache directory of this writer's own.

    Returns the rounds acknowledged and, for each conflict, whether its ``kept_at`` existed.
    """
    os.environ["OCTSTORE_CACHE_DIR"] = cache_dir
    assert _barrier is not None
    _barrier.wait(timeout=60)
    kept_existed: list[bool] = []
    for round_ in range(rounds):
        while True:
            df = Datafile(path)
            try:
                with df.open("a") as f:
                    f.write(f"writer {writer} round {round_}\n")
                break
            except ConflictError as error:
                kept_existed.append(error.kept_at is not None and os.path.exists(error.kept_at))
        df = Datafile(path)
        df.labels.add(f"w{writer}-r{round_}")
        df.update_metadata()
    return {"rounds": rounds, "kept_existed": kept_existed}
