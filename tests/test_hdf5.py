"""HDF5 datafiles: h5py files that read remote content in parts and write back atomically."""

from __future__ import annotations

import multiprocessing
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from octstore import (
    AlreadyExistsError,
    BackendNotInstalledError,
    ConflictError,
    Datafile,
    Dataset,
    FormatError,
    IntegrityError,
    InvalidModeError,
    NotFoundError,
)
from tests.conftest import Backend
from tests.proxy import Proxy

CLOUDS = pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
MB = 10**6


def make(backend: Backend, name: str = "data.h5", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def write_example(df: Datafile) -> None:
    with df.open("w") as f:
        f.attrs["title"] = "wind"
        group = f.create_group("turbines/t1")
        group.attrs["height_m"] = 80
        speed = group.create_dataset("speed", data=np.arange(10.0))
        speed.attrs["units"] = "m/s"


def two_datasets(backend: Backend, local: Path, big: np.ndarray) -> str:
    """An HDF5 file with a dataset ``small`` (0 to 9) and then ``big``, put at ``local``'s
    name behind octstore's back; its URL."""
    with h5py.File(local, "w") as f:
        f["small"] = np.arange(10)
        f["big"] = big
    return upload(backend, local, local.name)


def upload(backend: Backend, local: Path, name: str) -> str:
    """Put a local file at ``name`` behind octstore's back (nothing enters its cache)."""
    url = backend.url(name)
    backend.fs.put(str(local), url)
    backend.fs.invalidate_cache()
    return url


@pytest.fixture
def proxy(backend: Backend) -> Iterator[Proxy]:
    """A proxy in front of the backend's server that counts the bytes crossing it."""
    with Proxy(backend.server.endpoint_url) as proxy:
        yield proxy


def through(proxy: Proxy, backend: Backend) -> dict[str, Any]:
    """Storage options that reach the backend's server through ``proxy``."""
    return {**backend.storage_options, "endpoint_url": proxy.endpoint_url}


@pytest.fixture(scope="module")
def large_hdf5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 MB HDF5 file: a 1 MB dataset ``small`` after 199 MB of others, uncompressed."""
    path = tmp_path_factory.mktemp("hdf5") / "large.h5"
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f.create_dataset("big", data=rng.integers(0, 256, size=199 * MB, dtype=np.uint8))
        f.create_dataset("small", data=np.arange(MB // 8, dtype=np.float64))
    return path


# --- the same everywhere ------------------------------------------------------------------


def test_groups_datasets_and_attributes_round_trip(backend: Backend) -> None:
    write_example(make(backend))

    with make(backend).open() as f:
        assert isinstance(f, h5py.File)
        assert f.attrs["title"] == "wind"
        assert f["turbines/t1"].attrs["height_m"] == 80
        assert f["turbines/t1/speed"].attrs["units"] == "m/s"
        assert np.array_equal(f["turbines/t1/speed"][:], np.arange(10.0))


def test_h5py_keyword_arguments_are_passed_through(backend: Backend) -> None:
    with make(backend).open("w", track_order=True) as f:
        f["b"] = 1
        f["a"] = 2

    with make(backend).open("r") as f:
        assert list(f) == ["b", "a"]


def test_r_plus_changes_the_file_in_place(backend: Backend) -> None:
    write_example(make(backend))

    with make(backend).open("r+") as f:
        f["turbines/t1/speed"][0] = 42.0
        f.attrs["title"] = "wind, corrected"

    with make(backend).open() as f:
        assert f["turbines/t1/speed"][0] == 42.0
        assert f.attrs["title"] == "wind, corrected"


def test_a_creates_a_missing_file_then_adds_to_it(backend: Backend) -> None:
    with make(backend).open("a") as f:
        f["first"] = [1, 2]
    with make(backend).open("a") as f:
        f["second"] = [3]

    with make(backend).open() as f:
        assert sorted(f) == ["first", "second"]


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_exclusive_modes_create_a_file_and_refuse_an_existing_one(
    backend: Backend, mode: str
) -> None:
    with make(backend).open(mode) as f:
        f["x"] = 1

    with pytest.raises(AlreadyExistsError, match="already exists"), make(backend).open(mode):
        pass
    with make(backend).open() as f:
        assert f["x"][()] == 1


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_reading_a_missing_file_raises_not_found(backend: Backend, mode: str) -> None:
    with pytest.raises(NotFoundError, match=r"missing\.h5"), make(backend, "missing.h5").open(mode):
        pass


def test_write_block_that_raises_leaves_the_file_unchanged(backend: Backend) -> None:
    write_example(make(backend))
    before = backend.read("data.h5")

    with pytest.raises(RuntimeError, match="failed"), make(backend).open("r+") as f:
        f["turbines/t1/speed"][0] = -1.0
        f["half-written"] = np.zeros(1000)
        raise RuntimeError("the computation failed")

    assert backend.read("data.h5") == before


def test_write_block_that_raises_creates_nothing(backend: Backend) -> None:
    with pytest.raises(RuntimeError), make(backend, "new.h5").open("w") as f:
        f["x"] = 1
        raise RuntimeError("the computation failed")

    assert not backend.fs.exists(backend.url("new.h5"))


def test_metadata_set_in_a_write_block_is_stored_with_the_content(backend: Backend) -> None:
    df = make(backend, labels=["raw"])
    with df.open("w") as f:
        f["speed"] = np.arange(3.0)
        df.tags["rows"] = 3

    stored = make(backend)
    assert stored.labels == {"raw"}
    assert stored.tags == {"rows": 3}
    assert stored.id == df.id


def test_metadata_set_in_a_read_block_is_stored(backend: Backend) -> None:
    write_example(make(backend))

    df = make(backend)
    with df.open() as f:
        df.tags["datasets"] = len(f["turbines/t1"])
        df.labels.add("counted")

    assert make(backend).tags == {"datasets": 1}
    assert "counted" in make(backend).labels


def test_write_back_after_someone_else_wrote_raises_conflict_and_keeps_the_content(
    backend: Backend,
) -> None:
    write_example(make(backend))

    with pytest.raises(ConflictError) as raised, make(backend).open("r+") as mine:
        mine["mine"] = 1
        with make(backend).open("r+") as theirs:
            theirs["theirs"] = 2

    with make(backend).open() as f:
        assert "theirs" in f
        assert "mine" not in f
    kept_at = raised.value.kept_at
    assert kept_at is not None
    with h5py.File(kept_at, "r") as kept:
        assert "mine" in kept


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [("rt", {}), ("w+", {}), ("a+", {}), ("r", {"encoding": "utf-8"}), ("w", {"newline": ""})],
)
def test_text_modes_and_arguments_are_refused(
    backend: Backend, mode: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidModeError, match="h5py's modes"), make(backend).open(mode, **kwargs):
        pass
    assert not backend.fs.exists(backend.url("data.h5"))


def test_binary_modes_give_the_raw_bytes(backend: Backend) -> None:
    write_example(make(backend))

    with make(backend).open("rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"


def test_content_that_is_not_hdf5_raises_format_error_naming_the_path(backend: Backend) -> None:
    backend.write("notes.h5", b"just text")

    with pytest.raises(FormatError, match=r"notes\.h5.*'rb'"), make(backend, "notes.h5").open():
        pass


def test_missing_h5py_names_the_hdf5_extra(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)

    with (
        pytest.raises(BackendNotInstalledError, match=r"octstore\[hdf5\]"),
        make(backend).open("w"),
    ):
        pass
    assert not backend.fs.exists(backend.url("data.h5"))


def test_a_plain_read_leaves_a_local_copy_only_where_parts_cannot_be_read(
    backend: Backend,
) -> None:
    write_example(make(backend))
    from octstore import cache

    cache.clear()  # the write left its version in the cache

    df = make(backend)
    with df.open() as f:
        assert f.attrs["title"] == "wind"

    # S3 and GCS read parts pinned to the version; memory:// is downloaded; local is local.
    assert df.exists_locally is (not backend.is_cloud)


def test_download_reads_a_local_copy(backend: Backend) -> None:
    write_example(make(backend))
    from octstore import cache

    cache.clear()

    df = make(backend)
    with df.open("r", download=True) as f:
        assert f["turbines/t1/speed"][3] == 3.0

    assert df.exists_locally


def test_dataset_filters_select_hdf5_files_by_their_metadata(backend: Backend) -> None:
    for name, labels in (("north.h5", ["raw"]), ("south.h5", ["clean"]), ("notes.txt", ["raw"])):
        df = make(backend, name, labels=labels)
        if name.endswith(".h5"):
            with df.open("w") as f:
                f["site"] = name.removesuffix(".h5")
        else:
            with df.open("w") as f:
                f.write("notes")

    dataset = Dataset(backend.root, storage_options=backend.storage_options)
    found = dataset.files.filter(labels__contains="raw", name__ends_with=".h5").one()

    with found.open() as f:
        assert f["site"][()] == b"north"


def test_programs_read_an_hdf5_datafile_through_its_local_path(backend: Backend) -> None:
    write_example(make(backend))
    program = "import sys, h5py; print(h5py.File(sys.argv[1])['turbines/t1/speed'][4])"

    out = subprocess.run(
        [sys.executable, "-c", program, make(backend)], capture_output=True, text=True, check=True
    )

    assert out.stdout.strip() == "4.0"


# --- reading parts of a remote file -------------------------------------------------------


@CLOUDS
def test_reading_1_mb_of_a_200_mb_file_transfers_under_a_tenth_of_it(
    backend: Backend, proxy: Proxy, large_hdf5: Path
) -> None:
    url = upload(backend, large_hdf5, "large.h5")
    size = large_hdf5.stat().st_size

    with proxy.counting() as traffic:
        df = Datafile(url, storage_options=through(proxy, backend))
        with df.open() as f:
            small = f["small"][:]

    assert np.array_equal(small, np.arange(MB // 8, dtype=np.float64))
    print(f"{backend.name}: read 1 MB of {size / MB:.0f} MB: {traffic.bytes_down} bytes received")
    assert traffic.bytes_down < size / 10
    assert not df.exists_locally


@CLOUDS
def test_a_cached_copy_is_read_with_no_content_transfer(backend: Backend) -> None:
    df = make(backend)
    write_example(df)  # the write leaves this version in the cache
    assert df.exists_locally

    with backend.server.recording() as requests, make(backend).open() as f:
        assert f.attrs["title"] == "wind"

    assert backend.server.content_gets(requests, backend.url("data.h5").split("/", 3)[3]) == 0


@CLOUDS
def test_download_transfers_the_file_once(backend: Backend) -> None:
    write_example(make(backend))
    from octstore import cache

    cache.clear()
    key = backend.url("data.h5").split("/", 3)[3]

    with backend.server.recording() as requests:
        with make(backend).open("r", download=True) as f:
            f.visit(lambda name: None)
        with make(backend).open() as f:  # then the cached copy is read
            f.visit(lambda name: None)

    assert backend.server.content_gets(requests, key) == 1


@CLOUDS
def test_a_file_changed_while_read_in_parts_raises_integrity_error(
    backend: Backend, tmp_path: Path
) -> None:
    local = tmp_path / "changing.h5"
    url = two_datasets(backend, local, np.zeros(8 * MB, dtype=np.uint8))

    with make(backend, "changing.h5").open() as f:
        assert f["small"][9] == 9
        backend.write("changing.h5", local.read_bytes()[::-1])  # another writer
        with pytest.raises(IntegrityError, match="changed while it was read"):
            f["big"][-MB:]
        with pytest.raises(IntegrityError):  # and never anything else afterwards
            f["big"][-1]
    assert url.endswith("changing.h5")


def _read_while_the_io_thread_collects_garbage(url: str, options: dict[str, Any], out: Any) -> None:
    """In a process of its own: read a dataset while Python's automatic garbage collection
    runs on fsspec's IO thread and finds an h5py object in a reference cycle. h5py holds its
    global lock while it calls the file's read, and freeing an h5py object takes that lock:
    a collection on the thread the read waits for would deadlock the two."""
    import asyncio
    import gc
    import threading

    import fsspec.asyn

    reader, armed, collected = threading.get_ident(), threading.Event(), threading.Event()

    def waiting_on_the_io_thread() -> bool:
        frame = sys._current_frames().get(reader)
        while frame is not None:
            if frame.f_code.co_name == "sync" and "fsspec" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        return False

    async def make_garbage_during_the_read() -> None:
        while not (armed.is_set() and waiting_on_the_io_thread()):
            await asyncio.sleep(0)
        held.clear()  # now garbage: only a collection frees it
        allocated = [[] for _ in range(200 * gc.get_threshold()[0])]  # collections start
        collected.set()
        del allocated

    class Cycle:
        pass

    cycle = Cycle()  # an h5py object in a reference cycle (made here: making one takes the lock)
    cycle.me, cycle.space = cycle, h5py.h5s.create_simple((1,))  # type: ignore[attr-defined]
    held = [cycle]
    del cycle

    try:
        with Datafile(url, storage_options=options).open() as f:
            assert f["small"][9] == 9
            loop = fsspec.asyn.get_loop()
            asyncio.run_coroutine_threadsafe(make_garbage_during_the_read(), loop)
            armed.set()
            total = int(f["big"][-MB:].sum())
        out.put((total, collected.is_set()))
    except BaseException as error:
        out.put(repr(error))


@CLOUDS
def test_reading_parts_never_deadlocks_with_garbage_collection_on_the_io_thread(
    backend: Backend, tmp_path: Path
) -> None:
    url = two_datasets(backend, tmp_path / "collected.h5", np.ones(4 * MB, dtype=np.uint8))
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(
        target=_read_while_the_io_thread_collects_garbage,
        args=(url, backend.storage_options, out),
    )
    process.start()
    try:
        result = out.get(timeout=60)
    except queue.Empty:
        result = "the read deadlocked: h5py's lock against a collection on the IO thread"
    finally:
        process.kill()
        process.join()

    assert result == (MB, True)


def test_a_process_forked_while_a_part_is_fetched_collects_garbage() -> None:
    """Collection is paused while a part is fetched; a child forked meanwhile (a data
    loader's worker, say) has no reader of its own waiting, and collects as usual."""
    import gc
    import os
    import threading

    from octstore.datafile.ranges import _collection_paused

    waiting, done = threading.Event(), threading.Event()

    def fetching() -> None:
        with _collection_paused():
            waiting.set()
            done.wait(30)

    reader = threading.Thread(target=fetching)
    reader.start()
    read_end, write_end = os.pipe()
    try:
        assert waiting.wait(30)
        assert not gc.isenabled()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            os.write(write_end, b"on" if gc.isenabled() else b"off")
            os._exit(0)
        os.waitpid(child, 0)
        in_child = os.read(read_end, 3)
    finally:
        done.set()
        reader.join(30)
        os.close(read_end)
        os.close(write_end)

    assert in_child == b"on"
    assert gc.isenabled()  # and here, once the read is done
