"""Scenario 8 (``cli.json``): upload then download 200 files of 50 KB on S3 from the command
line, as a new user would, through the latency proxy.

- octstore: ``octstore -q -o endpoint_url=... -o key=... -o secret=... upload DIR URL``, then
  ``octstore ... download URL DIR2`` (two processes, each with octstore's start-up).
- s3fs, the peer: a short script (``python -c``) doing ``fs.put(local_paths, remote_paths)``,
  then the same script doing ``fs.get(remote_paths, local_paths)`` (two processes too).

Each run uploads to a new prefix and downloads into a new directory (and octstore gets a new
cache directory); the time is the wall time of both processes, start-up included, measured
from here. The local folder holds plain files (no sidecars), as a new user's would.

Target (issue 18): octstore's upload + download <= 1.2x the s3fs script's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    QUICK,
    RUNS,
    Cloud,
    add_ratios,
    fresh_dir,
    ratio_target,
    summarise,
    traffic,
    unique,
    write_result,
)

FILES = 20 if QUICK else 200
FILE_SIZE = 50_000
#: octstore's CLI time over the s3fs script's, at most.
TARGET = 1.2

#: The peer: one s3fs call per process, ``put`` or ``get``, on the paths of the files.
S3FS_SCRIPT = """
import os, sys
import s3fs

operation, local, remote, endpoint, key, secret = sys.argv[1:7]
fs = s3fs.S3FileSystem(endpoint_url=endpoint, key=key, secret=secret)
names = sys.argv[7:]
if operation == "put":
    fs.put([os.path.join(local, n) for n in names], [remote + "/" + n for n in names])
else:
    fs.get([remote + "/" + n for n in names], [os.path.join(local, n) for n in names])
"""


def octstore_command() -> list[str]:
    """The ``octstore`` console script next to this interpreter, else ``python -m octstore``."""
    script = Path(sys.executable).parent / "octstore"
    return [str(script)] if script.exists() else [sys.executable, "-m", "octstore"]


def make_folder() -> tuple[str, list[str]]:
    root = fresh_dir("cli")
    names = [f"part-{i % 4}/file-{i:03d}.bin" for i in range(FILES)]
    for name in names:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(os.urandom(FILE_SIZE))
    return root, names


def run(command: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{command[:3]} failed ({completed.returncode}): {completed.stderr[-2000:]}"
        )


def check_download(source: str, target: str, names: list[str]) -> None:
    for name in names:
        with (
            open(os.path.join(source, name), "rb") as a,
            open(os.path.join(target, name), "rb") as b,
        ):
            if a.read() != b.read():
                raise AssertionError(f"{name} downloaded with other content")


def main() -> None:
    with Cloud() as cloud:
        local, names = make_folder()
        proxy = cloud.proxies["s3"]
        options = cloud.options("s3")
        env = {**os.environ}
        octstore = [
            *octstore_command(),
            "-q",
            *(part for key, value in options.items() for part in ("-o", f"{key}={value}")),
        ]

        def octstore_run() -> None:
            url = cloud.url("s3", unique("cli-octstore"))
            target = fresh_dir("cli-octstore-down")
            cache = fresh_dir("cli-octstore-cache")
            run_env = {**env, "OCTSTORE_CACHE_DIR": cache}
            run([*octstore, "upload", local, url], run_env)
            run([*octstore, "download", url, target], run_env)
            check_download(local, target, names)
            shutil.rmtree(target)
            shutil.rmtree(cache)

        def s3fs_run() -> None:
            url = cloud.url("s3", unique("cli-s3fs"))
            target = fresh_dir("cli-s3fs-down")
            credentials = [options["endpoint_url"], options["key"], options["secret"]]
            script = [sys.executable, "-c", S3FS_SCRIPT]
            run([*script, "put", local, url, *credentials, *names], env)
            run([*script, "get", target, url, *credentials, *names], env)
            check_download(local, target, names)
            shutil.rmtree(target)

        systems: dict[str, Any] = {}
        runs: dict[str, tuple[list[float], list[dict[str, int]]]] = {
            "octstore": ([], []),
            "fsspec": ([], []),
        }
        actions = {"octstore": octstore_run, "fsspec": s3fs_run}
        for action in actions.values():
            action()  # warm-up: the interpreters' files are in the page cache for both
        for _ in range(RUNS):  # interleaved, so that both see the same machine
            for name, action in actions.items():
                with proxy.counting() as exchanges:
                    started = time.perf_counter()
                    action()
                    elapsed = time.perf_counter() - started
                runs[name][0].append(elapsed)
                runs[name][1].append(traffic(exchanges))
        for name, (seconds, counts) in runs.items():
            systems[name] = summarise(seconds, counts)
        systems["fsspec (s3fs script)"] = systems.pop("fsspec")
        add_ratios(systems)
        ratio = 1 / systems["fsspec (s3fs script)"]["ratio"]
        write_result(
            "cli",
            {
                "scenario": f"8. CLI: upload then download {FILES} files of 50 KB (S3)",
                "latency_s": cloud.latency,
                "runs": RUNS,
                "notes": [
                    f"{FILES} files of {FILE_SIZE:,} bytes in 4 directories, no sidecars.",
                    "Each system runs as two processes (upload, then download), timed from "
                    "outside: interpreter start-up and imports are counted for both.",
                    "octstore: `octstore -q -o endpoint_url=... -o key=... -o secret=... "
                    "upload DIR URL` then `download URL DIR2`, with a new OCTSTORE_CACHE_DIR "
                    "each run. The peer ('fsspec' here): `python -c` scripts calling s3fs "
                    "`put` then `get` on the lists of paths (content only).",
                    f"{RUNS} runs each after one warm-up run, octstore and s3fs interleaved.",
                ],
                "systems": {"s3": systems},
                "targets": [
                    ratio_target(
                        f"s3: CLI upload + download <= {TARGET:g}x the s3fs script",
                        ratio,
                        at_most=TARGET,
                    )
                ],
            },
        )


if __name__ == "__main__":
    main()
