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


def test_add_without_a_path_references_the_file_where_it_is(
    backend: Backend, source: Datafile
) -> None:
    ds = empty(backend)

    held = ds.add(source)

    assert held is source
    assert source in ds
    assert not backend.fs.exists(backend.url("dataset", "reading.dat"))


def test_add_with_a_path_copies_the_file_into_the_dataset(
    backend: Backend, source: Datafile
) -> None:
    ds = empty(backend)

    copy = ds.add(source, path_in_dataset="another/path/reading.dat")

    assert copy.path == backend.url("dataset", "another", "path", "reading.dat")
    assert copy in ds
    assert source.path not in ds  # the dataset holds the copy, not the original
    assert backend.read("dataset/another/path/reading.dat") == b"hello"
    with copy.open("rb") as f:
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


def test_a_remote_file_is_copied_into_a_local_dataset(backend: Backend, tmp_path: Path) -> None:
    remote = write(backend.url("reading.dat"), options=backend.storage_options)
    with pytest.warns(OctstoreWarning, match="does not exist yet"):
        ds = Dataset(tmp_path / "local-dataset")

    copy = ds.add(remote, path_in_dataset="in/here.dat")

    assert copy.path == str(tmp_path / "local-dataset" / "in" / "here.dat")
    assert (tmp_path / "local-dataset" / "in" / "here.dat").read_bytes() == b"hello"
    assert copy.tags == {"site": "north"}


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
