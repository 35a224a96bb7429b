"""Datasets: loaded from one listing with metadata, no content, on every backend."""

from __future__ import annotations

import json
import pickle
import warnings
from typing import Any

import pytest

from octstore import (
    Datafile,
    Dataset,
    InvalidArgumentError,
    InvalidPathError,
    NotFoundError,
    OctstoreError,
    OctstoreWarning,
)
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


# --- a dataset as a context manager -------------------------------------------------------


def test_leaving_a_with_block_stores_the_datasets_metadata(corpus: Backend) -> None:
    with load(corpus) as ds:
        ds.labels.add("checked")
        ds.files.one(name="notes.txt").tags["read"] = True

    again = load(corpus)
    assert again.labels == {"checked"}
    assert again.id == ds.id
    assert again.files.one(name="notes.txt").tags == {"read": True}


def test_a_with_block_that_raises_stores_nothing(corpus: Backend) -> None:
    with pytest.raises(RuntimeError, match="boom"), load(corpus) as ds:
        ds.labels.add("checked")
        ds.files.one(name="notes.txt").tags["read"] = True
        raise RuntimeError("boom")

    again = load(corpus)
    assert again.labels == set()
    assert again.files.one(name="notes.txt").tags == {}


def test_a_with_block_makes_a_new_dataset_at_an_empty_place(backend: Backend) -> None:
    with pytest.warns(OctstoreWarning), load(backend, "new") as ds:
        ds.tags = {"existing": True}

    assert load(backend, "new").tags == {"existing": True}


# --- octue's names ------------------------------------------------------------------------


def test_all_files_are_in_cloud_says_whether_every_file_is_remote(corpus: Backend) -> None:
    assert load(corpus).all_files_are_in_cloud is (corpus.name != "local")
    assert Dataset(files=[]).all_files_are_in_cloud  # as octue: nothing is outside the cloud


def test_a_local_file_makes_not_all_files_in_cloud(backend: Backend, tmp_path: Any) -> None:
    (tmp_path / "here.csv").write_text("x")
    ds = Dataset(files=[write(backend, "a.csv"), str(tmp_path / "here.csv")])

    assert not ds.all_files_are_in_cloud


def test_exists_in_cloud_and_locally_say_where_the_root_is(backend: Backend) -> None:
    ds = load(backend, "place")

    assert ds.exists_in_cloud is (backend.name != "local")
    assert ds.exists_locally is (backend.name == "local")
    assert Dataset().exists_in_cloud is False
    assert Dataset().exists_locally is False


def test_bucket_name_and_path_in_bucket_split_a_remote_root(backend: Backend) -> None:
    ds = load(backend, "sub/place")

    if backend.name == "local":
        assert (ds.bucket_name, ds.path_in_bucket, ds.cloud_path) == (None, None, None)
    else:
        bucket, _, rest = backend.url("sub/place").split("://", 1)[1].partition("/")
        assert (ds.bucket_name, ds.path_in_bucket) == (bucket, rest)
        assert ds.cloud_path == backend.url("sub/place")


def test_metadata_hash_value_covers_the_datasets_own_metadata_only(backend: Backend) -> None:
    first = Dataset(name="wind", labels=["a", "b"], tags={"k": 1})
    second = Dataset(name="wind", files=[write(backend, "a.csv")], labels=["b", "a"], tags={"k": 1})

    assert first.metadata_hash_value == second.metadata_hash_value
    second.labels.add("c")
    assert first.metadata_hash_value != second.metadata_hash_value
    assert Dataset(name="sun", labels=["a", "b"], tags={"k": 1}).metadata_hash_value != (
        first.metadata_hash_value
    )


def test_update_metadata_on_the_roots_side_writes_the_manifest(corpus: Backend) -> None:
    ds = load(corpus)
    ds.tags = {"some": "tags"}

    if corpus.name == "local":
        ds.update_local_metadata()
    else:
        ds.update_cloud_metadata()

    assert load(corpus).tags == {"some": "tags"}


def test_update_metadata_on_the_other_side_is_refused(corpus: Backend) -> None:
    ds = load(corpus)
    wrong = ds.update_cloud_metadata if corpus.name == "local" else ds.update_local_metadata

    with pytest.raises(OctstoreError, match="update_metadata"):
        wrong()


def test_update_cloud_metadata_needs_a_root() -> None:
    with pytest.raises(OctstoreError, match="no root"):
        Dataset(labels=["a"]).update_cloud_metadata()


# --- a place with nothing there yet, and places that cannot be datasets -------------------


def test_a_missing_local_directory_is_an_empty_dataset_with_a_warning(tmp_path: Any) -> None:
    with pytest.warns(OctstoreWarning, match="does not exist yet"):
        ds = Dataset(tmp_path / "missing")

    assert len(ds) == 0
    assert ds.name == "missing"
    assert not (tmp_path / "missing").exists()  # made only when something is written


def test_a_local_file_is_not_a_dataset(tmp_path: Any) -> None:
    (tmp_path / "a.csv").write_text("x")

    with pytest.raises(NotFoundError, match="not a directory"):
        Dataset(tmp_path / "a.csv")


def test_an_empty_place_warns_that_the_dataset_is_empty(backend: Backend) -> None:
    with pytest.warns(OctstoreWarning, match="empty"):
        ds = load(backend, "nothing-here")

    assert len(ds) == 0


def test_a_dataset_made_empty_on_purpose_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset()
        Dataset(files=[], name="results")


def test_an_http_url_cannot_be_listed_as_a_dataset() -> None:
    with pytest.raises(InvalidPathError, match="files="):
        Dataset("http://127.0.0.1:9/data/")


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("files", ["readings", b"readings", {"a.csv": 1}, 3])
def test_files_must_be_an_iterable_of_datafiles(files: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="files"):
        Dataset(files=files)


def test_adding_something_that_is_no_datafile_names_its_type() -> None:
    with pytest.raises(InvalidArgumentError, match="object") as caught:
        Dataset().add(object())  # type: ignore[arg-type]

    assert isinstance(caught.value, TypeError)


def test_the_repr_shows_the_name_redacted() -> None:
    assert repr(Dataset(name="wind")) == "<Dataset('wind')>"
