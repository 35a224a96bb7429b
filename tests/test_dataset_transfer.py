"""Dataset uploads and downloads: concurrent, content and metadata together, incremental."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fsspec.callbacks import Callback

from octstore import (
    ConflictError,
    Datafile,
    Dataset,
    InvalidArgumentError,
    OctstoreError,
    TransferError,
    TransferReport,
    UnsafePathError,
)
from octstore import cache as cache_module
from octstore.backends import MetadataBackend, backend_for
from octstore.dataset.transfer import copy_all
from octstore.location import Location
from tests.conftest import Backend

NAMES = ("raw/north.csv", "raw/south.csv", "clean/north.csv", "notes.txt")


def write(path: str, data: bytes, storage_options: dict[str, Any] | None = None, **kw: Any) -> None:
    with Datafile(path, storage_options=storage_options, **kw).open("wb") as f:
        f.write(data)


def local_dataset(root: Path) -> Dataset:
    for i, name in enumerate(NAMES):
        write(str(root / name), f"content of {name}\n".encode() * (i + 1), tags={"i": i})
    Datafile(str(root / "raw/north.csv"), labels=["raw", "north"]).update_metadata()
    return Dataset(str(root), name="wind", labels=["turbines"], tags={"campaign": 7})


def remote_dataset(backend: Backend) -> Dataset:
    for i, name in enumerate(NAMES):
        write(backend.url(name), name.encode() * (i + 1), backend.storage_options, tags={"i": i})
    return Dataset(backend.root, storage_options=backend.storage_options, labels=["turbines"])


def load(backend: Backend) -> Dataset:
    return Dataset(backend.root, storage_options=backend.storage_options)


class Counting(Callback):  # type: ignore[misc]  # fsspec is untyped
    def __init__(self) -> None:
        super().__init__()
        self.updates = 0

    def call(self, *args: Any, **kwargs: Any) -> None:
        self.updates += 1


class Branching(Counting):
    """A callback that gives each file a child of its own, as fsspec's ``branched`` asks."""

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[str, Counting] = {}

    def branch(self, path_1: str, path_2: str, kwargs: dict[str, Any]) -> None:
        kwargs["callback"] = self.children.setdefault(path_1, Counting())


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The destinations content was written to (by any backend), in order."""
    written: list[str] = []
    for backend_class in {
        type(backend_for(Location(url)))
        for url in ("/x", "s3://bucket/x", "gs://bucket/x", "az://container/x")
    }:
        original = backend_class.put

        def put(
            self: MetadataBackend,
            location: Location,
            *args: Any,
            _original: Any = original,
            **kw: Any,
        ) -> Any:
            written.append(location.url)
            return _original(self, location, *args, **kw)

        monkeypatch.setattr(backend_class, "put", put)
    return written


# --- upload -------------------------------------------------------------------------------


def test_upload_copies_content_metadata_and_relative_paths(
    backend: Backend, tmp_path: Path
) -> None:
    ds = local_dataset(tmp_path / "src")

    report = ds.upload(backend.root, storage_options=backend.storage_options)

    assert report.transferred == sorted(backend.url(name) for name in NAMES)
    for name in NAMES:
        assert backend.read(name) == (tmp_path / "src" / name).read_bytes()
    uploaded = load(backend)
    north = uploaded.files.one(labels__contains="north")
    assert north.path == backend.url("raw/north.csv")
    assert north.id == Datafile(str(tmp_path / "src/raw/north.csv")).id
    assert sorted(df.tags["i"] for df in uploaded) == [0, 1, 2, 3]


def test_upload_writes_the_manifest_with_the_datasets_metadata(
    backend: Backend, tmp_path: Path
) -> None:
    ds = local_dataset(tmp_path / "src")

    ds.upload(backend.root, storage_options=backend.storage_options)

    manifest = json.loads(backend.read(".octstore-dataset.json"))
    assert manifest["id"] == ds.id
    assert sorted(entry["path"] for entry in manifest["files"]) == sorted(NAMES)
    uploaded = load(backend)
    assert (uploaded.id, uploaded.name, uploaded.labels, uploaded.tags) == (
        ds.id,
        "wind",
        {"turbines"},
        {"campaign": 7},
    )


def test_uploading_again_transfers_nothing(
    backend: Backend, tmp_path: Path, puts: list[str]
) -> None:
    ds = local_dataset(tmp_path / "src")
    ds.upload(backend.root, storage_options=backend.storage_options)
    puts.clear()
    before = {df.path: df.metadata() for df in load(backend)}

    report = ds.upload(backend.root, storage_options=backend.storage_options)

    assert puts == []
    assert (report.transferred, report.metadata_updated, report.bytes_transferred) == ([], [], 0)
    assert report.skipped == sorted(backend.url(name) for name in NAMES)
    assert {df.path: df.metadata() for df in load(backend)} == before


def test_uploading_again_sends_only_what_changed(
    backend: Backend, tmp_path: Path, puts: list[str]
) -> None:
    ds = local_dataset(tmp_path / "src")
    ds.upload(backend.root, storage_options=backend.storage_options)
    puts.clear()
    (tmp_path / "src/notes.txt").write_bytes(b"new notes")
    relabelled = Datafile(str(tmp_path / "src/raw/south.csv"))
    relabelled.labels.add("checked")
    relabelled.update_metadata()

    report = Dataset(str(tmp_path / "src")).upload(
        backend.root, storage_options=backend.storage_options
    )

    assert puts == [backend.url("notes.txt")]
    assert report.transferred == [backend.url("notes.txt")]
    assert report.bytes_transferred == len(b"new notes")
    assert report.metadata_updated == [backend.url("raw/south.csv")]
    assert backend.read("notes.txt") == b"new notes"
    assert load(backend).files.one(name="south.csv").labels == {"checked"}


def test_upload_reports_progress_through_an_fsspec_callback(
    backend: Backend, tmp_path: Path
) -> None:
    callback = Branching()
    ds = local_dataset(tmp_path / "src")
    sizes = {df.path: df.size for df in ds}

    ds.upload(backend.root, storage_options=backend.storage_options, callback=callback)

    # the size and value are bytes; each file has a child callback of its own
    assert callback.size == callback.value == sum(sizes.values())
    assert sorted((child.size, child.value) for child in callback.children.values()) == sorted(
        (size, size) for size in sizes.values()
    )


def test_download_reports_bytes_as_they_come(backend: Backend, tmp_path: Path) -> None:
    ds = remote_dataset(backend)
    callback = Branching()

    ds.download(str(tmp_path / "copy"), callback=callback)

    total = sum(df.size for df in ds)
    assert callback.size == callback.value == total
    assert len(callback.children) == len(NAMES)
    for child in callback.children.values():
        assert child.value == child.size
        if backend.name in ("s3", "gcs"):  # told chunk by chunk as the bytes arrive
            assert child.updates >= 1


def test_a_datafile_download_and_upload_report_their_bytes(
    backend: Backend, tmp_path: Path
) -> None:
    url = backend.url("big.bin")
    write(url, b"x" * 300_000, backend.storage_options)
    down, up = Counting(), Counting()

    Datafile(url, storage_options=backend.storage_options).download(
        str(tmp_path / "big.bin"), callback=down
    )
    Datafile(str(tmp_path / "big.bin")).upload(
        backend.url("again.bin"), callback=up, storage_options=backend.storage_options
    )

    assert (down.size, down.value) == (300_000, 300_000)
    assert (up.size, up.value) == (300_000, 300_000)


def test_upload_never_overwrites_a_file_created_at_the_destination_after_planning(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = local_dataset(tmp_path / "src")
    from octstore.dataset import sync

    destination_listing = sync.destination_listing

    def listed_then_written(*args: Any, **kwargs: Any) -> Any:
        listed = destination_listing(*args, **kwargs)
        backend.write("notes.txt", b"another writer's")  # after the upload looked
        return listed

    monkeypatch.setattr(sync, "destination_listing", listed_then_written)

    with pytest.raises(TransferError, match="1 of 4 files failed") as caught:
        ds.upload(backend.root, storage_options=backend.storage_options)

    assert backend.read("notes.txt") == b"another writer's"
    assert isinstance(caught.value.failures[backend.url("notes.txt")], ConflictError)
    report = caught.value.report
    assert isinstance(report, TransferReport)
    assert len(report.transferred) == 3
    assert backend.read("raw/south.csv") == (tmp_path / "src/raw/south.csv").read_bytes()
    # The manifest records what was synchronised, and not the file that was not.
    manifest = json.loads(backend.read(".octstore-dataset.json"))
    assert "notes.txt" not in [entry["path"] for entry in manifest["files"]]


def test_files_from_several_directories_land_by_name(backend: Backend, tmp_path: Path) -> None:
    write(str(tmp_path / "a/one.csv"), b"1", labels=["one"])
    write(str(tmp_path / "b/two.csv"), b"2")
    ds = Dataset(files=[str(tmp_path / "a/one.csv"), str(tmp_path / "b/two.csv")])

    ds.upload(backend.root, storage_options=backend.storage_options)

    assert sorted(df.name for df in load(backend)) == ["one.csv", "two.csv"]
    assert load(backend).files.one(name="one.csv").labels == {"one"}


def test_two_files_that_would_land_on_one_path_are_refused_before_anything_moves(
    backend: Backend, tmp_path: Path
) -> None:
    write(str(tmp_path / "a/same.csv"), b"1")
    write(str(tmp_path / "b/same.csv"), b"2")
    write(str(tmp_path / "c/other.csv"), b"3")
    ds = Dataset(files=[str(tmp_path / d) for d in ("a/same.csv", "b/same.csv", "c/other.csv")])

    with pytest.raises(OctstoreError, match=r"would both be copied to .*same\.csv"):
        ds.upload(backend.root, storage_options=backend.storage_options)

    assert not backend.fs.exists(backend.url("other.csv"))


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_a_dataset_goes_from_the_cloud_to_a_directory_and_back(
    backend: Backend, tmp_path: Path
) -> None:
    ds = remote_dataset(backend)
    destination = tmp_path / "copy"

    ds.download(str(destination))
    report = Dataset(str(destination)).upload(
        backend.url("again"), storage_options=backend.storage_options
    )

    assert len(report.transferred) == len(NAMES)
    for name in NAMES:
        assert backend.read(f"again/{name}") == backend.read(name)


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_a_dataset_copied_within_one_cloud_keeps_content_and_metadata(backend: Backend) -> None:
    ds = remote_dataset(backend)
    cache_module.clear()

    with backend.server.recording() as requests:
        report = ds.upload(backend.url("copy"), storage_options=backend.storage_options)

    assert len(report.transferred) == len(NAMES)
    for name in NAMES:
        assert backend.read(f"copy/{name}") == backend.read(name)
    copied = Dataset(backend.url("copy"), storage_options=backend.storage_options)
    assert sorted(df.tags["i"] for df in copied) == list(range(len(NAMES)))
    # Inside GCS a copy is one rewrite: no content leaves the service. S3 has no conditional
    # copy (moto ignores CopyObject's preconditions), so its content is sent as any upload's.
    keys = [backend.url(name).split("/", 3)[3] for name in NAMES]
    downloads = sum(backend.server.content_gets(requests, key) for key in keys)
    assert downloads == (0 if backend.name == "gcs" else len(NAMES))


# --- download -----------------------------------------------------------------------------


def test_download_copies_content_and_metadata_into_a_directory(
    backend: Backend, tmp_path: Path
) -> None:
    ds = remote_dataset(backend)
    target = tmp_path / "copy"

    report = ds.download(str(target))

    assert report.transferred == sorted(str(target / name) for name in NAMES)
    for name in NAMES:
        assert (target / name).read_bytes() == backend.read(name)
    copied = Dataset(str(target))
    assert copied.id == ds.id
    assert copied.labels == {"turbines"}
    assert {df.name: df.tags["i"] for df in copied if df.name != "north.csv"} == {
        "south.csv": 1,
        "notes.txt": 3,
    }
    assert {df.id for df in copied} == {df.id for df in ds}


def test_download_leaves_no_temporary_files(backend: Backend, tmp_path: Path) -> None:
    remote_dataset(backend).download(str(tmp_path / "copy"))

    left = sorted(
        os.path.relpath(os.path.join(d, f), tmp_path / "copy")
        for d, _, files in os.walk(tmp_path / "copy")
        for f in files
    )

    assert [name for name in left if name.endswith(".tmp")] == []
    assert ".octstore-dataset.json" in left


def test_downloading_again_transfers_nothing(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = remote_dataset(backend)
    ds.download(str(tmp_path / "copy"))
    downloads: list[str] = []
    monkeypatch.setattr(
        cache_module.entries, "download", lambda *args: downloads.append(args[0].url)
    )

    report = load(backend).download(str(tmp_path / "copy"))

    assert downloads == []
    assert report.skipped == sorted(str(tmp_path / "copy" / name) for name in NAMES)


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_download_does_not_fill_the_cache_but_uses_it(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = remote_dataset(backend)
    cache_module.clear()  # what octstore wrote, it cached
    ds.files.one(name="notes.txt").local_path  # noqa: B018  # cached on purpose
    downloads: list[str] = []
    real_download = cache_module.download
    monkeypatch.setattr(
        cache_module.entries,
        "download",
        lambda location, *args: (downloads.append(location.url), real_download(location, *args)),
    )
    remote = type(backend_for(Location(backend.root)))
    if remote.async_downloads:  # downloads run on the event loop, not through the cache
        real_async = remote.download_async

        async def download_async(self: Any, location: Location, *args: Any) -> None:
            downloads.append(location.url)
            await real_async(self, location, *args)

        monkeypatch.setattr(remote, "download_async", download_async)

    ds.download(str(tmp_path / "copy"))

    assert sorted(downloads) == sorted(backend.url(n) for n in NAMES if n != "notes.txt")
    assert cache_module.info().entries == 1


def test_download_without_a_directory_fills_the_cache(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = remote_dataset(backend)
    cache_module.clear()  # what octstore wrote, it cached
    if backend.name == "local":  # nothing to download is an error, as octue's, not a no-op
        with pytest.raises(OctstoreError, match="nothing to download"):
            ds.download()
        return

    report = ds.download()

    assert report.transferred == sorted(backend.url(name) for name in NAMES)
    monkeypatch.setenv("OCTSTORE_OFFLINE", "1")
    for name in NAMES:
        offline = Datafile(backend.url(name), storage_options=backend.storage_options)
        with offline.open("rb") as f:
            assert f.read() == backend.read(name)


def test_download_refuses_a_remote_directory(backend: Backend) -> None:
    with pytest.raises(OctstoreError, match="not one: use upload"):
        remote_dataset(backend).download("memory://somewhere/else")


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_key_that_climbs_out_of_the_dataset_is_refused(backend: Backend, tmp_path: Path) -> None:
    backend.write("inside.csv", b"1")
    backend.fs.pipe(f"{backend.root}/../escaped.csv", b"2")  # an S3 key may hold ".."
    ds = Dataset(backend.root, storage_options=backend.storage_options)
    ds.add(Datafile(f"{backend.root}/../escaped.csv", storage_options=backend.storage_options))

    with pytest.raises(TransferError, match="outside") as caught:
        ds.download(str(tmp_path / "copy"))

    assert [type(error) for error in caught.value.failures.values()] == [UnsafePathError]
    assert not (tmp_path / "escaped.csv").exists()
    assert (tmp_path / "copy" / "inside.csv").read_bytes() == b"1"  # the others still land


def test_a_failed_file_does_not_stop_the_others(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        write(str(tmp_path / "src" / name), name.encode())
    ds = Dataset(str(tmp_path / "src"))
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "b.csv").mkdir()  # a directory where a file should go

    with pytest.raises(TransferError, match=r"1 of 3 files failed.*b\.csv") as caught:
        ds.download(str(tmp_path / "dst"))

    assert sorted(caught.value.failures) == [str(tmp_path / "dst" / "b.csv")]
    assert (tmp_path / "dst" / "a.csv").read_bytes() == b"a.csv"
    assert (tmp_path / "dst" / "c.csv").read_bytes() == b"c.csv"


def test_copy_all_runs_files_concurrently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    for i in range(8):
        write(str(tmp_path / "src" / f"{i}.csv"), b"x")
    pairs = [
        (df, Location(str(tmp_path / "dst" / df.name))) for df in Dataset(str(tmp_path / "src"))
    ]
    barrier = threading.Barrier(4, timeout=30)
    backend_class = type(backend_for(Location(str(tmp_path))))
    original = backend_class.put

    def put(self: MetadataBackend, *args: Any, **kwargs: Any) -> Any:
        barrier.wait()  # only passes when four files are in flight at once
        return original(self, *args, **kwargs)

    monkeypatch.setattr(backend_class, "put", put)

    report = copy_all(pairs, Location(str(tmp_path / "dst")), concurrency=4)

    assert len(report.transferred) == 8


def test_downloading_an_empty_dataset_makes_a_directory_with_its_manifest(
    backend: Backend, tmp_path: Path
) -> None:
    if backend.name == "local":
        os.makedirs(backend.root)
    empty = Dataset(backend.root, storage_options=backend.storage_options, name="nothing-yet")

    empty.download(tmp_path / "copy")

    assert Dataset(str(tmp_path / "copy")).name == "nothing-yet"


def test_waiting_for_many_files_costs_the_caller_cpu_in_proportion() -> None:
    import time

    from octstore.dataset.transfer import TransferReport, _run

    def work(i: int, _: Callback) -> tuple[str, Any, int]:
        time.sleep(0.02)  # a round trip: files finish one by one, not in bunches
        return str(i), "skipped", 0

    def caller_cpu(files: int) -> float:
        report = TransferReport(None)
        started = time.thread_time()
        _run(work, list(range(files)), report, Callback(), concurrency=32)
        assert len(report.skipped) == files
        return time.thread_time() - started

    # Waiting on the whole pending set after each completion cost the caller CPU squared in
    # the number of files (4 times the files: 16 times the CPU); waiting on them all at once,
    # in proportion. A ratio measured in one run, not a time: the machine may be busy.
    # The least of three runs each: a busy machine only ever adds to a measurement.
    small = min(caller_cpu(500) for _ in range(3))
    large = min(caller_cpu(2000) for _ in range(3))
    assert large < 10 * max(small, 0.005)


# --- request counts -----------------------------------------------------------------------

WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def _many_files(root: Path, count: int) -> Dataset:
    for i in range(count):
        write(str(root / f"part{i % 3}" / f"f{i}.csv"), b"x" * (i + 1), tags={"i": i})
    return Dataset(str(root))


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_an_upload_to_a_new_prefix_costs_one_request_per_file(
    backend: Backend, tmp_path: Path
) -> None:
    count = 40
    ds = _many_files(tmp_path / "src", count)

    with backend.server.recording() as requests:
        report = ds.upload(backend.root, storage_options=backend.storage_options)

    assert len(report.transferred) == count
    # One write per file; the manifest's read and write; a listing before (s3fs adds a HEAD
    # and a one-key listing when a prefix is empty) and one after (adlfs's listings each
    # add a HEAD: is the prefix itself a blob?).
    assert len(requests) <= count + (8 if backend.name == "az" else 6), sorted(
        (r["method"], r["path"], str(r["query"])) for r in requests if r["method"] != "PUT"
    )
    uploaded = load(backend)
    assert sorted(df.tags["i"] for df in uploaded) == list(range(count))


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_uploading_unchanged_files_again_writes_nothing_and_costs_a_listing(
    backend: Backend, tmp_path: Path
) -> None:
    count = 40
    ds = _many_files(tmp_path / "src", count)
    ds.upload(backend.root, storage_options=backend.storage_options)

    with backend.server.recording() as requests:
        report = ds.upload(backend.root, storage_options=backend.storage_options)

    assert len(report.skipped) == count
    assert [r for r in requests if r["method"] in WRITES] == []
    # the manifest's read and one listing page
    assert len(requests) <= 2 + 1, sorted((r["method"], r["path"]) for r in requests)


# --- interrupts ---------------------------------------------------------------------------


def _interrupting_on_first(monkeypatch: pytest.MonkeyPatch, backend_class: type) -> None:
    """Make the first ``put`` through ``backend_class`` interrupt the main thread (as Ctrl-C
    does) and every ``put`` slow, so that the interrupt lands with files in flight."""
    import signal
    import threading

    original = backend_class.put
    first = threading.Lock()  # one interrupt: a second one would stop the clean-up too

    def put(self: MetadataBackend, *args: Any, **kw: Any) -> Any:
        if first.acquire(blocking=False):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]
        time.sleep(0.05)
        return original(self, *args, **kw)

    monkeypatch.setattr(backend_class, "put", put)


def _files_under(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def test_an_interrupted_download_leaves_no_partial_file(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 24
    contents = {f"d{i % 2}/f{i}.bin": bytes([i]) * (64 * 1024 + i) for i in range(count)}
    for name, data in contents.items():
        write(backend.url(name), data, backend.storage_options)
    ds = load(backend)
    destination = tmp_path / "copy"
    _interrupting_on_first(monkeypatch, type(backend_for(Location(str(destination)))))

    with pytest.raises(KeyboardInterrupt):
        ds.download(str(destination), concurrency=4)

    left = _files_under(destination)
    data_files = {name: data for name, data in left.items() if name.split("/")[-1][0] != "."}
    assert [name for name in left if name.endswith(".tmp")] == []
    assert len(data_files) < count  # it was interrupted
    for name, data in data_files.items():
        assert data == contents[name]  # whole, or not there at all
    monkeypatch.undo()
    time.sleep(0.2)
    assert _files_under(destination) == left  # nothing went on writing after the interrupt
    report = ds.download(str(destination))  # and running it again finishes the job
    assert len(report.transferred) == count - len(data_files)
    assert {name: (destination / name).read_bytes() for name in contents} == contents


def test_an_interrupted_upload_leaves_no_partial_file(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 24
    source = tmp_path / "src"
    contents = {f"d{i % 2}/f{i}.bin": bytes([i]) * (64 * 1024 + i) for i in range(count)}
    for name, data in contents.items():
        write(str(source / name), data)
    ds = Dataset(str(source))
    _interrupting_on_first(monkeypatch, type(backend_for(Location(backend.root))))

    with pytest.raises(KeyboardInterrupt):
        ds.upload(backend.root, storage_options=backend.storage_options, concurrency=4)

    monkeypatch.undo()
    backend.fs.invalidate_cache()
    there = [
        path
        for path in backend.fs.find(backend.root)
        if not path.rsplit("/", 1)[-1].startswith(".")
    ]
    assert len(there) < count
    for path in there:
        name = path.split(backend.root.split("://")[-1] + "/", 1)[-1]
        assert backend.read(name) == contents[name]
    report = ds.upload(backend.root, storage_options=backend.storage_options)
    assert len(report.transferred) == count - len(there)


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_a_download_waits_for_the_disk_only_for_what_it_cannot_rebuild(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = remote_dataset(backend)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    ds.download(str(tmp_path / "copy"))

    # the files and their sidecars are copies a verified download rebuilds; the manifest,
    # the sync's record of what it did, is written for good
    assert len(synced) == 1
    synced.clear()
    write(str(tmp_path / "mine.csv"), b"my own work")
    assert len(synced) >= 1  # a user's own write is on disk when it returns


# --- where a dataset is after a transfer --------------------------------------------------


def test_upload_points_the_dataset_at_its_new_place(backend: Backend, tmp_path: Path) -> None:
    local_dataset(tmp_path / "src")
    ds = Dataset(str(tmp_path / "src"))
    destination = backend.url("new", "place")

    ds.upload(destination, storage_options=backend.storage_options)

    assert ds.path == destination
    assert ds.name == "place"  # a name taken from the path follows it
    assert [df.path for df in ds] == sorted(backend.url("new", "place", name) for name in NAMES)
    assert Dataset(destination, storage_options=backend.storage_options).name == "place"


def test_a_dataset_keeps_the_name_it_was_given_when_it_moves(
    backend: Backend, tmp_path: Path
) -> None:
    ds = local_dataset(tmp_path / "src")

    ds.upload(backend.url("elsewhere"), storage_options=backend.storage_options)

    assert ds.name == "wind"


def test_the_moved_datasets_files_have_their_metadata_without_a_request(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = local_dataset(tmp_path / "src")
    ds.upload(backend.root, storage_options=backend.storage_options)
    monkeypatch.setattr(
        backend_for(Location(backend.root)).__class__, "stat", lambda *a: pytest.fail("stat")
    )

    assert ds.files.one(labels__contains="north").path == backend.url("raw/north.csv")
    assert sorted(df.tags["i"] for df in ds) == [0, 1, 2, 3]


def test_a_moved_dataset_uploads_again_without_writing(backend: Backend, tmp_path: Path) -> None:
    ds = local_dataset(tmp_path / "src")
    ds.upload(backend.root, storage_options=backend.storage_options)

    report = ds.upload(backend.root, storage_options=backend.storage_options)

    assert report.transferred == []
    assert report.metadata_updated == []


def test_download_points_the_dataset_at_the_directory(backend: Backend, tmp_path: Path) -> None:
    ds = remote_dataset(backend)

    ds.download(tmp_path / "copy")

    assert ds.path == str(tmp_path / "copy")
    assert [df.path for df in ds] == sorted(str(tmp_path / "copy" / name) for name in NAMES)
    with ds.files.one(name="notes.txt").open("rb") as f:
        assert f.read() == backend.read("notes.txt")


def test_a_failed_transfer_leaves_the_dataset_where_it_was(
    backend: Backend, tmp_path: Path
) -> None:
    ds = local_dataset(tmp_path / "src")
    backend.write("raw/north.csv", b"someone else's")

    with pytest.raises(TransferError):
        ds.upload(backend.root, storage_options=backend.storage_options)

    assert ds.path == str(tmp_path / "src")


def test_download_takes_octues_local_directory(backend: Backend, tmp_path: Path) -> None:
    remote_dataset(backend).download(local_directory=str(tmp_path / "copy"))

    assert (tmp_path / "copy" / "notes.txt").read_bytes() == backend.read("notes.txt")


def test_download_refuses_both_local_dir_and_local_directory(
    backend: Backend, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match="local_dir"):
        remote_dataset(backend).download(tmp_path / "a", local_directory=str(tmp_path / "b"))


def test_download_of_local_files_without_a_directory_is_refused(tmp_path: Path) -> None:
    ds = local_dataset(tmp_path / "src")

    with pytest.raises(OctstoreError, match="nothing to download"):
        ds.download()
