"""Scenario 10 (``reupload.json``): upload a 200-file local dataset to a new prefix, then upload
it again unchanged, through the latency proxy, on GCS and S3.

- octstore (re-upload): ``Dataset(local).upload(url)`` a second time, nothing having changed
  on either side: it should compare versions and hashes from one listing and write nothing.
- octstore (first upload): the upload before it, to the new prefix, for scale.
- fsspec find: ``fs.find(url, detail=True)`` of the uploaded prefix with a fresh filesystem:
  the listing pages the prefix takes, the re-upload's floor.

Writes are requests with the methods PUT, POST, PATCH or COPY among the proxy's exchanges (an
S3 copy is a PUT, a GCS rewrite a POST); DELETEs are reported apart.

Targets (issue 18): the re-upload makes 0 writes and at most the listing's pages + 1 requests.
"""

from __future__ import annotations

import time
from typing import Any

from harness import (
    QUICK,
    Cloud,
    add_ratios,
    make_local_dataset,
    summarise,
    traffic,
    unique,
    write_result,
)

FILES = 50 if QUICK else 200
RUNS = 1 if QUICK else 3


def bench(cloud: Cloud, backend: str, local: str) -> dict[str, Any]:
    from octstore import Dataset

    options, proxy = cloud.options(backend), cloud.proxies[backend]
    Dataset(local).upload(cloud.url(backend, unique("warm-up")), storage_options=options)
    runs: dict[str, tuple[list[float], list[dict[str, int]]]] = {
        "octstore": ([], []),
        "octstore (first upload)": ([], []),
        "fsspec find": ([], []),
    }
    deletes = []

    def timed(name: str, action: Any) -> list[Any]:
        with proxy.counting() as exchanges:
            started = time.perf_counter()
            action()
            elapsed = time.perf_counter() - started
        runs[name][0].append(elapsed)
        runs[name][1].append(traffic(exchanges))
        return exchanges

    for _ in range(RUNS):
        url = cloud.url(backend, unique("reupload"))
        timed(
            "octstore (first upload)",
            lambda url=url: Dataset(local).upload(url, storage_options=options),
        )
        # A moment later: S3 times have whole seconds, and a manifest entry read in its
        # object's last-modified second is not trusted (see harness.put_dataset).
        time.sleep(1.1)
        exchanges = timed(
            "octstore", lambda url=url: Dataset(local).upload(url, storage_options=options)
        )
        deletes.append(sum(1 for exchange in exchanges if exchange.method == "DELETE"))
        timed("fsspec find", lambda url=url: cloud.fs(backend).find(url, detail=True))
    systems = {name: summarise(*measured) for name, measured in runs.items()}
    add_ratios(systems)
    systems["octstore"]["deletes"] = max(deletes)
    systems["octstore"]["writes_range"] = [
        min(c["writes"] for c in runs["octstore"][1]),
        max(c["writes"] for c in runs["octstore"][1]),
    ]
    return systems


def targets(backend: str, systems: dict[str, Any]) -> list[dict[str, Any]]:
    octstore = systems["octstore"]
    most_writes = octstore["writes_range"][1]
    pages = systems["fsspec find"]["requests"]
    most_requests = octstore["requests_range"][1]
    return [
        {
            "target": f"{backend}: re-upload of {FILES} unchanged files: 0 writes",
            "measured": f"{most_writes} writes (PUT/POST/PATCH/COPY; {octstore['deletes']} "
            f"DELETEs), first upload {systems['octstore (first upload)']['writes']}",
            "met": most_writes == 0,
            "shortfall": f"{most_writes} writes",
        },
        {
            "target": f"{backend}: re-upload requests <= the listing's pages + 1",
            "measured": f"{most_requests} requests ({pages} listing pages); "
            f"{octstore['median_s'] * 1000:.0f} ms vs the first upload's "
            f"{systems['octstore (first upload)']['median_s'] * 1000:.0f} ms",
            "met": most_requests <= pages + 1,
            "shortfall": f"{most_requests - pages - 1} requests over",
        },
    ]


def main() -> None:
    with Cloud() as cloud:
        local = make_local_dataset(FILES)
        systems = {backend: bench(cloud, backend, local) for backend in Cloud.BACKENDS}
        write_result(
            "reupload",
            {
                "scenario": f"10. Re-upload of {FILES} unchanged files",
                "latency_s": cloud.latency,
                "runs": RUNS,
                "notes": [
                    f"A local dataset of {FILES} files of 16 KiB with labels and tags (sidecars).",
                    "Each run uploads it to a new prefix (octstore (first upload)), then "
                    "uploads it there again unchanged (octstore: the figure the targets are "
                    "on), then lists the prefix with a fresh fsspec filesystem (fsspec find: "
                    "the listing pages the prefix takes).",
                    "The re-upload starts 1.1 s after the first upload ends: S3 times have "
                    "whole seconds, and octstore does not trust a manifest entry read in its "
                    "object's last-modified second (a re-upload at once makes a HEAD for each "
                    "such file).",
                    "Writes: PUT, POST, PATCH and COPY requests at the proxy; the targets take "
                    "the worst run.",
                    f"{RUNS} runs; one warm-up upload to another prefix first.",
                ],
                "systems": systems,
                "targets": [t for backend in systems for t in targets(backend, systems[backend])],
            },
        )


if __name__ == "__main__":
    main()
