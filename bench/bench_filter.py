"""Filter 100,000 in-memory datafiles by a label and a tag.

Target: under 1 s on this machine. For scale, the same selection written as a plain Python
comprehension (the floor: no lookup parsing at all) is measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path

from octstore import Datafile, Dataset

COUNT = 100_000
RUNS = 5
RESULTS = Path(__file__).parent / "results"
SITES = ("north", "south", "east", "west", "centre")


def corpus() -> Dataset:
    files = [
        Datafile.from_dict(
            {
                "path": f"memory://bench/files/{i:06d}.csv",
                "id": str(uuid.UUID(int=i)),
                "labels": ["raw", "wind"] if i % 3 == 0 else ["clean"],
                "tags": {"site": SITES[i % len(SITES)], "height": 60 + i % 80},
            }
        )
        for i in range(COUNT)
    ]
    return Dataset(files=files, name="bench")


def timed(action: object) -> tuple[float, int]:
    started = time.perf_counter()
    found = action()  # type: ignore[operator]
    return time.perf_counter() - started, len(found)


def main() -> None:
    dataset = corpus()
    files = dataset.files
    octstore_runs, floor_runs = [], []
    for _ in range(RUNS):
        octstore_runs.append(
            timed(lambda: files.filter(labels__contains="raw", tags__site="north"))
        )
        floor_runs.append(
            timed(lambda: [f for f in files if "raw" in f.labels and f.tags.get("site") == "north"])
        )
    assert {count for _, count in octstore_runs} == {count for _, count in floor_runs}
    seconds = statistics.median(s for s, _ in octstore_runs)
    floor = statistics.median(s for s, _ in floor_runs)
    result = {
        "name": "filter-100k",
        "runs": RUNS,
        "files": COUNT,
        "matches": octstore_runs[0][1],
        "median_seconds": seconds,
        "comprehension_median_seconds": floor,
        "targets": [
            {
                "target": "filter 100,000 datafiles by a label and a tag < 1 s",
                "measured": f"{seconds * 1000:.0f} ms ({seconds / floor:.1f}x a plain "
                f"comprehension's {floor * 1000:.0f} ms)",
                "met": seconds < 1.0,
                "shortfall": f"{seconds - 1.0:.2f} s over",
            }
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "filter.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
