"""A process killed at any point leaves the old state or the new, and the next run recovers.

Real processes (``crash_child.py``) write back, download, upload datasets and download them,
and are killed with SIGKILL: after a random, seeded delay, or at an instrumented point (right
after the K-th rename, removal or file write). Then, with no manual cleanup:

- what octstore reads, and what the storage holds, is the state before the interrupted
  operation or after it: content and metadata of one version, never a mix;
- the next run works: a write succeeds (no stale lock blocks it), a read gets the right
  bytes, ``cache.prune()`` removes the leftovers of interrupted downloads, and no temp file
  shows up as a dataset's file.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsspec
import pytest

from octstore import Datafile, Dataset, NotFoundError, Store, cache
from tests.conftest import Backend
from tests.reliability.checks import Stored, cache_temporaries, stored, unsound_cache_entries
from tests.reliability.crash_child import version
from tests.reliability.figures import FIGURES

ROOT = Path(__file__).parent.parent.parent
LOCAL = fsspec.filesystem("file")
SEED = 10


@dataclass
class Child:
    """A ``crash_child`` process, with the lines it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())
            if line.strip() == "ready":
                self._ready.set()
        self._ready.set()

    def wait_ready(self) -> None:
        assert self._ready.wait(timeout=60), "the child never got ready"
        assert "ready" in self.lines, f"the child failed: {self.process.returncode}"

    def kill(self) -> int:
        """Kill it (if it still runs); the number of operations it reported done."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        time.sleep(0.05)  # the reader thread takes the last lines
        done = [int(line.split()[1]) for line in self.lines if line.startswith("done ")]
        return max(done, default=0)


def spawn(job: str, crash_after: int | None = None, **arguments: Any) -> Child:
    env = dict(os.environ)
    if crash_after is not None:
        env["OCTSTORE_TEST_CRASH_AFTER"] = str(crash_after)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", job, json.dumps(arguments)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Child(process)


def crash(job: str, *, delay: float | None = None, after: int | None = None, **args: Any) -> int:
    """Run ``job`` in a child and kill it ``delay`` seconds after it is ready, or let it kill
    itself at crash point ``after``; return how many operations it reported done."""
    child = spawn(job, after, **args)
    try:
        child.wait_ready()
        if delay is not None:
            time.sleep(delay)
        else:
            child.process.wait(timeout=120)
        return child.kill()
    finally:
        if child.process.poll() is None:
            child.process.kill()


def read(url: str, options: dict[str, Any]) -> Stored | None:
    """The state octstore reads at ``url`` (the next run's view), or None if nothing is there."""
    df = Datafile(url, storage_options=options)
    if not (df.exists_in_cloud or os.path.isfile(df.path)):
        return None
    with df.open("rb") as f:
        content = f.read()
    return Stored.of(content, df.labels, dict(df.tags), None)


def versioned(i: int, size: int) -> Stored:
    return Stored.of(version(i, size), [f"v{i}"], {"version": i})


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    return random.Random(f"{SEED}-{request.node.name}")


# --- write-back ---------------------------------------------------------------------------


def _write_back_survives(backend: Backend, kill: dict[str, Any], size: int) -> None:
    url, options = backend.url("data.bin"), backend.storage_options
    # The loop's last round left its own labels there: version 0 has exactly its own.
    df = Datafile(
        url,
        storage_options=options,
        labels=["v0"],
        tags={"version": 0},
        ignore_stored_metadata=True,
    )
    with df.open("wb") as f:
        f.write(version(0, size))

    done = crash("write_back", url=url, options=options, size=size, **kill)

    FIGURES.add("crashes", f"{backend.name}: write-back")
    allowed = (versioned(done, size), versioned(done + 1, size))
    assert read(url, options) in allowed
    assert stored(backend.name, backend.fs, url) in allowed
    # The next run: writes work (no stale lock), and no leftover shows as a file.
    after = Datafile(url, storage_options=options)
    after.labels, after.tags = ["after"], {}
    with after.open("wb") as f:
        f.write(b"after the crash")
    assert stored(backend.name, backend.fs, url) == Stored.of(b"after the crash", ["after"])
    names = [d.name for d in Dataset(backend.root, storage_options=options)]
    assert names == ["data.bin"]
    backend.fs.invalidate_cache()  # and no lock or lease is left: the next writer's is gone
    left = [os.path.basename(p) for p in backend.fs.find(backend.root)]
    assert [name for name in left if name.endswith(("octstore-lock", "octstore-lease"))] == []
    cache.prune()
    assert cache_temporaries() == []
    assert unsound_cache_entries() == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", range(1, 9))
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_write_back_killed_at_each_step_leaves_old_or_new(backend: Backend, point: int) -> None:
    _write_back_survives(backend, {"after": point}, size=20_000)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["local", "s3", "gcs", "az"], indirect=True)
def test_write_back_killed_at_random_leaves_old_or_new(
    backend: Backend, rng: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An S3 writer killed under its lease leaves it: the next writer waits for it to expire
    # (a second here, plus what the writer said its upload needs), then takes it over.
    monkeypatch.setenv("OCTSTORE_LEASE_TTL", "1")
    monkeypatch.setenv("OCTSTORE_LEASE_WAIT", "10")
    for _ in range(3):
        _write_back_survives(backend, {"delay": rng.uniform(0.2, 1.0)}, size=2_000_000)


# --- download into the cache --------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_download_killed_at_random_leaves_a_cache_that_serves_only_whole_files(
    backend: Backend, rng: random.Random
) -> None:
    contents = {backend.url(f"f{i}.bin"): os.urandom(3 * 2**20) for i in range(3)}
    for url, data in contents.items():
        with Datafile(url, storage_options=backend.storage_options).open("wb") as f:
            f.write(data)

    for _ in range(3):
        crash(
            "download",
            delay=rng.uniform(0.0, 0.6),
            urls=list(contents),
            options=backend.storage_options,
        )
        FIGURES.add("crashes", f"{backend.name}: download into the cache")

        assert unsound_cache_entries() == []
        for url, data in contents.items():  # the next run reads whole files
            with Datafile(url, storage_options=backend.storage_options).open("rb") as f:
                assert f.read() == data
        cache.prune()
        assert cache_temporaries() == []


# --- dataset upload and download ----------------------------------------------------------


def _local_dataset(root: Path, files: int, size: int) -> dict[str, Stored]:
    wanted = {}
    for i in range(files):
        name = f"part-{i:02d}/data-{i}.bin"
        data = os.urandom(size)
        df = Datafile(str(root / name), labels=["ds"], tags={"i": i})
        with df.open("wb") as f:
            f.write(data)
        wanted[name] = Stored.of(data, ["ds"], {"i": i})
    return wanted


def _timed(job: str, **arguments: Any) -> float:
    """How long ``job`` takes from ready to done when nothing kills it."""
    child = spawn(job, **arguments)
    child.wait_ready()
    started = time.monotonic()
    assert child.process.wait(timeout=120) == 0
    return time.monotonic() - started


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_dataset_upload_killed_at_random_leaves_whole_files_and_the_next_run_completes(
    backend: Backend, tmp_path: Path, rng: random.Random
) -> None:
    wanted = _local_dataset(tmp_path / "dataset", files=12, size=200_000)
    options = backend.storage_options
    arguments = {"root": str(tmp_path / "dataset"), "options": options}
    duration = _timed("upload_dataset", destination=backend.url("calibration"), **arguments)

    for attempt in range(3):
        destination = backend.url(f"copy-{attempt}")
        crash(
            "upload_dataset", delay=rng.uniform(0, duration), destination=destination, **arguments
        )
        FIGURES.add("crashes", f"{backend.name}: dataset upload")

        there = {name: stored(backend.name, backend.fs, f"{destination}/{name}") for name in wanted}
        assert all(state in (None, wanted[name]) for name, state in there.items())
        report = Dataset(str(tmp_path / "dataset")).upload(destination, storage_options=options)
        assert sorted(report.transferred) == sorted(
            f"{destination}/{name}" for name, state in there.items() if state is None
        )
        for name, state in wanted.items():
            assert stored(backend.name, backend.fs, f"{destination}/{name}") == state
        assert len(Dataset(destination, storage_options=options)) == len(wanted)


def _downloaded_dataset_survives(
    backend: Backend, target: Path, wanted: dict[str, Stored], kill: dict[str, Any]
) -> None:
    prefix, options = backend.url("dataset"), backend.storage_options
    crash("download_dataset", prefix=prefix, target=str(target), options=options, **kill)
    FIGURES.add("crashes", f"{backend.name}: dataset download to local")

    for name, state in wanted.items():  # what the next run reads: whole files or none
        assert read(str(target / name), {}) in (None, state)
    if target.exists():  # loading settles interrupted writes; temp files are not files
        listed = {d.path for d in Dataset(str(target))}
        assert listed <= {str(target / name) for name in wanted}
    for name, state in wanted.items():
        assert stored("local", LOCAL, str(target / name)) in (None, state)
    Dataset(prefix, storage_options=options).download(target)
    for name, state in wanted.items():
        assert stored("local", LOCAL, str(target / name)) == state


@pytest.fixture
def remote_dataset(backend: Backend, tmp_path: Path) -> dict[str, Stored]:
    wanted = _local_dataset(tmp_path / "source", files=6, size=100_000)
    Dataset(str(tmp_path / "source")).upload(
        backend.url("dataset"), storage_options=backend.storage_options
    )
    return wanted


@pytest.mark.timeout(240)
@pytest.mark.parametrize("point", [1, 3, 5, 7, 9, 11, 13, 15, 17])
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_dataset_download_killed_at_a_step_leaves_whole_files_and_the_next_run_completes(
    backend: Backend, tmp_path: Path, remote_dataset: dict[str, Stored], point: int
) -> None:
    _downloaded_dataset_survives(backend, tmp_path / "copy", remote_dataset, {"after": point})


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_dataset_download_killed_at_random_leaves_whole_files_and_the_next_run_completes(
    backend: Backend, tmp_path: Path, remote_dataset: dict[str, Stored], rng: random.Random
) -> None:
    for attempt in range(2):
        target = tmp_path / f"copy-{attempt}"
        _downloaded_dataset_survives(
            backend, target, remote_dataset, {"delay": rng.uniform(0.0, 0.5)}
        )


# --- the attachment store: gc and add -----------------------------------------------------

STORE_OBJECTS = 12


def _store_sound(store: Store, backend: Backend, contents: dict[str, bytes], tmp: Path) -> set[str]:
    """Check that each content is in ``store`` whole (content, metadata, and every way of
    reading it agree) or not at all (every way of reading it says so); the digests there."""
    present = set()
    for digest, data in contents.items():
        handle = f"{digest}/{digest[:8]}.bin"
        url = store._object(digest).url  # where it is, to look behind octstore's back
        try:  # octstore reads first: it settles a local write a crash interrupted
            size: int | None = store.info(handle).size
        except NotFoundError:
            size = None
        truth = stored(backend.name, backend.fs, url)
        if truth is None:
            assert size is None, f"{url}: info() found it, the storage does not hold it"
            with pytest.raises(NotFoundError):
                store.open(handle)
            with pytest.raises(NotFoundError):
                store.fetch(handle, tmp)
            assert handle not in store
            continue
        assert truth.content == data, f"{url}: its content is not its hash's"
        tags = json.loads(truth.tags)
        assert "added" in tags, f"{url}: its metadata is missing"
        assert tags["names"], f"{url}: its metadata has no names"
        assert size == len(data)
        with store.open(handle) as f:
            assert f.read() == data
        fetched = Path(store.fetch(handle, tmp / "fetched", overwrite=True))
        assert fetched.read_bytes() == data
        present.add(digest)
    return present


def _claims_left(store: Store) -> list[str]:
    return store.claims.files()


def _gc_survives(backend: Backend, tmp_path: Path, kill: dict[str, Any]) -> None:
    options = backend.storage_options
    store = Store(backend.url("attachments"), options)
    contents = {}
    for i in range(STORE_OBJECTS):
        data = f"attachment {i};".encode() * (i + 1)
        digest = store.add(f"{hashlib.sha256(data).hexdigest()[:8]}.bin", data).split("/")[0]
        contents[digest] = data
    referenced = [f"{d}/{d[:8]}.bin" for d in sorted(contents)[::3]]
    kept = {handle.split("/")[0] for handle in referenced}

    crash("store_gc", url=store.url, options=options, referenced=referenced, **kill)
    FIGURES.add("crashes", f"{backend.name}: attachment store gc")

    present = _store_sound(store, backend, contents, tmp_path)
    assert kept <= present, "gc deleted a referenced object"
    # The next gc completes; stale claims only delay adds of their content until they
    # expire (CLAIM_TIMEOUT), and a later gc removes them.
    report = store.gc(set(referenced), grace=timedelta(0))
    assert report.kept_busy == []
    assert _store_sound(store, backend, contents, tmp_path) == kept
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("octstore.store.claims.CLAIM_TIMEOUT", timedelta(seconds=0.2))
        time.sleep(0.5)
        for digest, data in contents.items():
            assert store.add(f"{digest[:8]}.bin", data) == f"{digest}/{digest[:8]}.bin"
        store.gc(set(), grace=timedelta(hours=1))
    assert _claims_left(store) == []
    assert _store_sound(store, backend, contents, tmp_path) == set(contents)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("point", [1, 2, 4, 6])
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_store_gc_killed_at_each_step_leaves_whole_objects_and_the_next_run_recovers(
    backend: Backend, tmp_path: Path, point: int
) -> None:
    _gc_survives(backend, tmp_path, {"after": point})


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["local", "s3", "gcs", "az"], indirect=True)
def test_store_gc_killed_at_random_leaves_whole_objects_and_the_next_run_recovers(
    backend: Backend, tmp_path: Path, rng: random.Random
) -> None:
    for _ in range(2):
        _gc_survives(backend, tmp_path, {"delay": rng.uniform(0.0, 0.5)})


def _add_survives(backend: Backend, tmp_path: Path, kill: dict[str, Any], size: int) -> None:
    options = backend.storage_options
    store = Store(backend.url("attachments"), options)
    done = crash("store_add", url=store.url, options=options, size=size, **kill)
    FIGURES.add("crashes", f"{backend.name}: attachment store add")

    versions = [version(i, size) for i in range(1, done + 2)]
    contents = {hashlib.sha256(data).hexdigest(): data for data in versions}
    present = _store_sound(store, backend, contents, tmp_path)
    assert set(list(contents)[:done]) <= present, "an add that returned lost its content"
    # A retry of the interrupted add works, and gc is not stopped by what it left.
    handle = store.add(f"v{done + 1}.bin", version(done + 1, size))
    with store.open(handle) as f:
        assert f.read() == version(done + 1, size)
    assert f"v{done + 1}.bin" in store.info(handle).names
    report = store.gc({handle}, grace=timedelta(0))
    assert report.kept_busy == []
    assert report.kept_unknown == []
    assert [item.sha256 for item in store.list()] == [handle.split("/")[0]]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("point", [1, 3, 5])
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_store_add_killed_at_each_step_leaves_whole_objects_and_a_retry_works(
    backend: Backend, tmp_path: Path, point: int
) -> None:
    _add_survives(backend, tmp_path, {"after": point}, size=50_000)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", ["local", "s3", "gcs", "az"], indirect=True)
def test_store_add_killed_at_random_leaves_whole_objects_and_a_retry_works(
    backend: Backend, tmp_path: Path, rng: random.Random
) -> None:
    for attempt in range(2):
        sub = tmp_path / f"attempt-{attempt}"
        sub.mkdir()
        _add_survives(backend, sub, {"delay": rng.uniform(0.0, 0.8)}, size=500_000)
