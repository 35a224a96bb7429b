"""The cache is never wrong: versioned, verified, safe across real processes, bounded."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from octstore import (
    AlreadyExistsError,
    Datafile,
    IntegrityError,
    NotFoundError,
    OctstoreError,
    cache,
)
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from octstore.state import ObjectState
from tests import workers
from tests.conftest import Backend

REMOTE = ["memory", "s3", "gcs", "az"]
CLOUD = ["s3", "gcs", "az"]


def make(backend: Backend, name: str = "data.bin", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def key(backend: Backend, name: str = "data.bin") -> str:
    return backend.url(name).split("/", 3)[3]


def cached_files() -> list[Path]:
    objects = cache.cache_root() / "objects"
    return [path for path in objects.glob("*/*/data/*") if not path.name.startswith(".")]


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let eviction take entries used just now (tests run in well under a minute)."""
    monkeypatch.setattr(cache.pruning, "RECENT_SECONDS", 0.0)


# --- one download for many readers -------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_eight_processes_reading_one_uncached_object_download_it_once(backend: Backend) -> None:
    data = os.urandom(24 * 2**20)
    with make(backend).open("wb") as f:
        f.write(data)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(8), context.Queue()
    readers = [
        context.Process(
            target=workers.read_after_barrier,
            args=(backend.url("data.bin"), backend.storage_options, barrier, results),
        )
        for _ in range(8)
    ]
    cache.clear()  # the write above left the new version in the cache

    with backend.server.recording() as requests:
        for reader in readers:
            reader.start()
        outcomes = [results.get(timeout=150) for _ in readers]
        for reader in readers:
            reader.join(timeout=30)

    assert outcomes == [(len(data), crc32c_bytes(data))] * 8
    assert all(reader.exitcode == 0 for reader in readers)
    assert backend.server.content_gets(requests, key(backend)) == 1


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_remote_overwrite_is_read_by_the_next_process(backend: Backend) -> None:
    backend.write("data.bin", b"first version")
    assert _read_in_another_process(backend) == b"first version"

    backend.write("data.bin", b"second")

    assert _read_in_another_process(backend) == b"second"
    assert make(backend).open("rb").__enter__().read() == b"second"


def _read_in_another_process(backend: Backend) -> bytes:
    if backend.name == "memory":  # memory:// lives in this process only
        return workers.read(backend.url("data.bin"), backend.storage_options)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        data: bytes = pool.apply(workers.read, (backend.url("data.bin"), backend.storage_options))
    return data


# --- integrity ----------------------------------------------------------------------------


def _flip_a_byte(path: Path) -> None:
    with path.open("r+b") as entry:
        first = entry.read(1)
        entry.seek(0)
        entry.write(bytes([first[0] ^ 0xFF]))


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_corrupted_entry_is_detected_and_fetched_again(backend: Backend) -> None:
    data = os.urandom(100_000)
    with make(backend).open("wb") as f:  # written by octstore: the backend knows its CRC32C
        f.write(data)
    df = make(backend)
    entry = Path(df.local_path)

    _flip_a_byte(entry)
    with backend.server.recording() as requests, df.open("rb") as f:
        assert f.read() == data

    assert backend.server.content_gets(requests, key(backend)) == 1
    assert Path(df.local_path).read_bytes() == data


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_an_entry_changed_on_disk_is_never_served(backend: Backend) -> None:
    backend.write("data.bin", b"the real content")  # written behind octstore: maybe no hash
    df = make(backend)
    entry = Path(df.local_path)

    entry.write_bytes(b"tampered content")

    with df.open("rb") as f:
        assert f.read() == b"the real content"


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_download_that_does_not_match_the_crc32c_caches_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make(backend).open("wb") as f:
        f.write(b"content")
    cache.clear()

    df = make(backend)
    # memory:// gives no hash, so only a size mismatch can be caught there.
    wrong = b"short" if df._state is None or df._state.crc32c is None else b"cOntent"

    def corrupting(location: Location, state: ObjectState, target: str, transfer: Any) -> None:
        Path(target).write_bytes(wrong)

    monkeypatch.setattr(cache.entries, "download", corrupting)

    with pytest.raises(IntegrityError, match="nothing was cached"), df.open("rb"):
        pass

    assert cached_files() == []


# The child downloads over a "slow network": the transfer step streams 1 MiB chunks with a
# pause between them, so that the kill lands mid-transfer; fetch, locking, verification and
# the rename around it are octstore's own.
SLOW_DOWNLOAD = """
import json, sys, time
from octstore import Datafile
from octstore.cache import entries

def slow_download(location, state, target, transfer):
    with location.fs.open(location.fs_path, "rb") as source, open(target, "wb") as out:
        while chunk := source.read(2**20):
            out.write(chunk)
            out.flush()
            time.sleep(0.05)

entries.download = slow_download  # what the cache's fetch calls (not cache.download)
Datafile(sys.argv[1], storage_options=json.loads(sys.argv[2])).local_path
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_a_download_killed_midway_leaves_a_usable_cache(backend: Backend) -> None:
    data = os.urandom(16 * 2**20)
    with make(backend).open("wb") as f:
        f.write(data)
    cache.clear()
    arguments = [backend.url("data.bin"), json.dumps(backend.storage_options)]
    process = subprocess.Popen([sys.executable, "-c", SLOW_DOWNLOAD, *arguments])
    try:
        temporary = _wait_for_partial_download(process, len(data))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()

    assert 0 < temporary.stat().st_size < len(data)
    with make(backend).open("rb") as f:
        assert f.read() == data
    assert cache.prune().temp_files_removed == 1
    assert not temporary.exists()


def _wait_for_partial_download(process: subprocess.Popen[bytes], size: int) -> Path:
    """The temp file of the download once it holds some but not all of ``size`` bytes."""
    deadline = time.monotonic() + 60
    objects = cache.cache_root() / "objects"
    while time.monotonic() < deadline:
        assert process.poll() is None, "the download ended before it could be killed"
        for temporary in objects.glob("*/*/data/.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if 2**20 <= temporary.stat().st_size < size // 2:
                    return temporary
        time.sleep(0.01)
    raise AssertionError("no partial download seen")


# --- offline ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_offline_serves_a_cached_file_and_its_metadata_with_no_request(backend: Backend) -> None:
    with make(backend, labels=["raw"]).open("wb") as f:
        f.write(b"content")
    make(backend).download()

    with backend.server.recording() as requests:
        df = make(backend, offline=True)
        with df.open("rb") as f:
            content = f.read()

    assert content == b"content"
    assert df.labels == {"raw"}
    assert requests == []


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_offline_environment_variable_switches_offline_on(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.write("data.bin", b"content")
    monkeypatch.setenv("OCTSTORE_OFFLINE", "1")

    with pytest.raises(NotFoundError, match=r"not in the cache.*OCTSTORE_OFFLINE"):
        make(backend).download()


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_offline_refuses_to_write(backend: Backend) -> None:
    backend.write("data.bin", b"content")
    make(backend).download()
    df = make(backend, offline=True)

    with pytest.raises(OctstoreError, match="offline"), df.open("wb"):
        pass
    with pytest.raises(OctstoreError, match="offline"):
        df.update_metadata()
    assert backend.read("data.bin") == b"content"


# --- size bound ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_least_recently_used_entries_are_evicted_over_the_bound(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, no_grace: None
) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_MAX_BYTES", "2500")
    for name in ("a", "b", "c"):
        backend.write(name, bytes(1000))
    first, second, third = (make(backend, name) for name in ("a", "b", "c"))
    first.download()
    time.sleep(0.01)
    second.download()
    time.sleep(0.01)
    first.download()  # used again: now b is the least recently used

    third.download()

    assert cache.info().bytes <= 2500
    assert first.exists_locally
    assert third.exists_locally
    assert not second.exists_locally


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_filling_the_cache_scans_it_only_when_the_bound_is_near(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, no_grace: None
) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_MAX_BYTES", "40000")
    scans: list[int] = []
    real_info = cache.info
    monkeypatch.setattr(cache.pruning, "info", lambda: scans.append(1) or real_info())
    for i in range(50):
        backend.write(f"f{i}", bytes(1000))

    for i in range(30):
        make(backend, f"f{i}").download()

    assert len(scans) == 1  # this process knows what it added: 30,000 bytes is under the bound

    for i in range(30, 50):
        make(backend, f"f{i}").download()

    assert len(scans) > 1
    assert real_info().bytes <= 40000


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_an_open_entry_is_never_evicted(backend: Backend, no_grace: None) -> None:
    backend.write("a", b"A" * 1000)
    backend.write("b", b"B" * 1000)

    with make(backend, "a").open("rb") as held:
        make(backend, "b").download()
        report = cache.prune(0)
        assert held.read() == b"A" * 1000

    assert report.kept_in_use == 1
    assert make(backend, "a").exists_locally


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_info_prune_and_clear_report_what_they_did(backend: Backend, no_grace: None) -> None:
    backend.write("a", bytes(300))
    backend.write("b", bytes(700))
    make(backend, "a").download()
    make(backend, "b").download()

    assert (cache.info().entries, cache.info().bytes) == (2, 1000)
    report = cache.clear()

    assert sorted(report.removed) == [backend.url("a"), backend.url("b")]
    assert report.freed_bytes == 1000
    assert cache.info().entries == 0


def test_a_malformed_size_bound_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_MAX_BYTES", "lots")

    with pytest.raises(OctstoreError, match="OCTSTORE_CACHE_MAX_BYTES='lots'"):
        cache.max_bytes()


def test_size_bound_takes_human_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTSTORE_CACHE_MAX_BYTES", "1.5GiB")

    assert cache.max_bytes() == int(1.5 * 2**30)


# --- download into a user directory -------------------------------------------------------


def test_download_of_identical_content_leaves_the_file_alone(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("data.bin", b"content")
    target = tmp_path / "out" / "data.bin"
    make(backend).download(target)
    before = target.stat()

    again = make(backend).download(target)

    assert again == str(target)
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.bin"]


def test_download_over_different_content_needs_overwrite(backend: Backend, tmp_path: Path) -> None:
    backend.write("data.bin", b"content")
    target = tmp_path / "data.bin"
    target.write_bytes(b"my own work")

    with pytest.raises(AlreadyExistsError, match="overwrite=True"):
        make(backend).download(target)
    assert target.read_bytes() == b"my own work"

    make(backend).download(target, overwrite=True)
    assert target.read_bytes() == b"content"


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_download_to_a_second_place_copies_from_the_cache(backend: Backend, tmp_path: Path) -> None:
    backend.write("data.bin", b"content")
    make(backend).download(tmp_path / "one.bin")

    with backend.server.recording() as requests:
        make(backend).download(tmp_path / "two.bin")

    assert (tmp_path / "two.bin").read_bytes() == b"content"
    assert backend.server.content_gets(requests, key(backend)) == 0


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_opening_a_cached_file_costs_one_metadata_request_and_no_content(
    backend: Backend,
) -> None:
    backend.write("data.bin", b"content")
    make(backend).download()

    with backend.server.recording() as requests:
        df = make(backend)
        with df.open("rb") as f:
            assert f.read() == b"content"
    with backend.server.recording() as again, df.open("rb") as f:
        assert f.read() == b"content"

    assert len(requests) == 1
    assert len(again) == 1
    assert backend.server.content_gets(requests + again, key(backend)) == 0


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_appending_to_a_cached_file_is_one_metadata_request_and_one_upload(
    backend: Backend,
) -> None:
    with make(backend).open("wb") as f:
        f.write(b"one\n")

    with backend.server.recording() as requests, make(backend).open("ab") as f:
        f.write(b"two\n")

    assert backend.read("data.bin") == b"one\ntwo\n"
    # S3 adds its lease around the upload, and the read of the metadata under it
    assert len(requests) == (5 if backend.name == "s3" else 2)
    assert backend.server.content_gets(requests, key(backend)) == 0


@pytest.mark.parametrize("name", ["entry.json", ".entry.json", ".x.abcdefgh.tmp", "data"])
@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_files_named_like_cache_internals_are_cached_like_any_other(
    backend: Backend, name: str
) -> None:
    backend.write(name, b"user content")

    with make(backend, name).open("rb") as f:
        assert f.read() == b"user content"
    assert cache.prune().temp_files_removed == 0
    assert cache.info().entries == 1
    with make(backend, name).open("rb") as f:
        assert f.read() == b"user content"


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_offline_never_downloads_even_when_the_entry_was_evicted_meanwhile(
    backend: Backend,
) -> None:
    backend.write("data.bin", b"content")
    make(backend).download()
    df = make(backend, offline=True)
    cache.clear()

    with (
        backend.server.recording() as requests,
        pytest.raises(NotFoundError, match="offline"),
        df.open("rb"),
    ):
        pass

    assert requests == []
