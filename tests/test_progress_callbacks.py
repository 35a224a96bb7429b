"""Byte progress in the library: the fsspec callbacks of single-file copies, uploads, the store
and many-file transfers see each file's size and reach it, moving as the bytes move."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.callbacks import Callback

from octstore import Datafile, Dataset, IntegrityError, Store, cache
from octstore.dataset.transfer import copy_one
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from tests.conftest import Backend

MiB = 2**20
#: Large enough that every backend sends it in several steps (GCS: in chunks over 32 MiB).
LARGE = 40 * MiB


class Recording(Callback):  # type: ignore[misc]  # fsspec is untyped
    """A callback that records every value it is told, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[int] = []
        self.closed = False

    def call(self, *args: Any, **kwargs: Any) -> None:
        self.values.append(self.value)

    def close(self) -> None:
        self.closed = True

    def partway(self) -> list[int]:
        """The values told strictly between nothing and everything."""
        return [value for value in self.values if 0 < value < self.size]


class Branching(Recording):
    """A callback that gives each file a child of its own (fsspec's ``branched``)."""

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, Recording] = {}

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
        return self.children.setdefault(path_1, Recording())


def remote_file(backend: Backend, name: str, data: bytes) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options)
    with df.open("wb") as f:
        f.write(data)
    cache.clear()
    return Datafile(backend.url(name), storage_options=backend.storage_options)


def assert_counted(callback: Recording, size: int) -> None:
    """``callback`` was told ``size`` as its size, never went back, and reached it."""
    assert callback.size == size
    assert callback.values, "never told anything"
    assert callback.values == sorted(callback.values)
    assert callback.values[-1] == callback.value == size


# --- copy_one -------------------------------------------------------------------------------


def test_copy_one_upload_tells_the_size_and_reaches_it(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(3 * MiB))
    callback = Recording()

    copy_one(
        Datafile(tmp_path / "a.bin"),
        Location(backend.url("a.bin"), backend.storage_options),
        callback=callback,
    )

    assert_counted(callback, 3 * MiB)
    assert backend.read("a.bin") == (tmp_path / "a.bin").read_bytes()


def test_copy_one_download_tells_the_size_and_reaches_it(backend: Backend, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    source = remote_file(backend, "a.bin", data)
    callback = Recording()

    copy_one(source, Location(str(tmp_path / "a.bin")), callback=callback)

    assert_counted(callback, 3 * MiB)
    assert (tmp_path / "a.bin").read_bytes() == data


def test_a_large_upload_is_counted_as_its_bytes_are_sent(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(LARGE))
    callback = Recording()

    copy_one(
        Datafile(tmp_path / "big.bin"),
        Location(backend.url("big.bin"), backend.storage_options),
        callback=callback,
    )

    # S3: a request signed over http:// reads its body once before sending it; that read
    # is not counted (the values would go back to 0)
    assert_counted(callback, LARGE)
    assert callback.partway(), callback.values


def test_a_large_download_is_counted_as_its_bytes_come(backend: Backend, tmp_path: Path) -> None:
    source = remote_file(backend, "big.bin", os.urandom(LARGE))
    callback = Recording()

    copy_one(source, Location(str(tmp_path / "big.bin")), callback=callback)

    assert_counted(callback, LARGE)
    assert callback.partway(), callback.values


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_a_copy_between_two_remote_places_counts_the_file_once(backend: Backend) -> None:
    size = 12 * MiB  # fsspec's put_file to memory:// sends 4 MiB at a time
    source = remote_file(backend, "a.bin", os.urandom(size))
    callback = Recording()

    # down from the backend, then up to memory://: each half of the way
    copy_one(source, Location("memory://octstore-progress/a.bin"), callback=callback)

    assert_counted(callback, size)
    assert any(value <= size // 2 for value in callback.partway())
    assert any(value > size // 2 for value in callback.partway())
    fsspec.filesystem("memory").rm("octstore-progress", recursive=True)


def test_datafile_upload_counts_a_large_file_as_it_is_sent(
    backend: Backend, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(LARGE))
    callback = Recording()

    Datafile(tmp_path / "big.bin").upload(
        backend.url("big.bin"), callback=callback, storage_options=backend.storage_options
    )

    assert_counted(callback, LARGE)
    if backend.name != "local":  # a local copy is staged, then moved into place
        assert callback.partway(), callback.values


# --- the store ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "path", "file"])
def test_store_add_tells_the_size_and_reaches_it(
    backend: Backend, tmp_path: Path, kind: str
) -> None:
    data = os.urandom(3 * MiB)
    (tmp_path / "a.bin").write_bytes(data)
    content: Any = {"bytes": data, "path": str(tmp_path / "a.bin"), "file": io.BytesIO(data)}[kind]
    store = Store(backend.url("store"), backend.storage_options)
    callback = Recording()

    handle = store.add("a.bin", content, callback=callback)

    assert_counted(callback, 3 * MiB)
    assert store.info(handle).size == 3 * MiB


def test_store_add_of_content_already_there_reaches_the_size_at_once(backend: Backend) -> None:
    store = Store(backend.url("store"), backend.storage_options)
    store.add("a.bin", b"x" * 1000)
    callback = Recording()

    store.add("b.bin", b"x" * 1000, callback=callback)

    assert_counted(callback, 1000)


def test_store_add_counts_a_large_file_as_it_is_written(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(LARGE))
    store = Store(backend.url("store"), backend.storage_options)
    callback = Recording()

    store.add("big.bin", str(tmp_path / "big.bin"), callback=callback)

    assert_counted(callback, LARGE)
    assert callback.partway(), callback.values


def test_store_fetch_tells_the_size_and_reaches_it(backend: Backend, tmp_path: Path) -> None:
    store = Store(backend.url("store"), backend.storage_options)
    handle = store.add("big.bin", os.urandom(LARGE))
    cache.clear()
    fetched, again = Recording(), Recording()

    path = store.fetch(handle, tmp_path, callback=fetched)
    store.fetch(handle, tmp_path, callback=again)  # already there: nothing moves

    assert os.path.getsize(path) == LARGE
    assert_counted(fetched, LARGE)
    assert fetched.partway(), fetched.values
    assert_counted(again, LARGE)


# --- many files -----------------------------------------------------------------------------


def test_each_files_callback_is_closed_once_its_file_is_done(
    backend: Backend, tmp_path: Path
) -> None:
    sizes = {"a.bin": 3 * MiB, "sub/b.bin": MiB}
    for name, size in sizes.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(os.urandom(size))
    up, down = Branching(), Branching()

    Dataset(str(tmp_path / "src")).upload(
        backend.url("copy"), storage_options=backend.storage_options, callback=up
    )
    Dataset(backend.url("copy"), storage_options=backend.storage_options).download(
        str(tmp_path / "back"), callback=down
    )

    for callback in (up, down):
        assert_counted(callback, sum(sizes.values()))
        assert sorted(child.size for child in callback.children.values()) == sorted(sizes.values())
        for child in callback.children.values():
            assert child.closed
            assert_counted(child, child.size)


class Meddling(Recording):
    """A callback that, once part of the file is sent, changes the rest of the file on disk:
    another program writing the file while it is being uploaded."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.changed = False

    def call(self, *args: Any, **kwargs: Any) -> None:
        super().call(*args, **kwargs)
        if 0 < self.value < self.size and not self.changed:
            self.changed = True
            with open(self.path, "r+b") as file:
                file.seek(-MiB, os.SEEK_END)
                file.write(b"x" * MiB)


def test_a_file_changed_while_it_is_uploaded_is_never_stored_torn(
    backend: Backend, tmp_path: Path
) -> None:
    """Another program rewrites the end of the file once part of it is sent: what is stored
    is never the two versions spliced. Where the bytes go straight from the file (local: a
    copy renamed into place; S3, GCS, Azure: the request), the change is caught and nothing
    is written; memory:// is sent a copy taken first, which the change does not reach."""
    original = os.urandom(LARGE)
    (tmp_path / "big.bin").write_bytes(original)
    callback = Meddling(tmp_path / "big.bin")
    target = Location(backend.url("big.bin"), backend.storage_options)
    stored = Datafile(backend.url("big.bin"), storage_options=backend.storage_options)

    if backend.name == "memory":
        copy_one(Datafile(tmp_path / "big.bin"), target, callback=callback)
        with stored.open("rb") as file:
            assert file.read() == original
    else:
        with pytest.raises(IntegrityError, match="changed while it was uploaded"):
            copy_one(Datafile(tmp_path / "big.bin"), target, callback=callback)
        assert not stored.exists()
    assert callback.partway()
    assert (tmp_path / "big.bin").read_bytes() != original  # it did change


def test_a_copy_of_a_file_written_meanwhile_is_refused_and_removed(tmp_path: Path) -> None:
    original = os.urandom(LARGE)
    (tmp_path / "big.bin").write_bytes(original)
    callback = Meddling(tmp_path / "big.bin")
    callback.set_size(LARGE)

    with pytest.raises(IntegrityError, match=r"big\.bin changed while it was uploaded to s3://b/k"):
        cache.copy_unchanged(
            str(tmp_path / "big.bin"), str(tmp_path / "copy"), crc32c_bytes(original), "s3://b/k",
            callback,
        )  # fmt: skip

    assert callback.partway()
    assert sorted(os.listdir(tmp_path)) == ["big.bin"]  # no copy, no temporary file
