"""Run every ``bench/bench_*.py``: each writes ``bench/results/<name>.json``.

Then ``bench/report.py`` writes a summary of all results to ``bench/results/SUMMARY.md``,
with each target marked met or missed and by how much, and the docs page
``docs/performance.md`` with its chart.

Usage: ``python bench/run.py [NAME ...]`` (default: all benchmarks); ``NAME`` is a script's
name without ``bench_`` (``python bench/run.py cli scaling``). With ``OCTSTORE_BENCH_QUICK=1``
the scenarios that support it run small and once, into ``bench/results-quick/``: a check that
they work, not a measurement.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import report

BENCH = Path(__file__).parent
RESULTS = report.RESULTS


def main(names: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    scripts = sorted(BENCH.glob("bench_*.py"))
    if names:
        scripts = [script for script in scripts if script.stem.removeprefix("bench_") in names]
    failed = []
    started_all = time.perf_counter()
    for script in scripts:
        started = time.perf_counter()
        print(f"== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.stem)
        print(f"   {time.perf_counter() - started:.1f} s", flush=True)
    elapsed = time.perf_counter() - started_all
    print(f"== all: {elapsed:.1f} s", flush=True)
    report.main(None if names else elapsed)
    if failed:
        print(f"benchmarks that crashed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
