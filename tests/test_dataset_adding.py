"""Adding a file to a dataset: by reference, or copied into the dataset's folder at a path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from octstore import (
    AlreadyExistsError,
    Datafile,
    Dataset,
    OctstoreError,
    OctstoreWarning,
    UnsafePathError,
)
from tests.conftest import Backend


def write(path: str, data: bytes = b"hello", options: dict[str, Any] | None = None) -> Datafile:
    df = Datafile(path, storage_options=options, labels=["raw"], tags={"site": "north"})
    with df.open("wb") as f:
        f.write(data)
    return df


def empty(backend: Backend, name: str = "dataset") -> Dataset:
    with pytest.warns(OctstoreWarning, match="empty"):  # or not there yet
        return Dataset(backend.url(name), storage_options=backend.storage_options)


@pytest.fixture(params=["local", "same"])
def source(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> Datafile:
    """A datafile outside the dataset: a local one, or one on the dataset's backend."""
    if request.param == "local":
        return write(str(tmp_path / "elsewhere" / "reading.dat"))
    return write(backend.url("elsewhere", "reading.dat"), options=backend.storage_options)


def at(datafile: Datafile, backend: Backend) -> str | None:
    """Where ``datafile`` is on ``backend``'s side: its path, or its other copy there."""
    if backend.name == "local":
        return datafile.local_path if datafile.cloud_path is None else datafile.path
    return datafile.cloud_path


def test_add_copies_a_file_from_outside_the_dataset_into_it_by_name(
    backend: Backend, source: Datafile
) -> None:
    ds = empty(backend)

    held = ds.add(source)

    assert held is source  # moved there, as octue's add() does
    assert at(source, backend) == backend.url("dataset", "reading.dat")
    assert source in ds
    assert backend.read("dataset/reading.dat") == b"hello"


def test_add_references_a_file_already_inside_the_dataset(backend: Backend) -> None:
    inside = write(backend.url("dataset", "sub", "reading.dat"), options=backend.storage_options)
    ds = Dataset(backend.url("dataset"), storage_options=backend.storage_options)
    ds.remove(inside.path)

    ds.add(inside)

    assert inside.path == backend.url("dataset", "sub", "reading.dat")
    assert [df.path for df in ds] == [inside.path]
    assert not backend.fs.exists(backend.url("dataset", "reading.dat"))


def test_add_with_a_path_copies_the_file_into_the_dataset_and_moves_the_datafile(
    backend: Backend, source: Datafile
) -> None:
    ds = empty(backend)
    original = source.path

    held = ds.add(source, path_in_dataset="another/path/reading.dat")

    assert held is source
    assert at(source, backend) == backend.url("dataset", "another", "path", "reading.dat")
    assert source in ds
    assert backend.read("dataset/another/path/reading.dat") == b"hello"
    assert Datafile(original, storage_options=backend.storage_options).exists_locally or (
        Datafile(original, storage_options=backend.storage_options).exists_in_cloud
    )  # the original is left where it was
    with source.open("rb") as f:
        assert f.read() == b"hello"


def test_the_copy_carries_the_files_metadata(backend: Backend, source: Datafile) -> None:
    ds = empty(backend)

    ds.add(source, path_in_dataset="reading.dat")

    stored = Datafile(
        backend.url("dataset", "reading.dat"), storage_options=backend.storage_options
    )
    assert stored.labels == {"raw"}
    assert stored.tags == {"site": "north"}


def test_a_copied_file_is_in_the_dataset_when_it_is_loaded_again(
    backend: Backend, source: Datafile
) -> None:
    ds = empty(backend)
    ds.add(source, path_in_dataset="sub/reading.dat")

    again = Dataset(backend.url("dataset"), storage_options=backend.storage_options)

    assert [df.path for df in again] == [backend.url("dataset", "sub", "reading.dat")]


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_remote_file_is_copied_into_a_local_dataset(backend: Backend, tmp_path: Path) -> None:
    remote = write(backend.url("reading.dat"), options=backend.storage_options)
    with pytest.warns(OctstoreWarning, match="does not exist yet"):
        ds = Dataset(tmp_path / "local-dataset")

    ds.add(remote, path_in_dataset="in/here.dat")

    copy = tmp_path / "local-dataset" / "in" / "here.dat"
    assert remote.local_path == str(copy)  # its local copy, as octue's
    assert remote.path == backend.url("reading.dat")
    assert copy.read_bytes() == b"hello"
    assert Datafile(copy).tags == {"site": "north"}
    assert remote in ds


@pytest.mark.parametrize("path", ["../x.dat", "/etc/x.dat", "a/../../x.dat", "~/x.dat", ""])
def test_a_path_leaving_the_dataset_is_refused(
    backend: Backend, source: Datafile, path: str
) -> None:
    ds = empty(backend)

    with pytest.raises(UnsafePathError):
        ds.add(source, path_in_dataset=path)

    assert len(ds) == 0


def test_other_content_at_the_path_is_not_overwritten_unless_asked(
    backend: Backend, source: Datafile
) -> None:
    backend.write("dataset/reading.dat", b"theirs")
    ds = Dataset(backend.url("dataset"), storage_options=backend.storage_options)

    with pytest.raises(AlreadyExistsError, match="overwrite"):
        ds.add(source, path_in_dataset="reading.dat")
    assert backend.read("dataset/reading.dat") == b"theirs"

    ds.add(source, path_in_dataset="reading.dat", overwrite=True)
    assert backend.read("dataset/reading.dat") == b"hello"


def test_a_dataset_without_a_folder_cannot_take_a_path(source: Datafile) -> None:
    with pytest.raises(OctstoreError, match="no root"):
        Dataset().add(source, path_in_dataset="reading.dat")


def test_making_a_dataset_with_files_copies_nothing(backend: Backend, source: Datafile) -> None:
    ds = Dataset(backend.url("dataset"), files=[source], storage_options=backend.storage_options)

    assert [df.path for df in ds] == [source.path]
    assert not backend.fs.exists(backend.url("dataset", "reading.dat"))
