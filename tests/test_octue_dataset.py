"""octue's names for loading, moving and serialising a ``Dataset`` (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octstore import Datafile, Dataset
from tests.conftest import Backend

REMOTE = ["memory", "s3", "gcs", "az"]


def write(path: str, data: bytes, options: dict[str, Any] | None = None, **metadata: Any) -> None:
    with Datafile(path, storage_options=options, **metadata).open("wb") as f:
        f.write(data)


def folder(root: Path) -> Path:
    write(str(root / "a.csv"), b"a", labels=["top"])
    write(str(root / "sub" / "b.csv"), b"b", tags={"depth": 1})
    return root


def test_from_local_directory_loads_the_folder_and_takes_dataset_arguments(
    tmp_path: Path,
) -> None:
    dataset = Dataset.from_local_directory(folder(tmp_path / "data"), tags={"k": 1})

    assert sorted(df.name for df in dataset) == ["a.csv", "b.csv"]
    assert dataset.tags == {"k": 1}
    flat = Dataset.from_local_directory(tmp_path / "data", recursive=False)
    assert [df.name for df in flat] == ["a.csv"]


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_to_cloud_uploads_and_from_cloud_loads_it_again(backend: Backend, tmp_path: Path) -> None:
    dataset = Dataset.from_local_directory(folder(tmp_path / "data"), labels=["set"])

    where = dataset.to_cloud(backend.url("copy"))

    assert where == dataset.path == backend.url("copy")
    again = Dataset.from_cloud(backend.url("copy"), storage_options=backend.storage_options)
    assert again.labels == {"set"}
    assert {df.name: df.tags for df in again} == {"a.csv": {}, "b.csv": {"depth": 1}}


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_download_all_files_copies_a_remote_dataset_keeping_its_folders(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend.url("a.csv"), b"a", backend.storage_options)
    write(backend.url("sub", "b.csv"), b"b", backend.storage_options)
    dataset = Dataset(backend.root, storage_options=backend.storage_options)

    dataset.download_all_files(tmp_path / "here")

    assert (tmp_path / "here" / "a.csv").read_bytes() == b"a"
    assert (tmp_path / "here" / "sub" / "b.csv").read_bytes() == b"b"


def test_to_primitive_lists_the_files_and_deserialise_reads_it_back(tmp_path: Path) -> None:
    dataset = Dataset(folder(tmp_path / "data"), name="wind", labels=["set"], tags={"k": 1})

    primitive = json.loads(json.dumps(dataset.to_primitive()))

    assert primitive["files"] == [
        str(tmp_path / "data" / "a.csv"),
        str(tmp_path / "data" / "sub" / "b.csv"),
    ]
    again = Dataset.deserialise(primitive)
    assert (again.id, again.name, again.labels, again.tags) == (
        dataset.id,
        "wind",
        {"set"},
        {"k": 1},
    )
    assert [df.path for df in again] == primitive["files"]
    assert {df.name: df.labels for df in again}["a.csv"] == {"top"}


def test_a_folder_octue_wrote_loads_with_the_datasets_own_metadata(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    octue_file = {
        "dataset": {
            "id": "5d2b9e2c-0c6e-4d8c-9d8e-6b1f3c1e2a77",
            "name": "turbines",
            "labels": {"_type": "set", "items": ["wind"]},
            "tags": {"site": "north"},
            "path": str(tmp_path),
            "files": [str(tmp_path / "a.csv")],
        },
        "datafiles": {"a.csv": {"id": "9a1f9b26-6a48-4f2d-be80-468d3270d79b", "labels": []}},
    }
    (tmp_path / ".octue").write_text(json.dumps(octue_file))

    dataset = Dataset(tmp_path)

    assert (dataset.id, dataset.name) == ("5d2b9e2c-0c6e-4d8c-9d8e-6b1f3c1e2a77", "turbines")
    assert (dataset.labels, dataset.tags) == ({"wind"}, {"site": "north"})
    assert [df.id for df in dataset] == ["9a1f9b26-6a48-4f2d-be80-468d3270d79b"]
    assert not (tmp_path / ".octstore-dataset.json").exists()  # a read writes nothing
