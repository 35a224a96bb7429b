"""Read one 1 MB dataset of a 200 MB HDF5 file on S3 and GCS: how many bytes cross the wire.

A 200 MB HDF5 file, uncompressed (200 groups ``runs/rNNN`` with attributes and a 20 kB
dataset each, an 8 MB chunked dataset ``grid``, a 187 MB dataset ``big``, and last the
1 MB dataset ``small``), is put on moto (S3) and the GCS emulator. Each is read through a
byte-counting proxy on loopback that adds 20 ms to every request, like a nearby cloud region:

- partial read: ``Datafile(url).open()`` and ``f["small"][:]``, the default (parts of the
  version just checked, fetched as h5py asks for them);
- full download: the same with ``open("r", download=True)``, for comparison.

Bytes (response bodies) and requests are counted by the proxy, so they are exact.
Target: the partial read transfers < 10% of the file's bytes.

Then, to justify the defaults (fsspec's ``mmap`` cache with 1 MiB blocks), four reads are
repeated over GCS with other caches and block sizes: the small dataset; a walk of every
group, dataset and attribute; 100 rows of the chunked dataset (10 chunks); a 10 MB slice of
the large dataset. (moto reads a whole object to serve each range of it, about 0.2 s for
this one, which would drown the differences; the emulator does not.)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from tests.proxy import Proxy  # noqa: E402
from tests.servers import GCS_BUCKET, S3_BUCKET, GcsServer, S3Server  # noqa: E402

MB = 10**6
LATENCY = 0.020
RUNS = 3
RESULTS = Path(__file__).parent / "results"
BLOCK_SIZES = (256 * 2**10, 2**20, 4 * 2**20)
CACHE_TYPES = ("mmap", "blockcache", "readahead", "bytes")


def make_file(path: Path) -> None:
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "wind farm"
        for i in range(200):
            run = f.create_group(f"runs/r{i:03d}")
            run.attrs["turbine"] = i
            run.create_dataset("speed", data=rng.random(2500))
        f.create_dataset("grid", data=rng.random((1000, 1000)), chunks=(100, 100))
        f.create_dataset("big", data=rng.integers(0, 256, size=187 * MB, dtype=np.uint8))
        f.create_dataset("small", data=np.arange(MB // 8, dtype=np.float64))


READS: dict[str, Callable[[Any], object]] = {
    "small dataset": lambda f: f["small"][:],
    "walk all metadata": lambda f: f.visititems(lambda name, obj: dict(obj.attrs)),
    "100 chunked rows": lambda f: f["grid"][500:600, :],
    "10 MB slice": lambda f: f["big"][50 * MB : 60 * MB],
}


def partial_and_full(url: str, options: dict[str, Any], proxy: Proxy) -> dict[str, Any]:
    from octstore import Datafile, cache

    result: dict[str, Any] = {}
    for name, download in (("partial_read", False), ("full_download", True)):
        times, counted = [], []
        for _ in range(RUNS):
            cache.clear()
            started = time.perf_counter()
            with proxy.counting() as traffic:
                df = Datafile(url, storage_options=options)
                with df.open("r", download=download) as f:
                    assert f["small"][-1] == MB // 8 - 1
            times.append(time.perf_counter() - started)
            counted.append(traffic)
        result[name] = {
            "bytes_received": counted[0].bytes_down,
            "bytes_sent": counted[0].bytes_up,
            "requests": counted[0].requests,
            "median_seconds": statistics.median(times),
        }
    return result


def sweep(url: str, options: dict[str, Any], proxy: Proxy) -> list[dict[str, Any]]:
    """Each read with each cache and block size, as ``Datafile.open`` does it."""
    from octstore.backends import backend_for
    from octstore.datafile.ranges import VersionFile
    from octstore.location import Location

    location = Location(url, options)
    backend = backend_for(location)
    state = backend.stat(location)
    rows = []
    for read_name, read in READS.items():
        for cache_type in CACHE_TYPES:
            for block_size in BLOCK_SIZES:
                with proxy.counting() as traffic:
                    started = time.perf_counter()
                    with (
                        VersionFile(
                            location,
                            state,
                            backend.read_range,
                            block_size=block_size,
                            cache_type=cache_type,
                        ) as stream,
                        h5py.File(stream, "r") as f,
                    ):
                        read(f)
                    seconds = time.perf_counter() - started
                rows.append(
                    {
                        "read": read_name,
                        "cache_type": cache_type,
                        "block_size": block_size,
                        "requests": stream.requests,
                        "bytes_received": traffic.bytes_down,
                        "seconds": seconds,
                    }
                )
    return rows


def main() -> None:
    os.environ["OCTSTORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="octstore-bench-cache-")
    local = Path(tempfile.mkdtemp(prefix="octstore-bench-hdf5-")) / "farm.h5"
    make_file(local)
    size = local.stat().st_size
    s3, gcs = S3Server(), GcsServer()
    s3.start()
    gcs.start()
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    try:
        import gcsfs
        import s3fs

        for name, server, fs_class, url in (
            ("s3", s3, s3fs.S3FileSystem, f"s3://{S3_BUCKET}/bench/farm.h5"),
            ("gcs", gcs, gcsfs.GCSFileSystem, f"gs://{GCS_BUCKET}/bench/farm.h5"),
        ):
            fs = fs_class(**server.storage_options)
            fs.mkdir(url.split("/")[2])
            fs.put(str(local), url)
            proxy = Proxy(server.endpoint_url, latency=LATENCY)
            proxy.start()
            try:
                options = {
                    **{
                        k: v
                        for k, v in server.storage_options.items()
                        if k != "skip_instance_cache"
                    },
                    "endpoint_url": proxy.endpoint_url,
                }
                results[name] = partial_and_full(url, options, proxy)
                if name == "gcs":
                    rows = sweep(url, options, proxy)
            finally:
                proxy.stop()
    finally:
        s3.stop()
        gcs.stop()

    targets = []
    for name, result in results.items():
        partial = result["partial_read"]
        share = partial["bytes_received"] / size
        print(
            f"{name}: reading the 1 MB dataset of a {size / MB:.1f} MB file transferred "
            f"{partial['bytes_received']:,} bytes ({share:.2%} of the file) in "
            f"{partial['requests']} requests, {partial['median_seconds'] * 1000:.0f} ms; "
            f"downloading it all: {result['full_download']['bytes_received']:,} bytes, "
            f"{result['full_download']['median_seconds'] * 1000:.0f} ms"
        )
        targets.append(
            {
                "target": f"{name}: reading a 1 MB dataset of a 200 MB HDF5 file transfers "
                "< 10% of the file's bytes",
                "measured": f"{share:.2%} ({partial['bytes_received']:,} of {size:,} bytes, "
                f"{partial['requests']} requests)",
                "met": share < 0.10,
                "shortfall": f"{share - 0.10:.2%} over",
            }
        )
    print(f"\n{'read':18s} {'cache':10s} {'block':>6s} {'requests':>8s} {'MB':>7s} {'ms':>6s}")
    for row in rows:
        print(
            f"{row['read']:18s} {row['cache_type']:10s} {row['block_size'] // 2**10:5d}K "
            f"{row['requests']:8d} {row['bytes_received'] / MB:7.2f} {row['seconds'] * 1000:6.0f}"
        )
    summary = {
        "name": "hdf5-partial-read",
        "file_bytes": size,
        "latency_per_request_s": LATENCY,
        "runs": RUNS,
        "results": results,
        "cache_sweep_gcs": rows,
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hdf5.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
