"""Open an unchanged 100 MB remote object again: the cache must transfer no content.

Against moto (S3) and the GCS emulator on loopback, each measured in the same run:

- first open: an empty cache, so the object is downloaded (median of 5, cache cleared each
  time);
- cached open: the same object again (median of 5): one metadata request, no content.

"Open" is ``Datafile(url).open("rb")`` up to the first byte read, the part the cache
decides; reading all 100 MB afterwards costs the same either way and is reported beside it.

Content requests are counted at the server (its request recording), so "0 content bytes"
is exact, not inferred. Targets: 0 content bytes, cached open < 5% of the first open's time.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import GCS_BUCKET, S3_BUCKET, GcsServer, S3Server  # noqa: E402

SIZE = 100 * 10**6
RUNS = 5
RESULTS = Path(__file__).parent / "results"


def open_and_read(url: str, options: dict[str, object]) -> tuple[float, float]:
    """Seconds to the first byte (the open: the cache's job), and to the last."""
    from octstore import Datafile

    started = time.perf_counter()
    with Datafile(url, storage_options=options).open("rb") as f:
        f.read(1)
        opened = time.perf_counter() - started
        while f.read(2**20):
            pass
    return opened, time.perf_counter() - started


def measure(server: S3Server | GcsServer, url: str, key: str) -> dict[str, object]:
    from octstore import cache

    options = {k: v for k, v in server.storage_options.items() if k != "skip_instance_cache"}
    first = []
    for _ in range(RUNS):
        cache.clear()
        first.append(open_and_read(url, options))
    cached = []
    with server.recording() as requests:
        for _ in range(RUNS):
            cached.append(open_and_read(url, options))
    content_gets = server.content_gets(requests, key)
    first_s = statistics.median(opened for opened, _ in first)
    cached_s = statistics.median(opened for opened, _ in cached)
    return {
        "first_open_median_s": first_s,
        "cached_open_median_s": cached_s,
        "ratio": cached_s / first_s,
        "first_open_and_read_median_s": statistics.median(total for _, total in first),
        "cached_open_and_read_median_s": statistics.median(total for _, total in cached),
        "cached_requests": len(requests) / RUNS,
        "cached_content_requests": content_gets,
        "cached_content_bytes": content_gets * SIZE,
    }


def main() -> None:
    os.environ["OCTSTORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="octstore-bench-cache-")
    data = os.urandom(SIZE)
    s3, gcs = S3Server(), GcsServer()
    s3.start()
    gcs.start()
    results: dict[str, dict[str, object]] = {}
    try:
        import gcsfs
        import s3fs

        s3fs.S3FileSystem(**s3.storage_options).mkdir(S3_BUCKET)
        gcsfs.GCSFileSystem(**gcs.storage_options).mkdir(GCS_BUCKET)
        from octstore import Datafile

        for name, server, bucket in (("s3", s3, S3_BUCKET), ("gcs", gcs, GCS_BUCKET)):
            protocol = "s3" if name == "s3" else "gs"
            url = f"{protocol}://{bucket}/bench/100MB.bin"
            options = {
                k: v for k, v in server.storage_options.items() if k != "skip_instance_cache"
            }
            with Datafile(url, storage_options=options).open("wb") as f:
                f.write(data)
            results[name] = measure(server, url, "bench/100MB.bin")
    finally:
        s3.stop()
        gcs.stop()

    targets = []
    for name, result in results.items():
        content_bytes = int(result["cached_content_bytes"])  # type: ignore[call-overload]
        ratio = float(result["ratio"])  # type: ignore[arg-type]
        targets += [
            {
                "target": f"{name}: cached open transfers 0 content bytes",
                "measured": f"{content_bytes} bytes ({result['cached_requests']} requests/open)",
                "met": content_bytes == 0,
                "shortfall": f"{content_bytes} bytes transferred",
            },
            {
                "target": f"{name}: cached open < 5% of the first open",
                "measured": f"{ratio:.2%} ({float(result['cached_open_median_s']) * 1000:.1f} ms"  # type: ignore[arg-type]
                f" vs {float(result['first_open_median_s']) * 1000:.0f} ms)",  # type: ignore[arg-type]
                "met": ratio < 0.05,
                "shortfall": f"{ratio - 0.05:.2%} over",
            },
        ]
    summary = {"name": "cache-100MB", "runs": RUNS, "results": results, "targets": targets}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cache.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
