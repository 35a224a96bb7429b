"""Datasets: loaded from one listing with metadata, no content, on every backend."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from octstore import Datafile, Dataset, NotFoundError, OctstoreError
from octstore import cache as cache_module
from tests.conftest import Backend


def write(backend: Backend, name: str, data: bytes = b"x", **metadata: Any) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with df.open("wb") as f:
        f.write(data)
    return df


@pytest.fixture
def corpus(backend: Backend) -> Backend:
    write(backend, "raw/north.csv", labels=["raw"], tags={"site": "north", "height": 80})
    write(backend, "raw/south.csv", labels=["raw"], tags={"site": "south", "height": 100})
    write(backend, "clean/north.csv", labels=["clean"], tags={"site": "north", "height": 80})
    backend.write("notes.txt", b"no metadata")
    return backend


def load(backend: Backend, prefix: str = "", **kwargs: Any) -> Dataset:
    path = backend.url(prefix) if prefix else backend.root
    return Dataset(path, storage_options=backend.storage_options, **kwargs)


def test_a_dataset_holds_every_data_file_under_its_path(corpus: Backend) -> None:
    ds = load(corpus)

    assert len(ds) == 4
    assert [df.path for df in ds] == sorted(
        corpus.url(name)
        for name in ("raw/north.csv", "raw/south.csv", "clean/north.csv", "notes.txt")
    )


def test_a_dataset_that_is_not_recursive_stays_in_its_directory(corpus: Backend) -> None:
    assert [df.name for df in load(corpus, recursive=False)] == ["notes.txt"]


def test_a_dataset_carries_each_files_metadata_without_downloading(
    corpus: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[str] = []
    monkeypatch.setattr(
        cache_module.entries, "download", lambda *args: downloads.append(args[0].url)
    )

    ds = load(corpus)

    south = ds.files.one(tags__site="south")
    assert south.labels == {"raw"}
    assert south.tags["height"] == 100
    assert downloads == []


def test_files_filter_with_octue_lookups(corpus: Backend) -> None:
    ds = load(corpus)

    found = ds.files.filter(labels__contains="raw", tags__site__equals="north")

    assert [df.path for df in found] == [corpus.url("raw/north.csv")]


def test_get_file_by_label_finds_the_one_file(corpus: Backend) -> None:
    assert load(corpus).get_file_by_label("clean").path == corpus.url("clean/north.csv")


def test_get_file_by_label_refuses_an_ambiguous_label(corpus: Backend) -> None:
    with pytest.raises(OctstoreError, match="2"):
        load(corpus).get_file_by_label("raw")


def test_a_loaded_datafile_reads_its_content(corpus: Backend) -> None:
    df = load(corpus).files.one(name="notes.txt")

    with df.open("rb") as f:
        assert f.read() == b"no metadata"


def test_a_loaded_datafile_writes_back_with_preconditions(corpus: Backend) -> None:
    df = load(corpus).files.one(name="notes.txt")

    with df.open("ab") as f:
        f.write(b"!")

    assert corpus.read("notes.txt") == b"no metadata!"


def test_files_can_be_given_as_datafiles_paths_and_dicts(backend: Backend) -> None:
    a = write(backend, "a.csv", labels=["a"])
    write(backend, "b.csv")
    c = write(backend, "c.csv")

    ds = Dataset(
        files=[a, backend.url("b.csv"), c.to_dict()], storage_options=backend.storage_options
    )

    assert sorted(df.name for df in ds) == ["a.csv", "b.csv", "c.csv"]
    assert backend.url("b.csv") in ds
    assert a in ds


def test_add_and_remove(backend: Backend) -> None:
    ds = Dataset(name="mine")
    df = ds.add(write(backend, "a.csv"))

    assert len(ds) == 1
    ds.remove(df)
    assert len(ds) == 0
    with pytest.raises(NotFoundError, match="holds no datafile"):
        ds.remove(df)
    assert backend.fs.exists(backend.url("a.csv"))  # removing never deletes the file


def test_the_dataset_has_metadata_of_its_own(corpus: Backend) -> None:
    ds = load(corpus, "raw", labels=["turbines"], tags={"campaign": 2022})

    assert ds.name == "raw"
    assert ds.labels == {"turbines"}
    assert ds.tags == {"campaign": 2022}
    ds.labels.add("checked")
    assert ds.labels == {"turbines", "checked"}


def test_a_dataset_round_trips_through_json_and_pickle(corpus: Backend) -> None:
    ds = load(corpus, name="wind")

    assert Dataset.from_dict(json.loads(json.dumps(ds.to_dict()))) == ds
    assert pickle.loads(pickle.dumps(ds)) == ds


def test_hash_value_depends_on_the_contents(backend: Backend) -> None:
    write(backend, "a.csv", b"one")
    first = load(backend).hash_value

    write(backend, "b.csv", b"two")

    assert load(backend).hash_value != first


def test_a_missing_local_directory_is_not_found(tmp_path: Any) -> None:
    with pytest.raises(NotFoundError, match="not a directory"):
        Dataset(tmp_path / "missing")
