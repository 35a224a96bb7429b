"""A loaded 100,000-file dataset as a table: ``Dataset.to_pandas()`` and ``Dataset.to_arrow()``.

Target: each under 1 s on this machine. The datafiles are made as a listing makes them (each
with its listed state, its metadata shared with that state), untimed; the tables are then built
from that metadata alone, with no request. For scale, the same columns read into plain lists by
a comprehension over the public attributes (the floor: no table at all) are measured in the
same run; it makes each datafile's copy of its metadata, which the tables do not.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from octstore import Dataset
from octstore.datafile import Datafile, interface
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.state import ObjectState

QUICK = os.environ.get("OCTSTORE_BENCH_QUICK", "") not in ("", "0")
COUNT = 1_000 if QUICK else 100_000
RUNS = 1 if QUICK else 5
RESULTS = Path(__file__).parent / ("results-quick" if QUICK else "results")
SITES = ("north", "south", "east", "west", "centre")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def listed(i: int) -> Datafile:
    """The ``i``-th datafile as a listing of ``memory://bench/tables`` would make it."""
    metadata = Metadata(
        id=uuid.UUID(int=i),
        timestamp=START + timedelta(seconds=i),
        labels=["raw", "wind"] if i % 3 == 0 else ["clean"],
        tags={"site": SITES[i % len(SITES)], "height": 60 + i % 80, "ok": i % 7 != 0},
    )
    state = ObjectState(size=1000 + i, version_token=str(i), metadata=metadata)
    return interface.assemble(Location(f"memory://bench/tables/{i:06d}.csv"), metadata, state)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    assert len(result) == COUNT
    return elapsed


def comprehension(dataset: Dataset) -> list[tuple[Any, ...]]:
    return [
        (f.name, f.path, f.size, f.timestamp, f.id, sorted(f.labels), dict(f.tags)) for f in dataset
    ]


def main() -> None:
    dataset = Dataset(files=[listed(i) for i in range(COUNT)], name="bench")
    # Untimed: pandas' and pyarrow's imports, and the modules they load on first use.
    Dataset(files=[listed(i) for i in range(10)]).to_pandas()
    Dataset(files=[listed(i) for i in range(10)]).to_arrow()

    runs: dict[str, list[float]] = {"to_pandas": [], "to_arrow": []}
    for _ in range(RUNS):
        runs["to_pandas"].append(timed(dataset.to_pandas))
        runs["to_arrow"].append(timed(dataset.to_arrow))
    floor = timed(lambda: comprehension(dataset))
    medians = {name: statistics.median(seconds) for name, seconds in runs.items()}
    result = {
        "name": "tables-100k",
        "scenario": f"13. A loaded {COUNT:,}-file dataset as a table (pandas, pyarrow)",
        "runs": RUNS,
        "files": COUNT,
        "median_seconds": medians,
        "runs_seconds": runs,
        "comprehension_seconds": floor,
        "targets": [
            {
                "target": f"{name}() of {COUNT:,} datafiles < 1 s",
                "measured": f"{seconds * 1000:.0f} ms (a comprehension over the attributes, "
                f"no table: {floor * 1000:.0f} ms)",
                "met": seconds < 1.0,
                "shortfall": f"{seconds - 1.0:.2f} s over",
            }
            for name, seconds in medians.items()
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tables.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
