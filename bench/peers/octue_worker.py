"""octue's side of the benchmarks: runs in octue's own virtualenv, one operation per line.

Reads JSON lines ``{"op": ..., ...}`` from stdin and answers each with one JSON line on
stdout: ``{"seconds": <time of the timed part>, ...}`` or ``{"error": ...}``. The parent
counts requests at the proxy that ``STORAGE_EMULATOR_HOST`` points at.

octue is used as its documentation shows: ``Dataset(path="gs://...")`` then
``dataset.files.filter(...)``, ``dataset.download(dir)``, ``Dataset(path=dir, files=...)``
with labels and tags then ``dataset.upload(cloud_path)``, ``datafile.update_metadata()``,
``Datafile(path, local_path=...)`` and ``datafile.open()``.

octue always calls ``google.auth.default()``; here it returns anonymous credentials, which
is what the emulator accepts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from typing import Any

import google.auth
from google.auth.credentials import AnonymousCredentials

google.auth.default = lambda *args, **kwargs: (AnonymousCredentials(), "octstore-bench")

import octue  # noqa: E402
from octue.resources import Datafile, Dataset  # noqa: E402

logging.disable(logging.WARNING)
datasets: dict[str, Any] = {}


def load(url: str, label: str, tag: list[Any]) -> dict[str, Any]:
    started = time.perf_counter()
    dataset = Dataset(path=url)
    found = dataset.files.filter(labels__contains=label, **{f"tags__{tag[0]}__equals": tag[1]})
    seconds = time.perf_counter() - started
    datasets[url] = dataset
    return {"seconds": seconds, "files": len(dataset.files), "matches": len(found)}


def prepare(url: str, files: list[str]) -> dict[str, Any]:
    """A cloud dataset of the given files, without timing: octue makes their datafiles
    concurrently (a faster setup than ``Dataset(path=url)``, which reads them one by one)."""
    datasets[url] = Dataset(path=url, files=files)
    return {"files": len(datasets[url].files)}


def download(url: str, directory: str) -> dict[str, Any]:
    dataset = datasets[url]
    started = time.perf_counter()
    dataset.download(directory)
    return {"seconds": time.perf_counter() - started}


def upload(directory: str, url: str, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    datafiles = []
    for relative, metadata in files.items():
        datafile = Datafile(path=os.path.join(directory, relative))
        datafile.labels = metadata["labels"]
        datafile.tags = metadata["tags"]
        datafiles.append(datafile)
    dataset = Dataset(path=directory, files=datafiles)
    started = time.perf_counter()
    dataset.upload(url)
    return {"seconds": time.perf_counter() - started}


def update_metadata(url: str, count: int, tag: list[Any]) -> dict[str, Any]:
    datafiles = sorted(datasets[url].files, key=lambda datafile: datafile.name)
    datafiles = [datafile for datafile in datafiles if not datafile.name.startswith(".")][:count]
    started = time.perf_counter()
    for datafile in datafiles:
        datafile.tags[tag[0]] = tag[1]
        datafile.update_metadata()
    return {"seconds": time.perf_counter() - started}


def open_file(url: str, local_path: str | None = None) -> dict[str, Any]:
    """Open a remote file and read its first byte; with ``local_path`` (a copy made by an
    earlier open), octue checks the copy against the cloud hash instead of downloading."""
    started = time.perf_counter()
    datafile = Datafile(path=url, local_path=local_path) if local_path else Datafile(path=url)
    with datafile.open("rb") as file:
        file.read(1)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "local_path": datafile.local_path}


def first_copy(url: str) -> dict[str, Any]:
    """A local copy of a remote file, to open again with ``open_file(local_path=...)``."""
    path = os.path.join(tempfile.mkdtemp(prefix="octue-bench-"), os.path.basename(url))
    started = time.perf_counter()
    Datafile(path=url).download(path)
    return {"seconds": time.perf_counter() - started, "local_path": path}


OPERATIONS = {
    "version": lambda: {"version": octue.__version__ if hasattr(octue, "__version__") else _v()},
    "load": load,
    "prepare": prepare,
    "download": download,
    "upload": upload,
    "update_metadata": update_metadata,
    "open": open_file,
    "first_copy": first_copy,
}


def _v() -> str:
    from importlib.metadata import version

    return version("octue")


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = OPERATIONS[op](**request)
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
