"""Stable ids: derived from the location until stored, stored only by a write, and an upload
keeps the ids the destination has and writes nothing for files that did not change."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from octstore import Datafile, Dataset
from tests.conftest import Backend

on_cloud = pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
#: Requests that change something on the server (reads are GET and HEAD).
WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def writes(requests: list[dict[str, Any]]) -> list[str]:
    return [f"{r['method']} {r.get('path', '')}" for r in requests if r["method"] in WRITES]


def plain_files(root: Path, count: int) -> None:
    """Files without any octstore metadata (no sidecars), as a user's folder has them."""
    for i in range(count):
        (root / f"sub{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"sub{i % 3}" / f"{i:03d}.csv").write_bytes(f"row {i}\n".encode())


def test_two_reads_of_a_file_without_metadata_agree_on_its_id(backend: Backend) -> None:
    backend.write("plain.csv", b"no metadata")
    url = backend.url("plain.csv")

    first = Datafile(url, storage_options=backend.storage_options).id
    second = Datafile(url, storage_options=backend.storage_options).id
    listed = Dataset(backend.root, storage_options=backend.storage_options).files.one().id

    assert first == second == listed
    assert uuid.UUID(first).version == 5


def test_reading_an_id_stores_nothing(backend: Backend) -> None:
    backend.write("plain.csv", b"no metadata")

    Datafile(backend.url("plain.csv"), storage_options=backend.storage_options).id  # noqa: B018

    backend.fs.invalidate_cache()
    assert backend.fs.ls(backend.root, detail=False) == [
        backend.fs._strip_protocol(backend.url("plain.csv"))
    ]


def test_files_at_other_locations_get_other_ids(backend: Backend) -> None:
    backend.write("a.csv", b"same")
    backend.write("b.csv", b"same")

    ids = {Datafile(backend.url(n), storage_options=backend.storage_options).id for n in "ab"}

    assert len(ids) == 2


def test_the_derived_id_is_the_one_stored_at_the_first_write(backend: Backend) -> None:
    backend.write("plain.csv", b"no metadata")
    derived = Datafile(backend.url("plain.csv"), storage_options=backend.storage_options).id

    df = Datafile(backend.url("plain.csv"), storage_options=backend.storage_options)
    df.labels.add("checked")
    df.update_metadata()

    stored = Datafile(backend.url("plain.csv"), storage_options=backend.storage_options)
    assert (stored.id, stored.labels) == (derived, {"checked"})


def test_a_symlinked_spelling_of_a_local_file_has_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.csv").write_bytes(b"x")
    os.symlink(tmp_path / "real", tmp_path / "link")

    assert Datafile(tmp_path / "link" / "a.csv").id == Datafile(tmp_path / "real" / "a.csv").id


def test_a_dict_without_an_id_gets_the_locations_id(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")

    from_dict = Datafile.from_dict({"path": str(tmp_path / "a.csv")})

    assert from_dict.id == Datafile(tmp_path / "a.csv").id


@on_cloud
def test_reuploading_unchanged_files_writes_nothing_and_keeps_the_ids(
    backend: Backend, tmp_path: Path
) -> None:
    plain_files(tmp_path / "src", 30)
    Dataset(str(tmp_path / "src")).upload(backend.root, storage_options=backend.storage_options)
    ids = {df.path: df.id for df in Dataset(backend.root, storage_options=backend.storage_options)}

    with backend.server.recording() as requests:
        report = Dataset(str(tmp_path / "src")).upload(
            backend.root, storage_options=backend.storage_options
        )

    assert writes(requests) == []
    assert (report.transferred, report.metadata_updated) == ([], [])
    assert len(report.skipped) == 30
    again = {
        df.path: df.id for df in Dataset(backend.root, storage_options=backend.storage_options)
    }
    assert again == ids


@on_cloud
def test_an_id_the_destination_has_wins_and_is_written_back_to_the_local_sidecar(
    backend: Backend, tmp_path: Path
) -> None:
    theirs = str(uuid.uuid4())
    with Datafile(backend.url("a.csv"), id=theirs, storage_options=backend.storage_options).open(
        "wb"
    ) as f:
        f.write(b"same content")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.csv").write_bytes(b"same content")

    with backend.server.recording() as requests:
        Dataset(str(tmp_path / "src")).upload(backend.root, storage_options=backend.storage_options)

    assert [w for w in writes(requests) if "a.csv" in w] == []
    assert Datafile(backend.url("a.csv"), storage_options=backend.storage_options).id == theirs
    assert Datafile(tmp_path / "src" / "a.csv").id == theirs
    assert (tmp_path / "src" / ".a.csv.octstore.json").exists()
