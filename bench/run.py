"""Run every ``bench/bench_*.py``: each writes ``bench/results/<name>.json``.

A summary of all results goes to ``bench/results/SUMMARY.md``, with each target marked met
or missed and by how much.

Usage: ``python bench/run.py [NAME ...]`` (default: all benchmarks).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"


def main(names: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    scripts = sorted(BENCH.glob("bench_*.py"))
    if names:
        scripts = [script for script in scripts if script.stem.removeprefix("bench_") in names]
    failed = []
    for script in scripts:
        started = time.perf_counter()
        print(f"== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.stem)
        print(f"   {time.perf_counter() - started:.1f} s", flush=True)
    write_summary()
    if failed:
        print(f"benchmarks that crashed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def write_summary() -> None:
    lines = [
        "# Benchmark summary",
        "",
        "| benchmark | target | measured | met |",
        "|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        for target in result.get("targets", []):
            met = "yes" if target["met"] else f"no ({target['shortfall']})"
            lines.append(
                f"| {result['name']} | {target['target']} | {target['measured']} | {met} |"
            )
    (RESULTS / "SUMMARY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
