"""Store behaviour, the same on local, memory, s3 (moto) and gcs (emulator)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import threading
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octstore import (
    AlreadyExistsError,
    Datafile,
    GcReport,
    IntegrityError,
    InvalidHandleError,
    NotFoundError,
    OctstoreError,
    Store,
    StoredObject,
)
from octstore.store import CLAIM_TIMEOUT, READ_AHEAD
from octstore.store.handles import sanitize_filename, split_handle
from tests.conftest import Backend

CONTENT = b"Feed the cats!"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
HOUR = timedelta(hours=1)


@pytest.fixture
def store(backend: Backend) -> Store:
    return Store(backend.url("attachments"), backend.storage_options)


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    """An empty directory to fetch into (the local backend keeps its files in tmp_path)."""
    directory = tmp_path / "downloads"
    directory.mkdir()
    return directory


def object_name(digest: str) -> str:
    return f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"


def files_under(backend: Backend, prefix: str) -> list[str]:
    backend.fs.invalidate_cache()
    try:
        found: list[str] = backend.fs.find(backend.url(prefix))
    except FileNotFoundError:
        return []
    return found


def age(store: Store, handle: str, by: timedelta) -> None:
    """Make ``handle``'s object look added ``by`` earlier, as another process would see it."""
    datafile = store.datafile(handle)
    added = datetime.fromisoformat(str(datafile.tags["added"]))
    datafile.tags["added"] = (added - by).isoformat()
    datafile.update_metadata()


# --- adding -------------------------------------------------------------------------------


def test_add_returns_the_sha256_and_the_name(store: Store, backend: Backend) -> None:
    handle = store.add("memo.txt", CONTENT)

    assert handle == f"{DIGEST}/memo.txt"
    assert backend.read(object_name(DIGEST)) == CONTENT


def test_add_takes_bytes_a_path_or_a_binary_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_bytes(CONTENT)

    handles = {
        store.add("memo.txt", CONTENT),
        store.add("memo.txt", str(path)),
        store.add("memo.txt", path),
        store.add("memo.txt", io.BytesIO(CONTENT)),
        store.add("memo.txt", bytearray(CONTENT)),
    }
    with path.open("rb") as file:
        handles.add(store.add("memo.txt", file))

    assert handles == {f"{DIGEST}/memo.txt"}


def test_add_of_empty_content_works(store: Store) -> None:
    handle = store.add("empty.txt", b"")

    assert handle == f"{hashlib.sha256(b'').hexdigest()}/empty.txt"
    with store.open(handle) as file:
        assert file.read() == b""


def test_identical_content_is_stored_once_and_not_written_again(
    store: Store, backend: Backend
) -> None:
    first = store.add("memo.txt", CONTENT)
    written = store.datafile(first)

    second = store.add("copy of memo.txt", CONTENT)

    again = store.datafile(second)
    assert again._state is not None
    assert written._state is not None
    assert again._state.version_token == written._state.version_token  # content untouched
    assert [item.sha256 for item in store.list()] == [DIGEST]
    assert store.info(second).names == ("memo.txt", "copy of memo.txt")
    data_files = [
        path for path in files_under(backend, "attachments") if path.rsplit("/", 1)[-1] == DIGEST
    ]
    assert len(data_files) == 1


def test_second_add_on_s3_sends_no_content(
    s3fs_fs: object, s3_server: object, tmp_path: Path
) -> None:
    from tests.servers import S3_BUCKET, S3Server

    assert isinstance(s3_server, S3Server)
    store = Store(f"s3://{S3_BUCKET}/attachments", {"endpoint_url": s3_server.endpoint_url})
    store.add("memo.txt", CONTENT)

    with s3_server.recording() as requests:
        store.add("again.txt", CONTENT)

    writes = [request for request in requests if request["method"] in ("PUT", "POST")]
    assert writes  # the metadata is rewritten ...
    for request in writes:  # ... by a copy onto itself, never with the content
        if request["path"].endswith(".octstore-lease"):  # the metadata update's lease: a
            assert request["body"] != CONTENT.decode()  # token of its own
            continue
        assert "X-Amz-Copy-Source" in request["headers"] or ".claims" in request["path"]
        assert int(request["headers"].get("Content-Length", 0)) < len(CONTENT)


def test_a_small_range_of_a_large_s3_object_transfers_little(
    s3fs_fs: object, s3_server: object, tmp_path: Path
) -> None:
    from tests.servers import S3_BUCKET, S3Server

    assert isinstance(s3_server, S3Server)
    store = Store(f"s3://{S3_BUCKET}/attachments", {"endpoint_url": s3_server.endpoint_url})
    handle = store.add("large.bin", os.urandom(24 * 2**20))

    with s3_server.recording() as requests, store.open(handle) as file:
        file.seek(10 * 2**20)
        assert len(file.read(100)) == 100

    ranges = [r["headers"]["Range"] for r in requests if r["method"] == "GET"]
    assert len(ranges) == 1
    start, end = (int(n) for n in ranges[0].removeprefix("bytes=").split("-"))
    assert end - start < READ_AHEAD + 2**20


def test_add_keeps_names_and_size_as_metadata(store: Store) -> None:
    before = datetime.now(timezone.utc)

    handle = store.add("memo.txt", CONTENT)

    info = store.info(handle)
    assert info.sha256 == DIGEST
    assert info.size == len(CONTENT)
    assert info.names == ("memo.txt",)
    assert info.created is not None
    assert info.added is not None
    assert before - timedelta(seconds=1) <= info.created <= info.added
    assert info.handles == [handle]


def test_add_sanitises_hostile_names(store: Store) -> None:
    handle = store.add('../../a"\r\nSet-Cookie: x=1.txt', CONTENT)

    digest, name = split_handle(handle)
    assert digest == DIGEST
    assert name == "a___Set-Cookie_ x=1.txt"
    assert store.info(handle).names == (name,)


def test_add_keeps_non_ascii_names(store: Store) -> None:
    handle = store.add("Prüfbericht — März 2024.pdf", CONTENT)

    assert handle.endswith("/Prüfbericht — März 2024.pdf")
    assert store.info(handle).names == ("Prüfbericht — März 2024.pdf",)


def test_add_takes_names_as_long_as_file_names_can_be(store: Store, downloads: Path) -> None:
    name = "é" * 125 + ".txt"  # 254 bytes

    handle = store.add(name, CONTENT)

    assert handle == f"{DIGEST}/{name}"
    assert Path(store.fetch(handle, downloads)).read_bytes() == CONTENT


def test_add_of_a_missing_path_says_a_str_is_a_path(store: Store) -> None:
    with pytest.raises(NotFoundError, match="pass bytes"):
        store.add("memo.txt", "Feed the cats!")


def test_add_of_a_text_file_asks_for_binary_mode(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_text("text")

    with path.open() as file, pytest.raises(OctstoreError, match="binary mode"):
        store.add("memo.txt", file)  # type: ignore[arg-type]

    assert store.list() == []


def test_add_refuses_an_object_of_the_wrong_size_at_its_address(
    store: Store, backend: Backend
) -> None:
    backend.write(object_name(DIGEST), b"not the content")

    with pytest.raises(IntegrityError, match="delete it"):
        store.add("memo.txt", CONTENT)


def test_concurrent_adds_of_one_content_store_it_once(store: Store, backend: Backend) -> None:
    handles: list[str] = []
    barrier = threading.Barrier(6)

    def add(number: int) -> None:
        barrier.wait()
        handles.append(store.add(f"copy {number}.txt", CONTENT))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(handles) == 6
    assert [item.sha256 for item in store.list()] == [DIGEST]
    for handle in handles:
        with store.open(handle) as file:
            assert file.read() == CONTENT


def test_add_of_a_large_file_streams_in_constant_memory(tmp_path: Path) -> None:
    size = 48 * 2**20
    path = tmp_path / "large.bin"
    with path.open("wb") as out:
        for n in range(size // 2**20):
            out.write(bytes([n]) * 2**20)
    store = Store(tmp_path / "store")

    tracemalloc.start()
    try:
        handle = store.add("large.bin", path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * 2**20
    assert store.info(handle).size == size


# --- reading ------------------------------------------------------------------------------


def test_open_reads_lazily_by_range(store: Store) -> None:
    handle = store.add("digits.txt", b"0123456789")

    with store.open(handle) as file:
        file.seek(3)
        assert file.read(4) == b"3456"


def test_two_readers_of_one_handle_each_keep_their_place(store: Store) -> None:
    handle = store.add("digits.txt", b"0123456789")

    with store.open(handle) as first, store.open(handle) as second:
        assert first.read(4) == b"0123"
        assert second.read(4) == b"0123"  # not where the first one stopped
        assert first.read(4) == b"4567"


def test_datafile_has_the_content_and_the_metadata(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)

    datafile = store.datafile(handle)

    assert isinstance(datafile, Datafile)
    assert datafile.name == DIGEST
    assert datafile.tags["names"] == ["memo.txt"]
    with datafile.open("rb") as file:
        assert file.read() == CONTENT


def test_fetch_writes_a_file_named_by_the_handle(store: Store, downloads: Path) -> None:
    handle = store.add("Résumé.pdf", CONTENT)

    path = store.fetch(handle, downloads)

    assert path == str(downloads / "Résumé.pdf")
    assert Path(path).read_bytes() == CONTENT


def test_fetch_to_a_file_path(store: Store, downloads: Path) -> None:
    handle = store.add("memo.txt", CONTENT)

    path = store.fetch(handle, downloads / "sub" / "renamed.txt")

    assert Path(path).read_bytes() == CONTENT


def test_fetch_leaves_identical_content_alone(store: Store, downloads: Path) -> None:
    handle = store.add("memo.txt", CONTENT)
    existing = downloads / "memo.txt"
    existing.write_bytes(CONTENT)
    before = existing.stat()

    path = store.fetch(handle, downloads)

    after = Path(path).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(os.listdir(downloads)) == ["memo.txt"]  # no duplicate, no temp file


def test_fetch_refuses_to_replace_other_content_unless_told(store: Store, downloads: Path) -> None:
    handle = store.add("memo.txt", CONTENT)
    (downloads / "memo.txt").write_bytes(b"mine")

    with pytest.raises(AlreadyExistsError, match="overwrite=True"):
        store.fetch(handle, downloads)
    assert (downloads / "memo.txt").read_bytes() == b"mine"

    store.fetch(handle, downloads, overwrite=True)
    assert (downloads / "memo.txt").read_bytes() == CONTENT


def test_fetch_detects_a_damaged_object(store: Store, backend: Backend, downloads: Path) -> None:
    handle = store.add("memo.txt", CONTENT)
    backend.write(object_name(DIGEST), b"Feed the dogs!")  # same size, other content

    with pytest.raises(IntegrityError, match="damaged"):
        store.fetch(handle, downloads)
    assert os.listdir(downloads) == []


def test_list_reports_every_object_without_content(store: Store) -> None:
    store.add("a.txt", b"a")
    store.add("b.txt", b"b")
    store.add("b again.txt", b"b")

    listed = store.list()

    by_digest = {item.sha256: (item.size, item.names) for item in listed}
    assert by_digest == {
        hashlib.sha256(b"a").hexdigest(): (1, ("a.txt",)),
        hashlib.sha256(b"b").hexdigest(): (1, ("b.txt", "b again.txt")),
    }
    assert all(isinstance(item, StoredObject) for item in listed)
    assert [item.sha256 for item in listed] == sorted(by_digest)


def test_list_of_an_empty_store_is_empty(store: Store) -> None:
    assert store.list() == []


def test_contains_says_whether_the_content_is_there(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)

    assert handle in store
    assert f"{DIGEST}/any other name.txt" in store
    assert f"{'0' * 64}/memo.txt" not in store
    assert "not a handle" not in store


# --- handles ------------------------------------------------------------------------------

MALFORMED = [
    "",
    "memo.txt",
    DIGEST,
    f"{DIGEST}/",
    f"{DIGEST.upper()}/memo.txt",
    f"{DIGEST[:-1]}/memo.txt",
    f"{DIGEST}/../memo.txt",
    f"{DIGEST}/..",
    f"{DIGEST}/sub/memo.txt",
    f"{DIGEST}/a\r\nSet-Cookie: x=1",
    f"{DIGEST}/a\\b.txt",
    f"../../{DIGEST}/memo.txt",
    f"/{DIGEST}/memo.txt",
]


@pytest.mark.parametrize("handle", MALFORMED)
def test_malformed_handles_are_refused_everywhere(
    store: Store, handle: str, downloads: Path
) -> None:
    store.add("memo.txt", CONTENT)

    for call in (
        store.info,
        store.open,
        store.datafile,
        store.delete,
        lambda h: store.fetch(h, downloads),
    ):
        with pytest.raises(InvalidHandleError, match="sha256 hex"):
            call(handle)
    assert store.info(f"{DIGEST}/memo.txt").size == len(CONTENT)


def test_unknown_handles_are_not_found(store: Store, downloads: Path) -> None:
    handle = f"{'0' * 64}/memo.txt"

    for call in (
        store.info,
        store.open,
        store.datafile,
        store.delete,
        lambda h: store.fetch(h, downloads),
    ):
        with pytest.raises(NotFoundError, match="not in the store"):
            call(handle)


def test_a_handle_reaches_only_its_own_hash(store: Store, backend: Backend) -> None:
    mine = store.add("mine.txt", b"mine")
    theirs = store.add("theirs.txt", b"theirs")
    their_digest, _ = split_handle(theirs)
    my_digest, _ = split_handle(mine)

    with store.open(f"{my_digest}/theirs.txt") as file:  # the name is only a name
        assert file.read() == b"mine"
    with store.open(f"{their_digest}/mine.txt") as file:
        assert file.read() == b"theirs"


# --- deleting -----------------------------------------------------------------------------


def test_delete_removes_the_content_and_its_metadata(store: Store, backend: Backend) -> None:
    handle = store.add("memo.txt", CONTENT)

    store.delete(handle)

    assert handle not in store
    assert files_under(backend, "attachments") == []


def test_gc_deletes_only_unreferenced_objects_older_than_grace(store: Store) -> None:
    kept = store.add("kept.txt", b"kept")
    recent = store.add("recent.txt", b"recent")
    old = store.add("old.txt", b"old")
    for handle in (kept, old):
        age(store, handle, by=2 * HOUR)

    report = store.gc({kept}, grace=HOUR)

    assert [item.sha256 for item in report.deleted] == [split_handle(old)[0]]
    assert [item.sha256 for item in report.kept_referenced] == [split_handle(kept)[0]]
    assert [item.sha256 for item in report.kept_recent] == [split_handle(recent)[0]]
    assert report.deleted_bytes == 3
    assert kept in store
    assert recent in store
    assert old not in store
    assert str(report) == (
        "deleted 1 object (3 bytes), kept 2 (1 referenced, 1 added within 1:00:00)"
    )


def test_gc_keeps_content_that_was_added_again(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)

    store.add("memo again.txt", CONTENT)
    report = store.gc(set(), grace=HOUR)

    assert report.deleted == []
    assert handle in store


def test_gc_looks_again_before_deleting(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An object that was old when gc listed it, but added again before gc deleted it."""
    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)
    listed = store.list()
    store.add("memo again.txt", CONTENT)
    monkeypatch.setattr(store, "list", lambda: listed)  # gc works from the older listing

    report = store.gc(set(), grace=HOUR)

    assert report.deleted == []
    assert [item.sha256 for item in report.kept_recent] == [DIGEST]
    assert handle in store


def test_gc_dry_run_deletes_nothing(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)

    report = store.gc(set(), grace=HOUR, dry_run=True)

    assert [item.sha256 for item in report.deleted] == [DIGEST]
    assert str(report).startswith("would delete 1 object")
    assert handle in store


def test_gc_reports_referenced_handles_without_content(store: Store) -> None:
    missing = f"{'0' * 64}/gone.txt"

    report = store.gc({missing}, grace=HOUR)

    assert report.missing == [missing]
    assert "1 referenced handle with no content" in str(report)


def test_gc_refuses_malformed_references_and_deletes_nothing(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)

    with pytest.raises(InvalidHandleError):
        store.gc({handle, "s3://bucket/not-a-handle"}, grace=HOUR)
    with pytest.raises(InvalidHandleError, match="one string"):
        store.gc(handle, grace=HOUR)

    assert handle in store


def test_gc_keeps_objects_it_knows_no_age_of(store: Store, backend: Backend) -> None:
    backend.write(object_name(DIGEST), CONTENT)  # not stored by octstore: no metadata

    report = store.gc(set(), grace=timedelta(0))

    assert [item.sha256 for item in report.kept_unknown] == [DIGEST]
    assert f"{DIGEST}/memo.txt" in store
    store.add("memo.txt", CONTENT)  # adding the content adopts it
    assert store.info(f"{DIGEST}/memo.txt").added is not None


def test_gc_report_is_json_safe(store: Store) -> None:
    import json

    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)

    report = store.gc(set(), grace=HOUR)

    document = json.loads(json.dumps(report.to_dict()))
    assert document["deleted"][0]["sha256"] == DIGEST
    assert document["deleted"][0]["names"] == ["memo.txt"]
    assert document["grace_seconds"] == 3600
    assert isinstance(report, GcReport)


# --- deletion claims ----------------------------------------------------------------------


def claim(backend: Backend, digest: str, at_ns: int) -> str:
    return backend.write(f"attachments/.claims/{digest}.{at_ns}.test", b"")


def test_add_waits_for_a_deletion_in_progress_and_stores_again(
    store: Store, backend: Backend
) -> None:
    handle = store.add("memo.txt", CONTENT)
    claim_url = claim(backend, DIGEST, time.time_ns())
    returned = threading.Event()
    thread = threading.Thread(target=lambda: (store.add("memo.txt", CONTENT), returned.set()))

    thread.start()
    time.sleep(0.3)
    assert not returned.is_set()  # the add does not return while a deletion may run
    backend.fs.rm(backend.url(object_name(DIGEST)))  # the deletion happens
    backend.fs.rm(claim_url)
    thread.join(timeout=30)

    assert returned.is_set()
    with store.open(handle) as file:
        assert file.read() == CONTENT


def test_claims_of_dead_collectors_are_ignored_then_removed(store: Store, backend: Backend) -> None:
    stale = time.time_ns() - int(3 * CLAIM_TIMEOUT.total_seconds() * 1e9)
    claim(backend, DIGEST, stale)

    started = time.monotonic()
    store.add("memo.txt", CONTENT)
    assert time.monotonic() - started < 5

    store.gc(set(), grace=HOUR)
    assert files_under(backend, "attachments/.claims") == []


def test_gc_leaves_no_claims_behind(store: Store, backend: Backend) -> None:
    handle = store.add("memo.txt", CONTENT)
    age(store, handle, by=2 * HOUR)

    store.gc(set(), grace=HOUR)

    assert files_under(backend, "attachments") == []


# --- the store object ---------------------------------------------------------------------


def test_store_pickles(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)

    copy = pickle.loads(pickle.dumps(store))

    assert copy == store
    with copy.open(handle) as file:
        assert file.read() == CONTENT


def test_repr_shows_the_url_and_no_options(backend: Backend) -> None:
    store = Store(backend.url("attachments"), {"secret": "hunter2", **backend.storage_options})

    assert repr(store) == f"Store({store.url!r})"
    assert "hunter2" not in repr(store)


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("memo.txt", "memo.txt"),
        ("C:\\fakepath\\memo.txt", "memo.txt"),
        ("../../etc/passwd", "passwd"),
        ("..", "attachment"),
        ("", "attachment"),
        ("   ", "attachment"),
        ("report.pdf.", "report.pdf"),
        ("invoice\u202etxt.exe", "invoice_txt.exe"),
        ('what?<x>:"y"|*.txt', "what__x___y___.txt"),
        ("CON.txt", "_CON.txt"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
        (".bashrc", ".bashrc"),
        ("x" * 300 + ".txt", "x" * 251 + ".txt"),
        ("é" * 200, "é" * 127),
    ],
)
def test_sanitize_filename(given: str, expected: str) -> None:
    assert sanitize_filename(given) == expected


@given(st.text())
def test_sanitised_names_are_safe_and_stable(name: str) -> None:
    clean = sanitize_filename(name)

    assert sanitize_filename(clean) == clean
    assert clean
    assert clean not in (".", "..")
    assert len(clean.encode("utf-8")) <= 255
    assert not any(char in clean for char in '/\\\r\n\x00"')
    assert split_handle(f"{DIGEST}/{clean}") == (DIGEST, clean)
