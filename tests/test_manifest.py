"""Dataset manifests: one listing plus one read to load, and never trusted when stale."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from octstore import Datafile, Dataset
from octstore.dataset.manifest import Manifest
from tests.conftest import Backend

SCHEMA = Path(__file__).parent.parent / "docs" / "dataset-manifest.schema.json"


def write(backend: Backend, name: str, **metadata: Any) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with df.open("wb") as f:
        f.write(name.encode())
    return df


def load(backend: Backend, **kwargs: Any) -> Dataset:
    return Dataset(backend.root, storage_options=backend.storage_options, **kwargs)


def indexed(backend: Backend, count: int = 3) -> Dataset:
    for i in range(count):
        write(backend, f"d/f{i}.csv", labels=["raw"], tags={"i": i})
    ds = load(backend, name="wind", labels=["turbines"], tags={"campaign": 7})
    ds.update_metadata()
    return ds


def after_a_second_for_s3(backend: Backend) -> None:
    if backend.name == "s3":  # S3's LastModified, part of the listing version, has 1 s steps
        time.sleep(1.1)


def test_update_metadata_writes_the_manifest_into_the_root(backend: Backend) -> None:
    ds = indexed(backend)

    document = json.loads(backend.read(".octstore-dataset.json"))

    assert document["octstore"] == 1
    assert document["id"] == ds.id
    assert sorted(entry["path"] for entry in document["files"]) == [
        "d/f0.csv",
        "d/f1.csv",
        "d/f2.csv",
    ]


def test_a_loaded_dataset_has_the_manifests_metadata_and_files(backend: Backend) -> None:
    ds = indexed(backend)

    again = load(backend)

    assert (again.id, again.name, again.labels, again.tags) == (
        ds.id,
        "wind",
        {"turbines"},
        {"campaign": 7},
    )
    assert [df.tags["i"] for df in again] == [0, 1, 2]
    assert ".octstore-dataset.json" not in [df.name for df in again]


def test_a_file_changed_behind_the_manifests_back_is_read_afresh(backend: Backend) -> None:
    indexed(backend)
    after_a_second_for_s3(backend)
    df = Datafile(backend.url("d/f1.csv"), storage_options=backend.storage_options)
    df.labels.add("checked")
    df.update_metadata()

    again = load(backend)

    assert again.files.one(name="f1.csv").labels == {"raw", "checked"}


def test_a_metadata_update_in_the_same_second_as_the_manifest_is_seen(backend: Backend) -> None:
    # S3's listing shows whole seconds and a metadata update keeps the ETag: entries read in
    # the second their object last changed must not be trusted.
    indexed(backend)
    df = Datafile(backend.url("d/f2.csv"), storage_options=backend.storage_options)
    df.labels = ["at-once"]
    df.update_metadata()

    assert load(backend).files.one(name="f2.csv").labels == {"at-once"}


def test_files_added_or_deleted_since_the_manifest_show(backend: Backend) -> None:
    indexed(backend)
    write(backend, "d/new.csv", labels=["late"])
    backend.fs.rm(backend.url("d/f0.csv"))

    names = sorted(df.name for df in load(backend))

    assert names == ["f1.csv", "f2.csv", "new.csv"]


def test_an_unreadable_manifest_is_ignored_with_a_warning(backend: Backend) -> None:
    write(backend, "a.csv", labels=["raw"])
    backend.write(".octstore-dataset.json", b'{"octstore": 1, "files": [')

    with pytest.warns(UserWarning, match="unreadable dataset manifest"):
        ds = load(backend)

    assert [df.labels for df in ds] == [{"raw"}]


def test_a_manifest_entry_outside_the_root_is_refused(backend: Backend) -> None:
    indexed(backend)
    document = json.loads(backend.read(".octstore-dataset.json"))
    document["files"][0]["path"] = "../../etc/passwd"
    backend.write(".octstore-dataset.json", json.dumps(document).encode())

    with pytest.warns(UserWarning, match="not a path inside the root"):
        ds = load(backend)

    assert len(ds) == 3


def test_the_published_json_schema_is_the_models() -> None:
    assert json.loads(SCHEMA.read_text()) == Manifest.model_json_schema()


def _many(backend: Backend, count: int) -> None:
    backend.fs.pipe({backend.url(f"many/{i:04d}.csv"): b"x" for i in range(count)})
    backend.fs.invalidate_cache()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_loading_1000_files_with_a_fresh_manifest_takes_at_most_3_requests(
    backend: Backend,
) -> None:
    _many(backend, 1000)
    after_a_second_for_s3(backend)  # entries read in their objects' last second are re-read
    load(backend).update_metadata()

    with backend.server.recording() as fresh:
        ds = load(backend)

    assert len(ds) == 1000
    # The manifest, and the listing: one page on GCS; two on S3, whose pages hold 1,000
    # keys and which lists 1,001 with the manifest.
    assert len(fresh) <= 3
    assert all(request["method"] != "HEAD" for request in fresh)

    after_a_second_for_s3(backend)
    changed = Datafile(backend.url("many/0500.csv"), storage_options=backend.storage_options)
    changed.tags["checked"] = True
    changed.update_metadata()  # behind the manifest's back

    with backend.server.recording() as stale:
        ds = load(backend)

    assert ds.files.one(name="0500.csv").tags == {"checked": True}
    assert len(stale) <= 3 + 1  # and one read of the file that changed
