"""Folder uploads and downloads are three-way syncs against the destination's manifest: a
change on one side is copied, a change on the other side is left and reported, changes on
both sides are conflicts, never silent overwrites."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from octstore import ConflictError, Datafile, Dataset, TransferError
from tests.conftest import Backend
from tests.test_cli import run


def make_source(root: Path) -> Path:
    for name in ("a.csv", "b.csv", "sub/c.csv"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(f"{name} v1".encode())
    return root


def upload(source: Path, backend: Backend, **kwargs: bool) -> object:
    return Dataset(str(source)).upload(
        backend.root, storage_options=backend.storage_options, **kwargs
    )


def remote(backend: Backend, name: str) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options)


def a_second_for_s3(backend: Backend) -> None:
    if backend.name == "s3":  # S3 listings show whole seconds
        time.sleep(1.1)


def test_a_remote_change_is_left_and_reported_when_the_local_file_did_not_change(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "src")
    upload(source, backend)
    a_second_for_s3(backend)
    backend.write("a.csv", b"their newer content")

    report = upload(source, backend)

    assert backend.read("a.csv") == b"their newer content"
    assert report.destination_changed == [backend.url("a.csv")]  # type: ignore[attr-defined]
    assert report.transferred == []  # type: ignore[attr-defined]


def test_a_remote_metadata_change_is_not_overwritten(backend: Backend, tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    upload(source, backend)
    a_second_for_s3(backend)
    theirs = remote(backend, "b.csv")
    theirs.labels.add("checked")
    theirs.update_metadata()

    report = upload(source, backend)

    assert remote(backend, "b.csv").labels == {"checked"}
    assert report.destination_changed == [backend.url("b.csv")]  # type: ignore[attr-defined]


def test_a_local_change_is_uploaded_when_the_remote_did_not_change(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "src")
    upload(source, backend)
    (source / "sub/c.csv").write_bytes(b"my edit")

    report = upload(source, backend)

    assert backend.read("sub/c.csv") == b"my edit"
    assert report.transferred == [backend.url("sub/c.csv")]  # type: ignore[attr-defined]


def test_changes_on_both_sides_are_a_conflict_that_overwrites_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "src")
    upload(source, backend)
    a_second_for_s3(backend)
    backend.write("a.csv", b"their edit")
    (source / "a.csv").write_bytes(b"my edit")
    (source / "b.csv").write_bytes(b"my other edit")

    with pytest.raises(TransferError, match=r"a\.csv") as caught:
        upload(source, backend)

    assert backend.read("a.csv") == b"their edit"
    assert backend.read("b.csv") == b"my other edit"  # the rest still synchronised
    assert isinstance(caught.value.failures[backend.url("a.csv")], ConflictError)
    assert caught.value.report.conflicts == [backend.url("a.csv")]  # type: ignore[attr-defined]
    # Still a conflict next time: the basis of a file not synchronised is kept.
    with pytest.raises(TransferError):
        upload(source, backend)
    assert backend.read("a.csv") == b"their edit"

    upload(source, backend, overwrite=True)

    assert backend.read("a.csv") == b"my edit"


def test_without_a_basis_a_different_file_at_the_destination_is_a_conflict(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "src")
    backend.write("a.csv", b"someone else's a.csv")

    with pytest.raises(TransferError) as caught:
        upload(source, backend)

    assert backend.read("a.csv") == b"someone else's a.csv"
    assert list(caught.value.failures) == [backend.url("a.csv")]


def test_the_plan_is_made_before_any_transfer_starts(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from octstore.dataset import per_file, sync

    source = make_source(tmp_path / "src")
    upload(source, backend)
    a_second_for_s3(backend)
    backend.write("a.csv", b"their edit")
    (source / "b.csv").write_bytes(b"my edit")
    events: list[str] = []
    real_plan, real_carry_out = sync.plan, per_file.carry_out

    def planned(*args: object, **kwargs: object) -> sync.SyncPlan:
        result = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        events.append("planned")
        return result

    def carried_out(file: sync.FilePlan, *args: Any) -> object:
        events.append(f"{file.action} {file.destination.name}")
        return real_carry_out(file, *args)

    monkeypatch.setattr("octstore.dataset.copying.plan", planned)
    monkeypatch.setattr(per_file, "carry_out", carried_out)

    upload(source, backend)

    assert events[0] == "planned"
    assert sorted(events[1:]) == ["copy b.csv", "same c.csv"]


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_download_over_a_folder_never_clobbers_local_edits(
    backend: Backend, tmp_path: Path
) -> None:
    for name in ("a.csv", "b.csv"):
        with remote(backend, name).open("wb") as f:
            f.write(b"v1")
    copy = tmp_path / "copy"
    Dataset(backend.root, storage_options=backend.storage_options).download(str(copy))
    (copy / "a.csv").write_bytes(b"my local edit")
    with remote(backend, "b.csv").open("wb") as f:
        f.write(b"v2")

    report = Dataset(backend.root, storage_options=backend.storage_options).download(str(copy))

    assert (copy / "a.csv").read_bytes() == b"my local edit"
    assert (copy / "b.csv").read_bytes() == b"v2"
    assert report.destination_changed == [str(copy / "a.csv")]

    with remote(backend, "a.csv").open("wb") as f:
        f.write(b"v2 remote")
    with pytest.raises(TransferError) as caught:
        Dataset(backend.root, storage_options=backend.storage_options).download(str(copy))
    assert (copy / "a.csv").read_bytes() == b"my local edit"
    assert list(caught.value.failures) == [str(copy / "a.csv")]


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_cli_upload_reports_remote_changes_and_conflicts_and_exits_4(
    backend: Backend, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "src")
    upload(source, backend)
    a_second_for_s3(backend)
    backend.write("a.csv", b"their edit")
    backend.write("b.csv", b"their other edit")
    (source / "b.csv").write_bytes(b"my edit")

    result = run("upload", "--json", str(source), backend.root)

    assert result.returncode == 4, result.stderr
    report = json.loads(result.stdout)
    assert report["destination_changed"] == [backend.url("a.csv")]
    assert report["conflicts"] == [backend.url("b.csv")]
    assert "--overwrite" in result.stderr
    assert backend.read("b.csv") == b"their other edit"

    text = run("upload", str(source), backend.root)
    assert text.returncode == 4
    assert "changed at the destination" in text.stdout + text.stderr
    assert backend.url("b.csv") in text.stdout + text.stderr

    forced = run("upload", "--overwrite", str(source), backend.root)
    assert forced.returncode == 0, forced.stderr
    assert backend.read("b.csv") == b"my edit"
    assert backend.read("a.csv") == b"their edit"
