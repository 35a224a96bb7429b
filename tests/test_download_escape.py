"""Downloads never escape their destination: no key, manifest entry or name places a file
outside the folder it was given, and a bad key is refused without stopping the others."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from octstore import Datafile, Dataset, OctstoreError, TransferError, UnsafePathError
from octstore.location import relative_path
from tests.conftest import Backend
from tests.test_cli import run

on_cloud = pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
#: S3 keys may hold any text; the GCS emulator refuses names with ``..`` parts.
on_s3 = pytest.mark.parametrize("backend", ["s3"], indirect=True)

#: Keys (relative to the dataset's root) that would place a file outside the destination, or
#: that no destination path can hold: each must be refused.
HOSTILE_KEYS = (
    "~/.bashrc",
    "~root/.profile",
    "a/../../escaped.csv",
    "a/..",
    "a/.",
    "C:/escaped.csv",
    "c:escaped.csv",
    "a\\..\\..\\escaped.csv",
    "a//b.csv",
)


def files_under(root: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    )


@pytest.mark.parametrize(
    "key", [*HOSTILE_KEYS, "/etc/passwd", "..", ".", "", "a/\0b", "a/b/"], ids=repr
)
def test_relative_path_refuses_every_path_that_could_leave_the_root(key: str) -> None:
    with pytest.raises(ValueError, match="inside"):
        relative_path(key)


@pytest.mark.parametrize("key", ["a.csv", "sub/b.csv", "..notes.txt", "a~/b", "x/.hidden"])
def test_relative_path_keeps_ordinary_paths(key: str) -> None:
    assert relative_path(key) == key


@on_s3
@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_a_hostile_key_is_refused_and_the_other_files_still_download(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    backend.write("good.csv", b"good")
    backend.fs.pipe(f"{backend.root}/{key}", b"hostile")
    backend.fs.invalidate_cache()
    destination = tmp_path / "work" / "copy"
    ds = Dataset(backend.root, storage_options=backend.storage_options)

    with pytest.raises(TransferError) as caught:
        ds.download(str(destination))

    refused = caught.value.failures
    assert len(refused) == 1
    (error,) = refused.values()
    assert isinstance(error, UnsafePathError)
    assert key.replace("\\", "\\\\") in str(error) or repr(key)[1:-1] in str(error)
    assert (destination / "good.csv").read_bytes() == b"good"
    assert files_under(tmp_path / "work") == [
        "copy/.good.csv.octstore.json",
        "copy/.octstore-dataset.json",
        "copy/good.csv",
    ]
    assert files_under(home) == []


@on_cloud
def test_a_manifest_entry_that_would_leave_the_root_is_not_trusted(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("a.csv", b"a")
    Dataset(backend.root, storage_options=backend.storage_options).update_metadata()
    document = json.loads(backend.read(".octstore-dataset.json"))
    document["files"][0]["path"] = "~/a.csv"
    backend.write(".octstore-dataset.json", json.dumps(document).encode())

    with pytest.warns(UserWarning, match="not a path inside the root"):
        ds = Dataset(backend.root, storage_options=backend.storage_options)
    ds.download(str(tmp_path / "copy"))

    assert files_under(tmp_path / "copy") == [
        ".a.csv.octstore.json",
        ".octstore-dataset.json",
        "a.csv",
    ]


@on_cloud
def test_cli_download_of_a_tilde_prefix_writes_nothing_into_home(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    backend.fs.pipe(f"{backend.root}/~/.bashrc", b"echo pwned")
    backend.fs.invalidate_cache()

    result = run("download", f"{backend.root}/~", cwd=work)

    assert files_under(home) == []
    assert result.returncode != 0
    assert "~" in result.stderr
    assert "DESTINATION" in result.stderr


@on_s3
@pytest.mark.parametrize("name", ["..", "."])
def test_cli_download_of_a_key_named_dot_dot_writes_nothing_outside(
    backend: Backend, tmp_path: Path, name: str
) -> None:
    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    backend.fs.pipe(f"{backend.root}/dir/{name}", b"hostile")
    backend.fs.invalidate_cache()

    result = run("download", f"{backend.root}/dir/{name}", str(work))

    assert result.returncode != 0
    assert f"dir/{name}" in result.stderr
    assert files_under(tmp_path) == []


@on_s3
def test_datafile_download_into_a_directory_refuses_a_name_that_leaves_it(
    backend: Backend, tmp_path: Path
) -> None:
    backend.fs.pipe(f"{backend.root}/dir/..", b"hostile")
    backend.fs.invalidate_cache()
    df = Datafile(f"{backend.root}/dir/..", storage_options=backend.storage_options)
    (tmp_path / "in").mkdir()

    with pytest.raises(OctstoreError, match=r"dir/\.\."):
        df.download(str(tmp_path / "in"))

    assert files_under(tmp_path) == []
