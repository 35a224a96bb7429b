"""Scenario 12 (``scaling.json``): load a dataset and filter it by a label and a tag at 1k, 10k
and 100k files (local) and 1k and 10k files (S3, through the latency proxy): time, requests,
peak RSS and memory per loaded datafile, octstore against its peer; and writing the manifest
of a 100k-file local folder.

Every measurement runs in a fresh process (this script with ``--worker``), which times the
load and filter itself (not its start-up) and reports ``resource.getrusage(RUSAGE_SELF)
.ru_maxrss`` (peak RSS) and its RSS just before and just after the load (``/proc/self/statm``),
with the dataset still alive: (after - before) / files is the memory a loaded datafile holds.
Modules are imported (and octstore loads a 1-file folder; on S3, the client is made) before
the first RSS reading.

- local, sidecars: a folder of small files (100 bytes), each with its labels and tags in an
  octstore sidecar, no manifest: ``Dataset(path).files.filter(...)``;
- local, manifest: the same folder after ``Dataset(path).update_metadata()`` wrote its
  manifest (that write is measured too, in its own process: load, then write);
- the local peer: ``os.scandir`` through the folder, each file's size and its sidecar's JSON
  read into a list of dicts, filtered by a comprehension;
- S3: the same folders (1k, 10k) uploaded with octstore and indexed (a manifest), loaded
  through the proxy; the peer is s3fs ``find(path, detail=True)`` (the listing, no metadata).

Targets (issue 18): local 100k load (with manifest) <= 2x the peer; 10k S3 load <= 1.2x s3fs
``find``; a loaded datafile <= 1.5 KB (local 100k and S3 10k); writing a 100k manifest < 5 s
and < 300 MiB peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

#: 1k, 10k, 100k files locally; 1k, 10k on S3 (quick mode: a few hundred and a thousand).
QUICK = os.environ.get("OCTSTORE_BENCH_QUICK", "") not in ("", "0")
LOCAL_SIZES = (300, 1000) if QUICK else (1000, 10_000, 100_000)
S3_SIZES = (300,) if QUICK else (1000, 10_000)
#: Runs per case: 3, but 1 at 100k files.
RUNS_SMALL = 1 if QUICK else 3
LARGE = 100_000
DATA_SIZE = 100
#: Targets.
LOCAL_FACTOR = 2.0
S3_FACTOR = 1.2
PER_DATAFILE = 1500
MANIFEST_SECONDS = 5.0
MANIFEST_RSS = 300 * 2**20

LABEL, TAG = "raw", ("site", "north")


def runs_for(size: int) -> int:
    return 1 if size >= LARGE else RUNS_SMALL


# --- the worker: one measurement in a fresh process ---------------------------------------


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def octstore_load(path: str, options: dict[str, Any] | None) -> tuple[Any, int]:
    from octstore import Dataset

    dataset = Dataset(path, storage_options=options)
    found = dataset.files.filter(labels__contains=LABEL, **{f"tags__{TAG[0]}": TAG[1]})
    return dataset, len(found)


def peer_local(path: str) -> tuple[Any, int]:
    """``os.scandir`` through the folder, each file's size and sidecar read, filtered."""
    records: list[dict[str, Any]] = []
    pending = [path]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif not entry.name.startswith("."):
                    sidecar = os.path.join(
                        os.path.dirname(entry.path), f".{entry.name}.octstore.json"
                    )
                    try:
                        with open(sidecar, "rb") as f:
                            metadata = json.loads(f.read())
                    except FileNotFoundError:
                        metadata = {}
                    records.append(
                        {
                            "path": entry.path,
                            "size": entry.stat(follow_symlinks=False).st_size,
                            **metadata,
                        }
                    )
    found = [
        record
        for record in records
        if LABEL in record.get("labels", ()) and record.get("tags", {}).get(TAG[0]) == TAG[1]
    ]
    return records, len(found)


def peer_s3(path: str, options: dict[str, Any]) -> tuple[Any, int]:
    """s3fs ``find(detail=True)``: the listing (S3 listings carry no metadata)."""
    import fsspec

    fs = fsspec.filesystem("s3", **options)  # the instance the worker's warm-up made
    found = fs.find(path, detail=True)
    return found, sum(1 for name in found if not name.rsplit("/", 1)[-1].startswith("."))


def worker(job: dict[str, Any]) -> dict[str, Any]:
    system, path, options = job["system"], job["path"], job.get("options")
    import gc

    import octstore

    if path.startswith("s3://"):
        import fsspec
        from fsspec.asyn import sync

        import octstore.backends.s3  # noqa: F401

        # The S3 client (botocore's service models: ~20 MiB, ~1 s) made before the first
        # reading, on the filesystem instance that both systems get for these options.
        sync(
            fsspec.filesystem("s3", **options).loop, fsspec.filesystem("s3", **options).set_session
        )
    if system in ("octstore", "write_manifest"):
        octstore_load(job["warmup"], None)  # modules and caches, before the first reading
    gc.collect()
    before = rss()
    started = time.perf_counter()
    answer: dict[str, Any] = {}
    if system == "octstore":
        kept, matches = octstore_load(path, options)
        files = len(kept)
    elif system == "peer":
        kept, matches = peer_s3(path, options) if options else peer_local(path)
        files = len(kept)
    else:
        from octstore import Dataset

        kept = Dataset(path)
        answer["load_s"] = time.perf_counter() - started
        written = time.perf_counter()
        kept.update_metadata()
        answer["write_s"] = time.perf_counter() - written
        files, matches = len(kept), 0
    seconds = time.perf_counter() - started
    after = rss()
    return {
        **answer,
        "seconds": seconds,
        "files": files,
        "matches": matches,
        "rss_before": before,
        "rss_after": after,
        "peak_rss": peak_rss(),
    }


# --- the parent ---------------------------------------------------------------------------


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {job['system']} failed: {completed.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return answer


def make_folder(count: int) -> str:
    """``count`` files of 100 bytes in 10 directories, each with an octstore sidecar holding
    its id, labels and tags (written directly, as octstore writes them)."""
    from harness import file_metadata, fresh_dir, relative_name

    root = fresh_dir(f"scaling-{count}")
    for directory in {os.path.dirname(relative_name(i)) for i in range(min(count, 10))}:
        os.makedirs(os.path.join(root, directory))
    for i in range(count):
        path = os.path.join(root, relative_name(i))
        with open(path, "wb") as f:
            f.write(os.urandom(DATA_SIZE))
        directory, name = os.path.split(path)
        sidecar = {"octstore": 1, "id": str(uuid.uuid4()), "timestamp": None, **file_metadata(i)}
        with open(os.path.join(directory, f".{name}.octstore.json"), "w") as f:
            json.dump(sidecar, f, indent=2)
    return root


def case(
    job: dict[str, Any], runs: int, proxy: Any = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``job`` ``runs`` times, each in a fresh worker; a system's result and the answers."""
    answers, requests = [], []
    for _ in range(runs):
        if proxy is not None:
            with proxy.counting() as exchanges:
                answers.append(run_worker(job))
            requests.append(len(exchanges))
        else:
            answers.append(run_worker(job))
    files = answers[0]["files"]
    held = statistics.median(a["rss_after"] - a["rss_before"] for a in answers)
    measured: dict[str, Any] = {
        "median_s": statistics.median(a["seconds"] for a in answers),
        "runs_s": [a["seconds"] for a in answers],
        "files": files,
        "matches": answers[0]["matches"],
        "peak_rss_bytes": int(statistics.median(a["peak_rss"] for a in answers)),
        "held_bytes": int(held),
        "bytes_per_file": held / files if files else None,
    }
    if proxy is not None:
        measured["requests"] = int(statistics.median(requests))
        measured["requests_range"] = [min(requests), max(requests)]
    return measured, answers


def upload_to_s3(cloud: Any, local: str, prefix: str) -> str:
    """The local folder on S3 with octstore (without the proxy), then its manifest indexed."""
    from octstore import Dataset

    url = cloud.url("s3", prefix)
    options = cloud.direct_options("s3")
    Dataset(local).upload(url, storage_options=options, concurrency=64)
    time.sleep(1.1)  # S3 times have whole seconds: see harness.put_dataset
    Dataset(url, storage_options=options).update_metadata()
    return url


def ratio_of(systems: dict[str, Any], octstore: str, peer: str) -> float:
    return float(systems[octstore]["median_s"] / systems[peer]["median_s"])


def main() -> None:
    from harness import Cloud, fresh_dir, ratio_target, write_result

    warmup = fresh_dir("scaling-warmup")
    with open(os.path.join(warmup, "one.bin"), "wb") as f:
        f.write(b"1")
    local_systems: dict[str, dict[str, Any]] = {}
    s3_systems: dict[str, dict[str, Any]] = {}
    folders: dict[int, str] = {}
    manifest_write: dict[str, Any] = {}
    for size in LOCAL_SIZES:
        started = time.perf_counter()
        folders[size] = folder = make_folder(size)
        print(f"folder of {size}: {time.perf_counter() - started:.0f} s", flush=True)
        runs = runs_for(size)
        job = {"path": folder, "warmup": warmup}
        backend = f"local {size:,}"
        systems = local_systems[backend] = {}
        systems["octstore (sidecars)"], _ = case({**job, "system": "octstore"}, runs)
        systems["peer (scandir + sidecars)"], _ = case({**job, "system": "peer"}, runs)
        written, answers = case({**job, "system": "write_manifest"}, 1)
        written |= {"load_s": answers[0]["load_s"], "write_s": answers[0]["write_s"]}
        systems["octstore (writing the manifest)"] = written
        manifest_write[backend] = written
        systems["octstore"], _ = case({**job, "system": "octstore"}, runs)
        if len({m["matches"] for m in systems.values() if "write_s" not in m}) != 1:
            raise AssertionError(f"{backend}: the systems found different files: {systems}")
        print(f"{backend}: {time.perf_counter() - started:.0f} s", flush=True)
    with Cloud() as cloud:
        proxy, options = cloud.proxies["s3"], cloud.options("s3")
        for size in S3_SIZES:
            started = time.perf_counter()
            local = folders.get(size) or make_folder(size)
            url = upload_to_s3(cloud, local, f"scaling-{size}")
            print(f"s3 {size}: set-up {time.perf_counter() - started:.0f} s", flush=True)
            job = {"path": url, "options": options, "warmup": warmup}
            systems = s3_systems[f"s3 {size:,}"] = {}
            systems["octstore"], _ = case({**job, "system": "octstore"}, RUNS_SMALL, proxy)
            systems["fsspec (s3fs find)"], _ = case({**job, "system": "peer"}, RUNS_SMALL, proxy)
            print(f"s3 {size}: {time.perf_counter() - started:.0f} s", flush=True)
    all_systems = {**local_systems, **s3_systems}
    for systems in all_systems.values():
        base = systems["octstore"]["median_s"]
        for measured in systems.values():
            measured["ratio"] = measured["median_s"] / base

    largest_local, largest_s3 = f"local {max(LOCAL_SIZES):,}", f"s3 {max(S3_SIZES):,}"
    local = local_systems[largest_local]
    s3 = s3_systems[largest_s3]
    targets = [
        ratio_target(
            f"{largest_local} files (manifest): load <= {LOCAL_FACTOR:g}x scandir + sidecars",
            ratio_of(local, "octstore", "peer (scandir + sidecars)"),
            at_most=LOCAL_FACTOR,
        ),
        ratio_target(
            f"{largest_s3} files: load <= {S3_FACTOR:g}x s3fs find",
            ratio_of(s3, "octstore", "fsspec (s3fs find)"),
            at_most=S3_FACTOR,
        ),
    ]
    targets[0]["measured"] += (
        f" ({local['octstore']['median_s']:.2f} s vs "
        f"{local['peer (scandir + sidecars)']['median_s']:.2f} s)"
    )
    targets[1]["measured"] += (
        f" ({s3['octstore']['median_s']:.2f} s, {s3['octstore']['requests']} requests, vs "
        f"{s3['fsspec (s3fs find)']['median_s']:.2f} s, "
        f"{s3['fsspec (s3fs find)']['requests']} requests)"
    )
    for name, systems in ((largest_local, local), (largest_s3, s3)):
        octstore = systems["octstore"]
        peer = next(m for key, m in systems.items() if not key.startswith("octstore"))
        per_file = octstore["bytes_per_file"]
        targets.append(
            {
                "target": f"{name} files: a loaded datafile <= {PER_DATAFILE / 1000:g} KB",
                "measured": f"{per_file / 1000:.2f} KB (peer {peer['bytes_per_file'] / 1000:.2f} "
                f"KB); peak RSS {octstore['peak_rss_bytes'] / 2**20:.0f} MiB (peer "
                f"{peer['peak_rss_bytes'] / 2**20:.0f} MiB)",
                "met": per_file <= PER_DATAFILE,
                "shortfall": f"{per_file / PER_DATAFILE - 1:.0%} over",
            }
        )
    written = manifest_write[largest_local]
    write_ok = written["write_s"] < MANIFEST_SECONDS
    rss_ok = written["peak_rss_bytes"] < MANIFEST_RSS
    targets.append(
        {
            "target": f"{largest_local} files: writing the manifest < {MANIFEST_SECONDS:g} s and "
            f"< {MANIFEST_RSS // 2**20} MiB peak RSS",
            "measured": f"update_metadata() {written['write_s']:.2f} s (after a "
            f"{written['load_s']:.2f} s load), peak RSS {written['peak_rss_bytes'] / 2**20:.0f} "
            "MiB",
            "met": write_ok and rss_ok,
            "shortfall": ", ".join(
                problem
                for ok, problem in (
                    (write_ok, f"{written['write_s'] - MANIFEST_SECONDS:.2f} s over"),
                    (rss_ok, f"{(written['peak_rss_bytes'] - MANIFEST_RSS) / 2**20:.0f} MiB over"),
                )
                if not ok
            ),
        }
    )
    write_result(
        "scaling",
        {
            "scenario": "12. Scaling: load and filter 1k to 100k files; write a 100k manifest",
            "latency_s": 0.02,
            "runs": RUNS_SMALL,
            "notes": [
                "Each figure comes from a fresh process: its own time for the load and filter "
                "(start-up not counted), its peak RSS (`ru_maxrss`), and its RSS before and "
                "after the load with the dataset alive ((after - before) / files: memory per "
                "loaded datafile). Modules are imported, octstore loads a 1-file folder, and "
                "on S3 the s3fs filesystem makes its client (no request), before the first "
                "RSS reading; both systems use that filesystem instance.",
                f"Local folders: {DATA_SIZE}-byte files in 10 directories, each with a sidecar "
                "(labels, tags, id). 'octstore (sidecars)': no manifest; 'octstore': after "
                "`Dataset(path).update_metadata()` wrote one. Their peer: `os.scandir` through "
                "the folder, each file's size and its sidecar's JSON into a list, filtered.",
                "'octstore (writing the manifest)': `Dataset(path).update_metadata()` on the "
                "folder without a manifest; its time is the load and the write (the write "
                "alone is in the targets).",
                "S3: the same folders uploaded and indexed with octstore, loaded through the "
                "20 ms proxy; the peer is s3fs `find(path, detail=True)` (S3 listings carry no "
                "metadata). Requests are counted at the proxy.",
                f"{RUNS_SMALL} runs per case at 1k and 10k files, 1 at 100k.",
            ],
            "systems": all_systems,
            "targets": targets,
        },
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(json.loads(sys.argv[2]))))
    else:
        main()
