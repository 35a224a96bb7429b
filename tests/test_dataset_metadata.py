"""``Dataset.update_metadata()``: the metadata changes of many datafiles stored at once, each
through the protocol one datafile uses, and the manifest written from what the writes returned."""

from __future__ import annotations

import time
from typing import Any

import pytest

from octstore import Datafile, Dataset, NotFoundError, OctstoreError, TransferError
from octstore.backends import backend_for
from octstore.dataset.manifest import delete_manifest
from octstore.location import Location
from tests.conftest import Backend


def write(backend: Backend, name: str, **metadata: Any) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with df.open("wb") as f:
        f.write(name.encode())
    return df


def load(backend: Backend, **kwargs: Any) -> Dataset:
    return Dataset(backend.root, storage_options=backend.storage_options, **kwargs)


def stored(backend: Backend, name: str) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options)


@pytest.fixture
def three(backend: Backend) -> Backend:
    for name in ("a.csv", "b.csv", "c.csv"):
        write(backend, name, labels=["raw"], tags={"site": "north"})
    return backend


@pytest.fixture
def written(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs whose metadata the backend was asked to write, in order."""
    urls: list[str] = []
    backend_class = type(backend_for(Location(backend.root, backend.storage_options)))
    original = backend_class.write_metadata

    def write_metadata(self: Any, location: Location, *args: Any, **kwargs: Any) -> Any:
        urls.append(location.url)
        return original(self, location, *args, **kwargs)

    monkeypatch.setattr(backend_class, "write_metadata", write_metadata)
    return urls


def test_update_metadata_stores_the_changes_of_each_changed_file(three: Backend) -> None:
    ds = load(three)
    ds.files.one(name="a.csv").labels.add("checked")
    ds.files.one(name="b.csv").tags["site"] = "south"

    report = ds.update_metadata()

    assert stored(three, "a.csv").labels == {"raw", "checked"}
    assert stored(three, "b.csv").tags == {"site": "south"}
    assert stored(three, "c.csv").labels == {"raw"}
    assert report.metadata_updated == [three.url("a.csv"), three.url("b.csv")]
    assert report.skipped == [three.url("c.csv")]


def test_unchanged_files_are_not_written(three: Backend, written: list[str]) -> None:
    ds = load(three)
    ds.files.one(name="b.csv").labels.add("checked")

    ds.update_metadata()

    assert written == [three.url("b.csv")]


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_unchanged_files_cost_no_request(three: Backend) -> None:
    ds = load(three)
    ds.files.one(name="b.csv").labels.add("checked")

    with three.server.recording() as requests:
        ds.update_metadata()

    touched = {
        name for request in requests for name in ("a.csv", "c.csv") if name in request["path"]
    }
    assert touched == set()


def test_only_the_files_given_are_written(three: Backend, written: list[str]) -> None:
    ds = load(three)
    for df in ds:
        df.labels.add("checked")
    ds.files.one(name="c.csv").labels.remove("raw")

    ds.update_metadata(ds.files.filter(labels__contains="raw"))

    assert sorted(written) == [three.url("a.csv"), three.url("b.csv")]
    assert stored(three, "c.csv").labels == {"raw"}


def test_a_datafile_outside_the_dataset_is_refused_before_anything_is_written(
    three: Backend, written: list[str]
) -> None:
    ds = load(three)
    ds.files.one(name="a.csv").labels.add("checked")
    stranger = Datafile(three.url("elsewhere", "x.csv"), storage_options=three.storage_options)

    with pytest.raises(NotFoundError, match=r"x\.csv"):
        ds.update_metadata([ds.files.one(name="a.csv"), stranger])

    assert written == []


def test_another_writers_change_to_a_file_meanwhile_is_kept(three: Backend) -> None:
    ds = load(three)
    theirs = stored(three, "a.csv")
    theirs.labels.add("theirs")
    theirs.tags["checked_by"] = "them"
    theirs.update_metadata()
    mine = ds.files.one(name="a.csv")
    mine.labels.add("mine")
    mine.labels.discard("raw")

    ds.update_metadata()

    assert stored(three, "a.csv").labels == {"theirs", "mine"}
    assert stored(three, "a.csv").tags == {"site": "north", "checked_by": "them"}
    assert mine.labels == {"theirs", "mine"}  # the stored metadata is adopted, as for one file


def test_the_next_load_has_the_changes(three: Backend) -> None:
    ds = load(three)
    ds.files.one(name="a.csv").labels.add("checked")
    ds.update_metadata()

    again = load(three)

    assert again.files.one(name="a.csv").labels == {"raw", "checked"}
    assert [again.files.one(name=name).labels for name in ("b.csv", "c.csv")] == [
        {"raw"},
        {"raw"},
    ]


def test_a_change_after_the_batch_update_is_seen_by_the_next_load(three: Backend) -> None:
    ds = load(three)
    ds.files.one(name="a.csv").labels.add("checked")
    ds.update_metadata()
    theirs = stored(three, "a.csv")
    theirs.labels.add("later")
    theirs.update_metadata()  # at once, behind the manifest's back

    assert load(three).files.one(name="a.csv").labels == {"raw", "checked", "later"}


def test_a_failed_file_does_not_stop_the_others(
    three: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_class = type(backend_for(Location(three.root, three.storage_options)))
    original = backend_class.write_metadata

    def write_metadata(self: Any, location: Location, *args: Any, **kwargs: Any) -> Any:
        if location.name == "b.csv":
            raise OSError("the network went away")
        return original(self, location, *args, **kwargs)

    monkeypatch.setattr(backend_class, "write_metadata", write_metadata)
    ds = load(three)
    for df in ds:
        df.labels.add("checked")

    with pytest.raises(TransferError, match="1 of 3 files failed") as raised:
        ds.update_metadata()

    assert list(raised.value.failures) == [three.url("b.csv")]
    assert raised.value.report.metadata_updated == [three.url("a.csv"), three.url("c.csv")]
    monkeypatch.setattr(backend_class, "write_metadata", original)
    again = load(three)  # the manifest was written for the others
    assert [df.labels for df in again] == [{"raw", "checked"}, {"raw"}, {"raw", "checked"}]
    ds.update_metadata()  # running it again retries the one that failed
    assert stored(three, "b.csv").labels == {"raw", "checked"}


def test_a_dataset_without_a_root_stores_its_files_metadata(three: Backend) -> None:
    ds = Dataset(files=[stored(three, "a.csv"), stored(three, "b.csv")])
    for df in ds:
        df.tags["site"] = "south"

    ds.update_metadata()

    assert stored(three, "a.csv").tags == stored(three, "b.csv").tags == {"site": "south"}


def test_a_dataset_without_a_root_says_its_own_labels_were_not_stored(three: Backend) -> None:
    ds = Dataset(files=[stored(three, "a.csv")], labels=["survey"])
    ds.files.one(name="a.csv").labels.add("checked")

    with pytest.raises(OctstoreError, match="no root directory or prefix"):
        ds.update_metadata()

    assert stored(three, "a.csv").labels == {"raw", "checked"}  # the files' were


def _many(backend: Backend, count: int) -> None:
    backend.fs.pipe({backend.url(f"many/{i:04d}.csv"): b"x" for i in range(count)})
    backend.fs.invalidate_cache()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("backend", "count"),
    [("gcs", 200), pytest.param("gcs", 1000, marks=pytest.mark.slow), ("s3", 200)],
    indirect=["backend"],
)
def test_the_load_after_a_batch_update_reads_no_gcs_file_again(
    backend: Backend, count: int
) -> None:
    _many(backend, count)
    if backend.name == "s3":
        time.sleep(1.1)  # entries read in their objects' last second are re-read
    ds = load(backend)
    for df in ds:
        df.labels.add("checked")
    ds.update_metadata()

    with backend.server.recording() as requests:
        again = load(backend)

    assert all(df.labels == {"checked"} for df in again)
    if backend.name == "gcs":  # the manifest, and a listing of one page
        assert len(requests) <= 3
    else:  # S3 cannot tell another writer's update in the same second: one HEAD per file
        heads = [request for request in requests if request["method"] == "HEAD"]
        assert len(heads) == count
        assert len(requests) - len(heads) <= 3


def test_delete_manifest_removes_it_and_the_files_stay(three: Backend) -> None:
    load(three, labels=["survey"]).update_metadata()
    root = Location(three.root, three.storage_options)
    assert three.fs.exists(three.url(".octstore-dataset.json"))

    delete_manifest(root)
    delete_manifest(root)  # none: nothing to do

    three.fs.invalidate_cache()
    assert not three.fs.exists(three.url(".octstore-dataset.json"))
    assert sorted(df.name for df in load(three)) == ["a.csv", "b.csv", "c.csv"]
    assert load(three).labels == set()
