"""Hostile metadata is reported for its own file, with its path, and never stops the others.

Timestamps at the edges of the representable range, POSIX numbers of any size, and metadata
files that are not regular files (a FIFO, ``/dev/zero`` behind a symlink) or are too large.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from octstore import (
    Datafile,
    Dataset,
    InvalidMetadataError,
    Metadata,
    OctstoreError,
    OctstoreWarning,
)
from tests.conftest import Backend

EDGE_OF_RANGE = [
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+01:00",
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-1))),
    datetime.min.replace(tzinfo=timezone(timedelta(hours=1))),
    1e20,
    -1e20,
    10**400,
    "1e400",
    float("inf"),
    float("nan"),
]


@pytest.mark.parametrize("timestamp", EDGE_OF_RANGE, ids=repr)
def test_a_timestamp_beyond_the_range_is_an_invalid_metadata_error(timestamp: Any) -> None:
    with pytest.raises(InvalidMetadataError, match="out of range"):
        Metadata(timestamp=timestamp)


@pytest.mark.parametrize("seconds", [2e10 + 1, 3e10, 10**11, "30000000000", -3e10])
def test_a_posix_number_is_seconds_whatever_its_size(seconds: float | str) -> None:
    expected = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=float(seconds))

    assert Metadata(timestamp=seconds).timestamp == expected


@pytest.mark.parametrize(
    "timestamp",
    [
        datetime.max,
        datetime.max.replace(tzinfo=timezone.utc),
        datetime.min.replace(tzinfo=timezone.utc),
        "9999-12-31T23:59:59+14:00",
        253402300799,  # 9999-12-31T23:59:59Z
    ],
    ids=repr,
)
def test_a_timestamp_at_the_edge_of_the_range_round_trips(backend: Backend, timestamp: Any) -> None:
    datafile = Datafile(
        backend.url("edge.csv"), timestamp=timestamp, storage_options=backend.storage_options
    )
    with datafile.open("w") as file:
        file.write("x")

    read = Datafile(backend.url("edge.csv"), storage_options=backend.storage_options)
    assert read.timestamp == datafile.timestamp
    assert read.timestamp is not None
    assert read.timestamp.year in (1, 9999)


def _write(backend: Backend, name: str, **metadata: Any) -> None:
    datafile = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with datafile.open("w") as file:
        file.write("x")


def _set_stored_timestamp(backend: Backend, name: str, timestamp: str) -> None:
    """Put ``timestamp`` into ``name``'s stored metadata behind octstore's back."""
    if not backend.is_cloud:
        sidecar = f".{name}.octstore.json"
        document = json.loads(backend.read(sidecar))
        backend.write(sidecar, json.dumps({**document, "timestamp": timestamp}).encode())
        return
    bucket, key = backend.url(name).split("://", 1)[1].split("/", 1)
    if backend.name == "s3":
        head = backend.fs.call_s3("head_object", Bucket=bucket, Key=key)
        metadata = {**head["Metadata"], "octstore-timestamp": timestamp}
        backend.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=b"x", Metadata=metadata)
    elif backend.name == "az":
        stored = backend.fs.info(backend.url(name), refresh=True)["metadata"]
        backend.fs.setxattrs(backend.url(name), **{**stored, "octstore_timestamp": timestamp})
    else:
        patch = {"metadata": {"octstore-timestamp": timestamp}}
        backend.fs.call("PATCH", "b/{}/o/{}", bucket, key, json=patch, json_out=True)
    backend.fs.invalidate_cache()


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_stored_timestamp_beyond_the_range_is_reported_for_its_file_only(
    backend: Backend, timestamp: str
) -> None:
    _write(backend, "good.csv", labels=["kept"])
    _write(backend, "bad.csv", labels=["bad"])
    _set_stored_timestamp(backend, "bad.csv", timestamp)

    with pytest.warns(OctstoreWarning) as caught:
        dataset = Dataset(backend.url(), storage_options=backend.storage_options)

    assert {datafile.name for datafile in dataset} == {"good.csv", "bad.csv"}
    assert set(dataset.files.one(name="good.csv").labels) == {"kept"}
    assert any("bad.csv" in str(warning.message) for warning in caught)
    assert not any("good.csv" in str(warning.message) for warning in caught)
    with pytest.warns(OctstoreWarning, match="bad.csv"):
        alone = Datafile(backend.url("bad.csv"), storage_options=backend.storage_options)
    assert alone.timestamp is None


def test_a_fifo_sidecar_is_ignored_without_hanging(tmp_path: Path) -> None:
    _local(tmp_path)
    os.remove(tmp_path / ".bad.csv.octstore.json")
    os.mkfifo(tmp_path / ".bad.csv.octstore.json")
    results: dict[str, Any] = {}

    def load() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results["dataset"] = {d.name: set(d.labels) for d in Dataset(str(tmp_path))}
            results["alone"] = set(Datafile(str(tmp_path / "bad.csv")).labels)
        results["warnings"] = [str(warning.message) for warning in caught]

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # unblock the reader, so the test run can end
        with open(tmp_path / ".bad.csv.octstore.json", "wb"):
            pass
        pytest.fail("reading a FIFO sidecar hung")

    assert results["dataset"] == {"good.csv": {"kept"}, "bad.csv": set()}
    assert results["alone"] == set()
    assert any(".bad.csv.octstore.json" in message for message in results["warnings"])


def _local(root: Path) -> None:
    for name, label in (("good.csv", "kept"), ("bad.csv", "lost")):
        with Datafile(str(root / name), labels=[label]).open("w") as file:
            file.write("x")


def test_a_sidecar_symlinked_to_dev_zero_is_ignored_in_bounded_memory(tmp_path: Path) -> None:
    _local(tmp_path)
    os.remove(tmp_path / ".bad.csv.octstore.json")
    os.symlink("/dev/zero", tmp_path / ".bad.csv.octstore.json")
    # In a child with 1 GiB of address space, so that a reader that reads it all fails fast
    # rather than exhausting the machine.
    script = textwrap.dedent(
        f"""
        import resource, warnings
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from octstore import Datafile, Dataset
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            listed = {{d.name: sorted(d.labels) for d in Dataset({str(tmp_path)!r})}}
            alone = sorted(Datafile({str(tmp_path / "bad.csv")!r}).labels)
        print(listed, alone, any("not a regular file" in str(w.message) for w in caught))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{'bad.csv': [], 'good.csv': ['kept']} [] True"


def test_an_oversized_sidecar_is_ignored_with_a_warning(backend: Backend) -> None:
    if backend.is_cloud:  # a spilled sidecar object
        labels = [f"l{j}-" + "x" * 100 for j in range(100)]
        _write(backend, "bad.csv", labels=labels)
    else:
        _write(backend, "bad.csv", labels=["lost"])
    _write(backend, "good.csv", labels=["kept"])
    huge = {
        "octstore": 1,
        "id": Datafile(backend.url("bad.csv"), storage_options=backend.storage_options).id,
    }
    huge["tags"] = {"padding": "p" * 2**21}  # valid, and 2 MiB
    backend.write(".bad.csv.octstore.json", json.dumps(huge).encode())

    with pytest.warns(OctstoreWarning, match=r"\.bad\.csv\.octstore\.json.*bytes"):
        dataset = Dataset(backend.url(), storage_options=backend.storage_options)

    assert {d.name: set(d.labels) for d in dataset} == {"good.csv": {"kept"}, "bad.csv": set()}
    with pytest.warns(OctstoreWarning, match=r"\.bad\.csv\.octstore\.json.*bytes"):
        alone = Datafile(backend.url("bad.csv"), storage_options=backend.storage_options)
    assert alone.tags == {}


def test_metadata_too_large_to_read_back_is_refused_when_written(backend: Backend) -> None:
    datafile = Datafile(
        backend.url("big.csv"),
        tags={"padding": "p" * 2**21},
        storage_options=backend.storage_options,
    )

    # refused at the write-back, as a NotWrittenError carrying the reason
    with (
        pytest.raises(OctstoreError, match="more than octstore reads back"),
        datafile.open("w") as file,
    ):
        file.write("x")

    assert not backend.fs.exists(backend.url("big.csv"))
