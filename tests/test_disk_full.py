"""Full disks and unwritable caches, with real effects: a tiny tmpfs that fills up, a read-only
bind mount, and a cache directory under a regular file (ENOTDIR; root ignores permissions).

A cache failure after a successful write is a warning, never an error; an unwritable cache
never breaks local reads or writes, and remote files are then read uncached; a full or
unwritable destination is an OctstoreError naming the path and the fix.
"""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from octstore import Datafile, Dataset, OctstoreError, OctstoreWarning
from tests.conftest import Backend

PAGE = 4096


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()})")


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real disk that fills up (ENOSPC)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point))
    yield mount_point
    _unmount(mount_point)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on a read-only bind mount (EROFS, even for root)."""
    directory = tmp_path / "read-only"
    directory.mkdir()
    (directory / "existing.txt").write_text("there")
    _mount("--bind", "-o", "ro", str(directory), str(directory))
    yield directory
    _unmount(directory)


@pytest.fixture(params=["under-a-file", "read-only"])
def unwritable_cache(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """OCTSTORE_CACHE_DIR pointing where nothing can be created."""
    if request.param == "under-a-file":
        (tmp_path / "a-file").write_text("")
        cache = tmp_path / "a-file" / "cache"
    else:
        cache = request.getfixturevalue("read_only_dir") / "cache"
    monkeypatch.setenv("OCTSTORE_CACHE_DIR", str(cache))
    return cache


def _free_bytes(path: Path) -> int:
    status = os.statvfs(path)
    return status.f_bavail * status.f_frsize


# --- an unwritable cache ----------------------------------------------------------------------


def test_local_reads_and_writes_work_with_an_unwritable_cache(
    unwritable_cache: Path, tmp_path: Path
) -> None:
    path = str(tmp_path / "data" / "x.txt")
    with Datafile(path, labels=["written"]).open("w") as file:
        file.write("content")
    datafile = Datafile(path)
    datafile.labels.add("updated")
    datafile.update_metadata()
    with Datafile(path).open("a") as file:
        file.write(" appended")

    read = Datafile(path)
    with read.open() as file:
        assert file.read() == "content appended"
    assert set(read.labels) == {"written", "updated"}
    assert [d.name for d in Dataset(str(tmp_path / "data"))] == ["x.txt"]
    assert not unwritable_cache.exists()


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_remote_files_are_read_uncached_and_written_with_an_unwritable_cache(
    backend: Backend, unwritable_cache: Path
) -> None:
    url = backend.write("x.txt", b"remote content")

    with (
        pytest.warns(OctstoreWarning, match=f"uncached.*{re.escape(str(unwritable_cache))}"),
        Datafile(url, storage_options=backend.storage_options).open("rb") as file,
    ):
        assert file.read() == b"remote content"

    with Datafile(url, labels=["new"], storage_options=backend.storage_options).open("wb") as f:
        f.write(b"new content")
    assert backend.read("x.txt") == b"new content"
    assert set(Datafile(url, storage_options=backend.storage_options).labels) == {"new"}
    assert not unwritable_cache.exists()


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_remote_local_path_with_an_unwritable_cache_says_why_and_what_to_do(
    backend: Backend, unwritable_cache: Path
) -> None:
    url = backend.write("x.txt", b"remote content")

    with pytest.raises(OctstoreError) as error:
        _ = Datafile(url, storage_options=backend.storage_options).local_path

    message = str(error.value)
    assert url in message
    assert str(unwritable_cache) in message
    assert "OCTSTORE_CACHE_DIR" in message
    assert "open()" in message


# --- a full cache -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_a_full_cache_after_a_successful_remote_write_is_a_warning(
    backend: Backend, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_DIR", str(tiny_disk))
    url = backend.url("x.bin")
    for directory in ("writes", "locks"):
        (tiny_disk / directory).mkdir()
    # The staged content takes all but one page: the cache entry's record then finds no room.
    content = b"x" * (_free_bytes(tiny_disk) - PAGE)

    with (
        pytest.warns(OctstoreWarning) as caught,
        Datafile(url, labels=["kept"], storage_options=backend.storage_options).open("wb") as file,
    ):
        file.write(content)

    assert backend.read("x.bin") == content  # the write happened, and was not undone
    assert set(Datafile(url, storage_options=backend.storage_options).labels) == {"kept"}
    message = " ".join(str(warning.message) for warning in caught)
    assert url in message
    assert "cache" in message
    assert str(tiny_disk) in message
    assert ".tmp" not in message
    # nothing half-made is left in the cache: a later read works and downloads afresh
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OctstoreWarning)  # may be read uncached: still full?
        with Datafile(url, storage_options=backend.storage_options).open("rb") as file:
            assert file.read() == content


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_full_cache_is_read_through_uncached(
    backend: Backend, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_DIR", str(tiny_disk))
    content = os.urandom(512 * 1024)  # twice the cache's disk
    url = backend.write("big.bin", content)

    with (
        pytest.warns(OctstoreWarning, match="uncached"),
        Datafile(url, storage_options=backend.storage_options).open("rb") as file,
    ):
        assert file.read() == content


# --- a full or unwritable destination --------------------------------------------------------


def test_a_full_local_disk_is_a_clear_error_and_changes_nothing(tiny_disk: Path) -> None:
    path = tiny_disk / "x.bin"
    path.write_bytes(b"old")

    with pytest.raises(OctstoreError) as error, Datafile(str(path)).open("wb") as file:
        file.write(b"x" * 1024 * 1024)

    message = str(error.value)
    assert str(path) in message
    assert "space" in message
    assert ".tmp" not in message
    assert "again" not in message
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tiny_disk)) == ["x.bin"]


def test_a_read_only_destination_is_a_clear_error(read_only_dir: Path) -> None:
    path = read_only_dir / "new.txt"

    with pytest.raises(OctstoreError) as error, Datafile(str(path)).open("w") as file:
        file.write("x")

    message = str(error.value)
    assert str(path) in message
    assert "read-only" in message
    assert ".tmp" not in message
    assert "again" not in message
    with Datafile(str(read_only_dir / "existing.txt")).open() as file:  # reads still work
        assert file.read() == "there"
