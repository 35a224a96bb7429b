"""Scenario 11 (``nolatency.json``): scenarios 2 and 3 (download and upload the 1,000-file
dataset of 16 KiB files) on GCS and S3 with no added latency (``Cloud(latency=0)``: the
proxies still count, but add no round trip), where the client's CPU per file is what counts.

The systems and calls are those of ``bench_dataset.py``: octstore's ``dataset.download(dir)``
and ``Dataset(dir).upload(url)`` against raw fsspec's ``fs.get`` / ``fs.put`` on the lists of
paths. Besides the wall time, each run's CPU time of this (the measuring) process is taken
with ``time.process_time()`` around the call: user + sys of all its threads, fsspec's event
loop included; the servers run in processes of their own and are not counted.

Targets (issue 18): time <= 1.1x raw fsspec's; CPU per transferred file <= 1.2x fsspec's.
"""

from __future__ import annotations

import time
from typing import Any

from bench_dataset import Bench
from harness import FILES, QUICK, Cloud, add_ratios, ratio_target, write_result

RUNS = 1 if QUICK else 3
TIME_FACTOR = 1.1
CPU_FACTOR = 1.2


def targets(operation: str, systems: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for backend, measured in systems.items():
        octstore, fsspec = measured["octstore"], measured["fsspec"]
        found.append(
            ratio_target(
                f"{backend}: {operation} time <= {TIME_FACTOR:g}x raw fsspec's, no latency",
                1 / fsspec["ratio"],
                at_most=TIME_FACTOR,
            )
        )
        cpu = octstore["cpu_s"] / fsspec["cpu_s"]
        target = ratio_target(
            f"{backend}: {operation} CPU per file <= {CPU_FACTOR:g}x raw fsspec's, no latency",
            cpu,
            at_most=CPU_FACTOR,
        )
        target["measured"] += (
            f" ({octstore['cpu_s'] * 1000 / FILES:.2f} vs {fsspec['cpu_s'] * 1000 / FILES:.2f} "
            "CPU-ms per file)"
        )
        found.append(target)
    return found


def main() -> None:
    with Cloud(latency=0) as cloud:
        started = time.perf_counter()
        bench = Bench(cloud, runs=RUNS)
        print(f"set-up: {time.perf_counter() - started:.0f} s", flush=True)
        # As in scenario 2, where fsspec's filesystem has listed the dataset (scenario 1): its
        # downloads then need no metadata request per file.
        for backend, fs in bench.fs.items():
            fs.find(bench.urls[backend])
        for phase in (bench.download, bench.upload):
            for backend in Cloud.BACKENDS:
                started = time.perf_counter()
                phase(backend)
                print(
                    f"{phase.__name__} {backend}: {time.perf_counter() - started:.0f} s", flush=True
                )
        systems = {operation: bench.systems[operation] for operation in ("download", "upload")}
        for by_backend in systems.values():
            for measured in by_backend.values():
                add_ratios(measured)
                for system in measured.values():
                    system["cpu_per_file_s"] = system["cpu_s"] / FILES
        write_result(
            "nolatency",
            {
                "scenario": f"11. Download and upload {FILES:,} files of 16 KiB, no latency",
                "latency_s": 0,
                "runs": RUNS,
                "cpu_column": True,
                "notes": [
                    f"Scenarios 2 and 3 ({FILES:,} files of 16 KiB with labels and tags) "
                    "without the proxies' latency; the proxies still count requests.",
                    "CPU: user + sys of the measuring process (all its threads, fsspec's event "
                    "loop included) over each run, median of the runs; the servers' processes "
                    "are not counted.",
                    "fsspec's filesystem has listed the dataset (`find`) before, as in scenario 2.",
                    f"{RUNS} runs each, octstore then fsspec, without warm-up runs (each "
                    "filesystem has made a request before).",
                ],
                "systems": {
                    f"{backend} {operation}": measured
                    for operation, by_backend in systems.items()
                    for backend, measured in by_backend.items()
                },
                "targets": [
                    target
                    for operation, by_backend in systems.items()
                    for target in targets(operation, by_backend)
                ],
            },
        )


if __name__ == "__main__":
    main()
