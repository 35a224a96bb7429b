"""Symbolic links in folders that octstore lists, uploads and downloads into (issue 16, items
5 and 10): a link to a file is that file; a link to a directory is not followed; a download
never writes through a link out of its destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from octstore import Datafile, Dataset, TransferError, UnsafePathError
from tests.conftest import Backend


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.csv").write_text("linked\n")
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "plain.csv").write_text("plain\n")
    (folder / "linkfile.csv").symlink_to(tmp_path / "real" / "f.csv")
    (folder / "linkdir").symlink_to(tmp_path / "real")
    return folder


@pytest.mark.parametrize("recursive", [True, False])
def test_a_link_to_a_file_is_listed_and_a_link_to_a_directory_is_not(
    folder: Path, recursive: bool
) -> None:
    names = sorted(d.name for d in Dataset(str(folder), recursive=recursive))

    assert names == ["linkfile.csv", "plain.csv"]


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_folder_with_links_uploads(folder: Path, backend: Backend) -> None:
    Dataset(str(folder)).upload(backend.root, storage_options=backend.storage_options)

    assert backend.read("linkfile.csv") == b"linked\n"
    assert backend.read("plain.csv") == b"plain\n"


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_download_never_writes_through_a_link_out_of_its_destination(
    backend: Backend, tmp_path: Path
) -> None:
    for name in ("sub/x.csv", "v.csv", "kept.csv"):
        with Datafile(backend.url(name), storage_options=backend.storage_options).open("w") as f:
            f.write(f"remote {name}\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    destination = tmp_path / "destination"
    destination.mkdir()
    (destination / "sub").symlink_to(outside)
    (destination / "v.csv").symlink_to(victim)
    remote = Dataset(backend.root, storage_options=backend.storage_options)

    with pytest.raises(TransferError) as caught:
        remote.download(str(destination), overwrite=True)

    assert list(outside.iterdir()) == []
    assert victim.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["destination", "outside", "victim.txt"]
    assert (destination / "kept.csv").read_text() == "remote kept.csv\n"
    refused = caught.value.failures
    assert {str(destination / "sub" / "x.csv"), str(destination / "v.csv")} <= set(refused)
    assert all(isinstance(refused[key], UnsafePathError) for key in refused if "kept" not in key)
