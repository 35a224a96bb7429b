"""``label`` and ``tag`` over many files: several URLs, or a directory or prefix with filters,
stored at once by ``Dataset.update_metadata()``."""

from __future__ import annotations

import json

from octstore import Datafile, Dataset
from tests.conftest import Backend
from tests.test_cli import ok, on_backends, one_line_error, run, write


def stored(backend: Backend, name: str) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options)


@on_backends
def test_label_add_labels_each_of_several_files(backend: Backend) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        write(backend, name, labels=["raw"])

    ok("label", "add", backend.url("a.csv"), backend.url("b.csv"), "--", "checked", "qa")

    assert [stored(backend, name).labels for name in ("a.csv", "b.csv", "c.csv")] == [
        {"raw", "checked", "qa"},
        {"raw", "checked", "qa"},
        {"raw"},
    ]


@on_backends
def test_tag_set_over_a_directory_with_a_filter_tags_the_matching_files(backend: Backend) -> None:
    write(backend, "d/north.csv", tags={"site": "north"})
    write(backend, "d/south.csv", tags={"site": "south"})
    write(backend, "d/sub/deep.csv", tags={"site": "north"})

    out = ok("tag", "set", "-r", "--filter", "tags__site=north", backend.url("d"), "checked=true")

    assert "2 updated" in out
    assert stored(backend, "d/north.csv").tags == {"site": "north", "checked": True}
    assert stored(backend, "d/sub/deep.csv").tags == {"site": "north", "checked": True}
    assert stored(backend, "d/south.csv").tags == {"site": "south"}


@on_backends
def test_label_remove_over_a_directory_refreshes_its_manifest(backend: Backend) -> None:
    write(backend, "d/a.csv", labels=["raw", "draft"])
    write(backend, "d/b.csv", labels=["raw"])
    Dataset(backend.url("d"), storage_options=backend.storage_options).update_metadata()

    ok("label", "remove", backend.url("d"), "draft")

    manifest = json.loads(backend.read("d/.octstore-dataset.json"))
    labels = {entry["path"]: entry["metadata"]["labels"] for entry in manifest["files"]}
    assert labels == {"a.csv": ["raw"], "b.csv": ["raw"]}


@on_backends
def test_tag_unset_on_one_file_prints_nothing_as_before(backend: Backend) -> None:
    write(backend, "a.csv", tags={"site": "north", "old": 1})

    assert ok("tag", "unset", backend.url("a.csv"), "old") == ""

    assert stored(backend, "a.csv").tags == {"site": "north"}


def test_several_urls_without_values_is_a_usage_error(tmp_path: object) -> None:
    result = run("label", "add", "a.csv", "b.csv", "--")

    assert result.returncode == 2
    assert "URL... -- LABEL..." in one_line_error(result)
