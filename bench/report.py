"""Turn ``bench/results/*.json`` into ``bench/results/SUMMARY.md``, the docs page
``docs/performance.md`` and its chart ``docs/performance.png``.

Run by ``bench/run.py`` after the benchmarks; ``python bench/report.py`` rewrites all three
from the latest results. Any result file is picked up, also those of benchmarks added later
(``hdf5.json``, say): its targets go into the table, its systems into the chart.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).parent
#: Quick mode (``OCTSTORE_BENCH_QUICK=1``, see ``harness.py``) reads and writes
#: ``bench/results-quick/`` and leaves the docs page and its chart alone.
QUICK = os.environ.get("OCTSTORE_BENCH_QUICK", "") not in ("", "0")
RESULTS = Path(
    os.environ.get("OCTSTORE_BENCH_RESULTS") or BENCH / ("results-quick" if QUICK else "results")
)
DOCS = BENCH.parent / "docs"
CHART = DOCS / "performance.png"
LIMITS = BENCH / "LIMITS.md"
#: Order of systems in tables and the chart; others follow, sorted.
SYSTEM_ORDER = ("octstore", "fsspec", "google-crc32c", "octue", "cloudpathlib")
COLOURS = {
    "octstore": "#2b6cb0",
    "fsspec": "#718096",
    "google-crc32c": "#718096",
    "octue": "#dd6b20",
    "cloudpathlib": "#38a169",
}


#: Titles for results that do not name their scenario.
SCENARIOS = {"hdf5-partial-read": "7. Read 1 MB from a 200 MB remote HDF5 file"}


def load_results() -> list[dict[str, Any]]:
    """Every result, in scenario order (results without a scenario number last)."""
    results = [adapted(json.loads(path.read_text())) for path in sorted(RESULTS.glob("*.json"))]

    def order(result: dict[str, Any]) -> tuple[int, str, str]:
        scenario = result.get("scenario") or "~"
        number = re.match(r"(\d+)\.", scenario)
        return int(number.group(1)) if number else 10**6, scenario, result["name"]

    return sorted(results, key=order)


def adapted(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with a scenario title, and ``systems`` made from per-backend ``results``
    of ``median_seconds`` where it has none (as ``hdf5.json`` does): each way of reading,
    as an octstore system, its ratio to the first."""
    result.setdefault("scenario", SCENARIOS.get(result["name"]))
    by_backend = result.get("results")
    if "systems" in result or not isinstance(by_backend, dict):
        return result
    systems: dict[str, dict[str, Any]] = {}
    for backend, ways in by_backend.items():
        if not isinstance(ways, dict) or not all(
            isinstance(way, dict) and "median_seconds" in way for way in ways.values()
        ):
            return result
        first = next(iter(ways.values()))["median_seconds"]
        systems[backend] = {
            f"octstore ({name.replace('_', ' ')})": {
                "median_s": way["median_seconds"],
                "requests": way.get("requests"),
                "bytes_up": way.get("bytes_sent"),
                "bytes_down": way.get("bytes_received"),
                "ratio": way["median_seconds"] / first,
            }
            for name, way in ways.items()
        }
    return {**result, "systems": systems}


def system_order(name: str) -> tuple[int, str]:
    base = name.split(" (")[0]
    rank = SYSTEM_ORDER.index(base) if base in SYSTEM_ORDER else len(SYSTEM_ORDER)
    return rank, name


def title(result: dict[str, Any]) -> str:
    return str(result.get("scenario") or result["name"])


def seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def size(value: int | None) -> str:
    if value is None:
        return ""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def targets_table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| scenario | target | measured | met |", "|---|---|---|---|"]
    for result in results:
        for target in result.get("targets", []):
            met = "yes" if target["met"] else f"**no**: {target['shortfall']}"
            lines.append(f"| {title(result)} | {target['target']} | {target['measured']} | {met} |")
    return lines


def systems_table(result: dict[str, Any]) -> list[str]:
    """Each system's figures; a CPU column (user + sys of the measuring process) and a peak
    RSS column where the scenario measured them."""
    every = [m for systems in result["systems"].values() for m in systems.values()]
    cpu = bool(result.get("cpu_column"))
    rss = any("peak_rss_bytes" in m for m in every)
    extra_head = (" CPU (user+sys) |" if cpu else "") + (" peak RSS |" if rss else "")
    extra_rule = ("---|" if cpu else "") + ("---|" if rss else "")
    lines = [
        "| backend | system | median | runs | requests | bytes up | bytes down | content bytes "
        f"|{extra_head} time / octstore's |",
        f"|---|---|---|---|---|---|---|---|{extra_rule}---|",
    ]
    for backend, systems in result["systems"].items():
        for name in sorted(systems, key=system_order):
            measured = systems[name]
            extra = ""
            if cpu:
                extra += f" {seconds(measured['cpu_s']) if 'cpu_s' in measured else ''} |"
            if rss:
                extra += f" {mebibytes(measured.get('peak_rss_bytes'))} |"
            lines.append(
                f"| {backend} | {name} | {seconds(measured['median_s'])} | "
                f"{len(measured.get('runs_s', [])) or ''} | {_text(measured.get('requests'))} | "
                f"{size(measured.get('bytes_up'))} | {size(measured.get('bytes_down'))} | "
                f"{size(measured.get('content_bytes'))} |{extra} {measured['ratio']:.2f}x |"
            )
    return lines


def mebibytes(value: int | None) -> str:
    return "" if value is None else f"{value / 2**20:.0f} MiB"


def summary(results: list[dict[str, Any]], elapsed: float | None) -> str:
    lines = ["# Benchmark summary", ""]
    if elapsed is not None:
        lines += [f"The last full `bench/run.py` took {elapsed / 60:.1f} minutes.", ""]
    lines += ["## Targets", "", *targets_table(results), ""]
    if LIMITS.exists():  # the hand-written reasons for the missed targets
        lines += [LIMITS.read_text().strip(), ""]
    lines += scenario_sections(results)
    return "\n".join(lines)


def scenario_sections(results: list[dict[str, Any]]) -> list[str]:
    """A section per scenario with peers: its notes, then each system's figures."""
    lines: list[str] = []
    for result in results:
        if "systems" not in result:
            continue
        lines += [f"## {title(result)}", ""]
        lines += [f"- {note}" for note in result.get("notes", [])]
        lines += ["", *systems_table(result), ""]
    return lines


INTRODUCTION = """\
# Performance

octstore is measured side by side with what people would use instead, in the same run, on
the same servers, through the same simulated network:

- **raw fsspec**, the floor: the batch calls (`get`, `put`, `find`) and the cache
  (`filecache`) that octstore is built on, so that its overhead shows;
- **octue**, whose metadata and filters octstore reads and accepts (GCS only);
- **cloudpathlib**, pathlib-style cloud paths (S3, through `S3Client(endpoint_url=...)`).

The cloud is moto's S3 server and the GCS emulator on this machine, each behind a proxy that
adds a **{latency_ms:.0f} ms round trip** to every request, as a nearby cloud region would,
and counts every request and byte. Request and byte counts are exact; times are medians of
several runs. "time / octstore's" is a system's median time over octstore's on the same
backend: above 1, octstore is faster. "Content bytes" are bytes of object content (downloads
and uploads), as opposed to listings and metadata.

This page is generated from the latest results: `nox -s bench` runs every scenario (each is
described in the docstring of its `bench/bench_*.py`), then rewrites this page and its
chart.{elapsed} The machine has 2 cores ({machine}), shared with other work: ratios between
systems measured in one run are what count, more than absolute times.

![Median time of each system, per scenario]({chart})

## Targets

"""

CAVEATS = """\
## How to read these numbers

- **octue** runs in a virtualenv of its own: octue pins `google-cloud-storage<3`, while
  gcsfs needs `>=3.14`, so one environment would downgrade gcsfs and fsspec and benchmark an
  octstore that users do not get. It is driven as a subprocess that times each operation
  itself (its start-up is not counted); its requests are counted at the same proxy.
  `google.auth.default()` is patched to return anonymous credentials, and
  `STORAGE_EMULATOR_HOST` points it at the proxy.
- octue and cloudpathlib run fewer times than octstore and fsspec where one run takes a
  minute or more (each scenario's notes say how many), so that all benchmarks finish in
  under 25 minutes on 2 cores. They work one file after another or with a few threads, so
  their times vary little from run to run.
- The emulators serve requests far more slowly than a real cloud: moto spends several
  milliseconds of CPU on each, and the client being measured shares the 2 cores with them.
  On transfers of 1,000 files, the CPU each system spends per file therefore weighs about as
  much as the latency. Request counts do not depend on it.
- The proxy adds latency but no bandwidth limit: a 100 MB download takes well under a second
  on loopback, far less than over a real network, which makes a cached open look slow
  *relative to* a first open.
"""

#: Why a kind of target can be missed, by a phrase in the target's text: shown under "Where
#: octstore misses a target" for those missed in the latest results.
EXPLANATIONS = {
    "raw fsspec": """\
- **Transfers against raw fsspec.** fsspec's `get` and `put` move content only. octstore
  also carries each file's metadata (a sidecar for each downloaded file, the metadata in
  each upload's request), verifies each download against its CRC32C, and writes the
  dataset's manifest; that is CPU per file, which this machine makes visible (see above).
  On S3, an upload then lists the destination and reads every object's metadata again
  (a `HeadObject` each, concurrently) to index the manifest: a second request per file that
  the upload's own responses could spare.
""",
    "first open": """\
- **Cached open against a first open.** One metadata request (the 20 ms round trip) is
  most of a cached open; the first open it is compared with is fast only because loopback
  has no bandwidth limit.
""",
}


def docs_page(results: list[dict[str, Any]], elapsed: float | None) -> str:
    latency = next((r["latency_s"] for r in results if r.get("latency_s")), 0.02)
    machine = f"{platform.machine()}, Linux, Python {platform.python_version()}"
    lines = [
        INTRODUCTION.format(
            latency_ms=latency * 1000,
            machine=machine,
            chart=CHART.name,
            elapsed=f" The last full run took {elapsed / 60:.1f} minutes." if elapsed else "",
        ),
        *targets_table(results),
        "",
        *scenario_sections(results),
    ]
    lines += [CAVEATS]
    missed = [
        target["target"]
        for result in results
        for target in result.get("targets", [])
        if not target["met"]
    ]
    reasons = [text for phrase, text in EXPLANATIONS.items() if any(phrase in t for t in missed)]
    if reasons:
        lines += ["## Where octstore misses a target, and why", "", *reasons]
    if missed and LIMITS.exists():
        lines += ["", LIMITS.read_text().strip().replace("## ", "### ", 1), ""]
    return "\n".join(lines)


def chart(results: list[dict[str, Any]]) -> None:
    """One panel per scenario: each system's median time per backend, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    shown = [result for result in results if "systems" in result]
    heights = [max(1, sum(len(s) for s in r["systems"].values())) * 0.32 + 0.8 for r in shown]
    figure, axes = plt.subplots(
        len(shown),
        1,
        figsize=(8, sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for axis, result in zip(axes[:, 0], shown, strict=True):
        labels, values, colours, ratios = [], [], [], []
        for backend, systems in result["systems"].items():
            for name in sorted(systems, key=system_order):
                labels.append(f"{backend} · {name}")
                values.append(systems[name]["median_s"])
                colours.append(COLOURS.get(name.split(" (")[0], "#a0aec0"))
                ratios.append(systems[name]["ratio"])
        positions = list(range(len(labels)))[::-1]
        axis.barh(positions, values, color=colours)
        axis.set_yticks(positions, labels, fontsize=8)
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: seconds(value)))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_title(title(result), fontsize=9, loc="left")
        axis.tick_params(axis="x", labelsize=8)
        for position, value, ratio in zip(positions, values, ratios, strict=True):
            shown_ratio = f"{ratio:.0f}" if ratio >= 100 else f"{ratio:.2g}"
            axis.text(
                value, position, f" {seconds(value)} ({shown_ratio}x)", va="center", fontsize=7
            )
        axis.set_xlim(min(values) / 2, max(values) * 8)
    axes[-1, 0].set_xlabel("median time (log scale); in brackets: time / octstore's", fontsize=8)
    figure.tight_layout()
    figure.savefig(CHART, dpi=110)
    plt.close(figure)


def main(elapsed: float | None = None) -> None:
    """Write the summary, the docs page and the chart; ``elapsed``: the seconds a full run
    of every benchmark took (kept from the last summary when not given)."""
    results = load_results()
    if elapsed is None:
        elapsed = _previous_elapsed()
    text = summary(results, elapsed)
    (RESULTS / "SUMMARY.md").write_text(text)
    if not QUICK:
        (DOCS / "performance.md").write_text(docs_page(results, elapsed))
        chart(results)
    print(text)


def _previous_elapsed() -> float | None:
    summary = RESULTS / "SUMMARY.md"
    if not summary.exists():
        return None
    for line in summary.read_text().splitlines():
        if line.startswith("The last full `bench/run.py` took "):
            return float(line.split(" took ")[1].split()[0]) * 60
    return None


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else None)
