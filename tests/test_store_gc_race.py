"""gc racing with adds in other processes never deletes what was just added.

One process adds content (some of it already stored and old enough to collect, some new)
while another runs gc over and over, in 4 rounds per backend (20 in the ``slow`` variant).
Every handle an add returned must still reach its content afterwards.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from queue import Empty
from typing import Any

import pytest

from octstore import Store
from tests import workers
from tests.conftest import Backend

ROUNDS = 4
SOAK_ROUNDS = 20
OLD = 8  # stored before each round and aged, so gc wants them; the adder adds AGAIN again
AGAIN = 5
NEW = 3
GRACE_SECONDS = 600


@pytest.fixture
def processes(backend: Backend) -> Iterator[dict[str, Any]]:
    """An adder and a collector process (spawned: no state inherited), kept for all rounds."""
    context = multiprocessing.get_context("spawn")
    parts: dict[str, Any] = {
        "barrier": context.Barrier(3),
        "stop": context.Event(),
        "add": context.Queue(),
        "collect": context.Queue(),
        "added": context.Queue(),
        "collected": context.Queue(),
    }
    adder = context.Process(
        target=workers.add_in_rounds,
        args=(backend.storage_options, parts["add"], parts["barrier"], parts["added"]),
    )
    collector = context.Process(
        target=workers.collect_in_rounds,
        args=(
            backend.storage_options,
            parts["collect"],
            parts["barrier"],
            parts["stop"],
            parts["collected"],
        ),
    )
    adder.start()
    collector.start()
    parts["processes"] = (adder, collector)
    yield parts
    parts["add"].put(None)
    parts["collect"].put(None)
    for process in (adder, collector):
        process.join(timeout=60)
        if process.is_alive():
            process.kill()


def receive(queue: Any, processes: tuple[Any, ...], timeout: float = 300) -> Any:
    """The next item on ``queue``; fails at once if a worker process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=0.5)
        except Empty:
            dead = [p for p in processes if not p.is_alive()]
            if dead:
                pytest.fail(f"a worker process died (exit code {dead[0].exitcode}); see stderr")
    pytest.fail(f"no result from the workers in {timeout} s")


def age(store: Store, handle: str, by: timedelta) -> None:
    datafile = store.datafile(handle)
    added = datetime.fromisoformat(str(datafile.tags["added"]))
    datafile.tags["added"] = (added - by).isoformat()
    datafile.update_metadata()


@pytest.mark.parametrize(
    "rounds", [ROUNDS, pytest.param(SOAK_ROUNDS, marks=pytest.mark.slow)], ids="{}-rounds".format
)
@pytest.mark.parametrize("backend", ["local", "s3", "gcs", "az"], indirect=True)
def test_gc_racing_with_adds_in_other_processes_loses_nothing(
    backend: Backend, processes: dict[str, Any], rounds: int
) -> None:
    rng = random.Random(8)
    total_runs = total_deleted = 0
    for round_number in range(rounds):
        url = backend.url(f"round-{round_number}")
        store = Store(url, backend.storage_options)
        old = [(f"old {n}.bin", os.urandom(rng.randrange(1, 4096))) for n in range(OLD)]
        for name, content in old:
            age(store, store.add(name, content), by=timedelta(days=1))
        again = rng.sample(old, AGAIN)
        new = [(f"new {n}.bin", os.urandom(rng.randrange(1, 4096))) for n in range(NEW)]
        items = [(f"again {name}", content) for name, content in again] + new
        rng.shuffle(items)

        processes["stop"].clear()
        processes["add"].put((url, items))
        processes["collect"].put((url, GRACE_SECONDS))
        processes["barrier"].wait(timeout=120)
        handles = receive(processes["added"], processes["processes"])
        processes["stop"].set()
        runs, deleted = receive(processes["collected"], processes["processes"])
        total_runs += runs
        total_deleted += deleted

        stored = {item.sha256 for item in store.list()}
        for (_, content), handle in zip(items, handles, strict=True):
            digest = hashlib.sha256(content).hexdigest()
            assert handle.startswith(f"{digest}/")
            assert digest in stored, f"round {round_number}: {handle} was lost"
        for _, content in rng.sample(items, 2):  # the bytes are there, not just the names
            with store.open(f"{hashlib.sha256(content).hexdigest()}/x") as file:
                assert file.read() == content

    print(
        f"{backend.name}: {rounds} rounds, {total_runs} gc runs during adds deleted "
        f"{total_deleted} objects; no added content lost"
    )
    assert total_runs >= rounds
    assert total_deleted > 0  # gc did collect while the adds ran
