"""Scenario 6: hash a 1 GiB local file: octstore's streaming CRC32C against google-crc32c
reading the file directly (the floor). No network is involved.

Each measurement runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``)
after imports, less the same before hashing, is the memory that hashing itself added.
Targets: peak extra memory < 64 MiB, throughput >= 90% of the floor.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SIZE = 1024**3
RUNS = 5
RESULTS = Path(__file__).parent / "results"

MEASURE = r"""
import json, resource, sys, time
path, which = sys.argv[1], sys.argv[2]
import google_crc32c
from octstore.hashing import CHUNK_SIZE, crc32c_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if which == "octstore":
    value = crc32c_file(path)
else:  # the floor: google-crc32c fed straight from the file, in the same chunk size
    checksum = google_crc32c.Checksum()
    with open(path, "rb", buffering=0) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            checksum.update(chunk)
    value = checksum.digest().hex()
elapsed = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "extra_kib": after - before, "value": value}))
"""


def measure(path: str, which: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, path, which], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "1GiB.bin")
        block = os.urandom(1024 * 1024)
        with open(path, "wb") as out:
            for _ in range(SIZE // len(block)):
                out.write(block)
        measure(path, "floor")  # warm the page cache so both read from memory
        runs: dict[str, list[dict[str, float]]] = {"octstore": [], "floor": []}
        for _ in range(RUNS):
            for which in runs:
                runs[which].append(measure(path, which))

    seconds = {which: statistics.median(r["seconds"] for r in rs) for which, rs in runs.items()}
    throughput = {which: SIZE / 2**20 / s for which, s in seconds.items()}
    peak_mib = max(r["extra_kib"] for r in runs["octstore"]) / 1024
    ratio = throughput["octstore"] / throughput["floor"]
    systems = {
        name: {
            "median_s": seconds[which],
            "runs_s": [r["seconds"] for r in runs[which]],
            "throughput_mib_s": throughput[which],
            "peak_extra_mib": max(r["extra_kib"] for r in runs[which]) / 1024,
            "requests": 0,
            "bytes_up": 0,
            "bytes_down": 0,
            "content_bytes": 0,
            "ratio": seconds[which] / seconds["octstore"],
        }
        for name, which in (("octstore", "octstore"), ("google-crc32c", "floor"))
    }
    result = {
        "name": "hash-1GiB",
        "scenario": "6. Hash a 1 GiB local file",
        "latency_s": None,
        "runs": RUNS,
        "notes": [
            "Each run in a fresh process, the file in the page cache; memory is the peak "
            "resident size hashing added. No network: no proxy."
        ],
        "systems": {"local": systems},
        "targets": [
            {
                "target": "peak extra memory < 64 MiB",
                "measured": f"{peak_mib:.1f} MiB",
                "met": peak_mib < 64,
                "shortfall": f"{peak_mib - 64:.1f} MiB over",
            },
            {
                "target": "throughput >= 90% of google-crc32c directly",
                "measured": f"{ratio:.0%} ({throughput['octstore']:.0f} vs "
                f"{throughput['floor']:.0f} MiB/s)",
                "met": ratio >= 0.9,
                "shortfall": f"{0.9 - ratio:.0%} short",
            },
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hash.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
