"""Datafile behaviour, the same on local, memory, s3 (moto) and gcs (emulator)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from octstore import (
    AccessDeniedError,
    AlreadyExistsError,
    ConflictError,
    Datafile,
    InvalidLabelError,
    InvalidMetadataError,
    InvalidModeError,
    Metadata,
    NotFoundError,
    NotWrittenError,
    OctstoreError,
)
from octstore import cache as cache_module
from octstore.hashing import crc32c_bytes
from tests.conftest import Backend


def make(backend: Backend, name: str = "data.csv", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs whose content the cache transferred during the test."""
    transferred: list[str] = []
    real = cache_module.download

    def counting(location: Any, state: Any, target: str, transfer: Any) -> None:
        transferred.append(location.url)
        real(location, state, target, transfer)

    monkeypatch.setattr(cache_module.entries, "download", counting)
    return transferred


# --- construction and metadata ------------------------------------------------------------


def test_local_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert Datafile("sub/x.csv").path == str(tmp_path / "sub" / "x.csv")


def test_name_extension_and_cloud_path(backend: Backend) -> None:
    df = make(backend, "dir/readings.tar.gz")

    assert df.name == "readings.tar.gz"
    assert df.extension == "gz"
    assert df.path == backend.url("dir/readings.tar.gz")
    assert df.cloud_path == (None if backend.name == "local" else df.path)


def test_new_datafile_uses_constructor_metadata(backend: Backend) -> None:
    df = make(backend, labels=["raw"], tags={"site": "north"}, timestamp=0)

    assert df.labels == {"raw"}
    assert df.tags == {"site": "north"}
    assert df.timestamp == datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_written_metadata_is_read_back_by_a_new_datafile(backend: Backend) -> None:
    df = make(backend, labels=["raw"], tags={"site": "nörth", "n": [1, 2.5]}, timestamp=0)
    with df.open("w") as f:
        f.write("x")

    again = make(backend)

    assert again.id == df.id
    assert again.labels == {"raw"}
    assert again.tags == {"site": "nörth", "n": [1, 2.5]}
    assert again.timestamp == df.timestamp


def test_stored_metadata_wins_over_constructor_arguments(backend: Backend) -> None:
    with make(backend, labels=["stored"], tags={"k": 1}).open("w") as f:
        f.write("x")

    df = make(backend, labels=["given"], tags={"k": 2})

    assert df.labels == {"stored"}
    assert df.tags == {"k": 1}


def test_constructor_arguments_fill_what_is_not_stored(backend: Backend) -> None:
    with make(backend, labels=["stored"]).open("w") as f:
        f.write("x")

    df = make(backend, tags={"k": 2}, timestamp=0)

    assert df.labels == {"stored"}
    assert df.tags == {"k": 2}
    assert df.timestamp is not None


def test_ignore_stored_metadata_keeps_the_stored_id(backend: Backend) -> None:
    original = make(backend, labels=["stored"])
    with original.open("w") as f:
        f.write("x")

    df = make(backend, labels=["given"], ignore_stored_metadata=True)

    assert df.labels == {"given"}
    assert df.id == original.id


def test_a_different_id_for_a_stored_file_is_refused(backend: Backend) -> None:
    with make(backend).open("w") as f:
        f.write("x")

    with pytest.raises(InvalidMetadataError, match="immutable"):
        make(backend, id="00000000-0000-4000-8000-000000000000")


def test_metadata_setters_validate_and_convert(backend: Backend) -> None:
    df = make(backend)

    df.tags = {"k": (1, 2)}
    df.labels = "a, b"
    df.timestamp = "2022-05-04T17:57:57+02:00"

    assert df.tags == {"k": [1, 2]}
    assert df.labels == {"a", "b"}
    assert df.timestamp == datetime(2022, 5, 4, 15, 57, 57, tzinfo=timezone.utc)
    with pytest.raises(InvalidLabelError):
        df.labels = ["Bad Label"]
    assert df.labels == {"a", "b"}


def test_metadata_reads_download_no_content(backend: Backend, downloads: list[str]) -> None:
    backend.write("data.csv", b"0123456789")

    df = make(backend)
    facts = (df.size, df.labels, df.tags, df.timestamp, df.metadata(), df.exists_locally)

    assert facts[0] == 10
    assert downloads == []
    assert not df.exists_locally or backend.name == "local"


def test_hash_value_is_crc32c_of_content(backend: Backend) -> None:
    data = os.urandom(100_000)
    backend.write("data.bin", data)

    assert make(backend, "data.bin").hash_value == crc32c_bytes(data)


def test_hash_value_of_empty_content(backend: Backend) -> None:
    backend.write("empty", b"")

    assert make(backend, "empty").hash_value == "AAAAAA=="


def test_hash_value_of_a_file_octstore_wrote_needs_no_download(
    backend: Backend, downloads: list[str]
) -> None:
    with make(backend).open("wb") as f:
        f.write(b"payload")

    assert make(backend).hash_value == crc32c_bytes(b"payload")
    assert downloads == []


def test_metadata_hash_value_covers_labels_tags_timestamp(backend: Backend) -> None:
    df = make(backend, labels=["a"], tags={"k": 1})

    assert df.metadata_hash_value == Metadata(labels=["a"], tags={"k": 1}).metadata_hash_value


# --- open ---------------------------------------------------------------------------------


def test_text_write_then_read_round_trips(backend: Backend) -> None:
    df = make(backend)
    with df.open("w", encoding="utf-8", newline="") as f:
        f.write("speed,dir\r\n4.2,nörth\n")

    with make(backend).open("r", encoding="utf-8", newline="") as f:
        assert f.read() == "speed,dir\r\n4.2,nörth\n"
    assert backend.read("data.csv") == "speed,dir\r\n4.2,nörth\n".encode()


def test_binary_write_then_read_round_trips(backend: Backend) -> None:
    data = bytes(range(256)) * 100
    with make(backend, "x.bin").open("wb") as f:
        f.write(data)

    with make(backend, "x.bin").open("rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("data", [b"\r", b"x\r", b"a\r\n", b"\n", b"\r\n\r\n", b"--\r\n--", b""])
def test_content_ending_in_line_breaks_round_trips_exactly(backend: Backend, data: bytes) -> None:
    with make(backend, "x.bin").open("wb") as f:
        f.write(data)

    assert backend.read("x.bin") == data
    assert make(backend, "x.bin").hash_value == crc32c_bytes(data)


def test_append_mode_appends(backend: Backend) -> None:
    backend.write("log.txt", b"one\n")

    with make(backend, "log.txt").open("a") as f:
        f.write("two\n")

    assert backend.read("log.txt") == b"one\ntwo\n"


def test_append_mode_creates_a_missing_file(backend: Backend) -> None:
    with make(backend, "log.txt").open("ab") as f:
        f.write(b"first")

    assert backend.read("log.txt") == b"first"


def test_r_plus_updates_in_place(backend: Backend) -> None:
    backend.write("data.bin", b"abcdef")

    with make(backend, "data.bin").open("r+b") as f:
        f.seek(2)
        f.write(b"XY")

    assert backend.read("data.bin") == b"abXYef"


def test_w_plus_can_read_back_what_it_wrote(backend: Backend) -> None:
    with make(backend).open("w+") as f:
        f.write("hello")
        f.seek(0)
        assert f.read() == "hello"

    assert backend.read("data.csv") == b"hello"


def test_x_mode_creates_a_new_file(backend: Backend) -> None:
    with make(backend).open("x") as f:
        f.write("new")

    assert backend.read("data.csv") == b"new"


def test_x_mode_refuses_an_existing_file(backend: Backend) -> None:
    backend.write("data.csv", b"old")

    with pytest.raises(AlreadyExistsError, match="already exists"), make(backend).open("x"):
        pass

    assert backend.read("data.csv") == b"old"


@pytest.mark.parametrize("mode", ["r", "rb", "r+"])
def test_reading_a_missing_file_raises_not_found(backend: Backend, mode: str) -> None:
    df = make(backend, "missing.csv")

    with pytest.raises(NotFoundError, match=r"missing\.csv") as caught, df.open(mode):
        pass

    assert isinstance(caught.value, FileNotFoundError)


@pytest.mark.parametrize("mode", ["", "rw", "rr", "z", "rbt", "U", "r+w", "wb+b"])
def test_invalid_mode_is_refused_before_anything_happens(backend: Backend, mode: str) -> None:
    backend.write("data.csv", b"old")

    with pytest.raises(InvalidModeError, match="use one of"), make(backend).open(mode):
        pass

    assert backend.read("data.csv") == b"old"


def test_write_block_that_raises_leaves_old_bytes_in_place(backend: Backend) -> None:
    backend.write("data.csv", b"old")
    df = make(backend)

    with pytest.raises(RuntimeError, match="boom"), df.open("w") as f:
        f.write("partial")
        raise RuntimeError("boom")

    assert backend.read("data.csv") == b"old"
    assert backend.fs.ls(backend.root, detail=False) == [backend.fs._strip_protocol(df.path)]


def test_write_block_that_raises_creates_nothing(backend: Backend) -> None:
    df = make(backend, labels=["raw"])

    with pytest.raises(RuntimeError), df.open("w") as f:
        f.write("partial")
        raise RuntimeError("boom")

    assert not backend.fs.exists(backend.root) or backend.fs.ls(backend.root) == []


def test_metadata_set_inside_a_write_block_is_stored(backend: Backend) -> None:
    df = make(backend)

    with df.open("w") as f:
        f.write("x")
        df.labels.add("processed")
        df.tags["rows"] = 1

    again = make(backend)
    assert again.labels == {"processed"}
    assert again.tags == {"rows": 1}


def test_metadata_set_inside_a_read_block_is_stored(backend: Backend) -> None:
    backend.write("data.csv", b"a,b\n1,2\n")
    df = make(backend)

    with df.open() as f:
        df.tags["rows"] = len(f.readlines()) - 1

    assert make(backend).tags == {"rows": 1}
    assert backend.read("data.csv") == b"a,b\n1,2\n"


def test_second_open_of_unchanged_remote_file_transfers_no_content(
    backend: Backend, downloads: list[str]
) -> None:
    backend.write("data.csv", b"content")
    df = make(backend)

    for _ in range(3):
        with df.open("rb") as f:
            assert f.read() == b"content"

    assert len(downloads) == (0 if backend.name == "local" else 1)


def test_remote_overwrite_is_seen_by_the_next_read(backend: Backend) -> None:
    backend.write("data.csv", b"first")
    df = make(backend)
    with df.open() as f:
        assert f.read() == "first"

    backend.write("data.csv", b"second version")

    with df.open() as f:
        assert f.read() == "second version"


def test_write_back_after_someone_else_wrote_raises_conflict_and_keeps_both(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"original")
    df = make(backend)

    with pytest.raises(ConflictError) as caught, df.open("w") as f:
        f.write("mine")
        backend.write("data.csv", b"theirs")

    assert backend.read("data.csv") == b"theirs"
    kept = caught.value.kept_at
    assert kept is not None
    assert kept in str(caught.value)
    assert df.path in str(caught.value)
    assert Path(kept).read_bytes() == b"mine"


def test_two_writers_racing_end_with_one_conflict_and_no_lost_bytes(backend: Backend) -> None:
    backend.write("data.csv", b"original")
    first, second = make(backend), make(backend)

    with pytest.raises(ConflictError) as caught, second.open("w") as theirs:
        theirs.write("second")
        with first.open("w") as mine:
            mine.write("first")

    assert backend.read("data.csv") == b"first"
    assert caught.value.kept_at is not None
    assert Path(caught.value.kept_at).read_bytes() == b"second"


def test_creating_a_file_someone_else_created_meanwhile_conflicts(backend: Backend) -> None:
    df = make(backend)

    with pytest.raises(ConflictError), df.open("w") as f:
        f.write("mine")
        backend.write("data.csv", b"theirs")

    assert backend.read("data.csv") == b"theirs"


def test_local_write_keeps_the_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text("echo old\n")
    path.chmod(0o750)

    with Datafile(path).open("w") as f:
        f.write("echo new\n")

    assert path.stat().st_mode & 0o777 == 0o750


def test_local_write_of_a_new_file_follows_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)

    with Datafile(tmp_path / "new.txt").open("w") as f:
        f.write("x")

    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o666 & ~umask


# --- update_metadata, download, upload, delete --------------------------------------------


def test_update_metadata_stores_metadata_without_touching_content(
    backend: Backend, downloads: list[str]
) -> None:
    backend.write("data.csv", b"content")
    df = make(backend)
    version_before = df._state.version_token if df._state else None

    df.labels.add("checked")
    df.tags["ok"] = True
    df.update_metadata()

    again = make(backend)
    assert again.labels == {"checked"}
    assert again.tags == {"ok": True}
    assert backend.read("data.csv") == b"content"
    assert downloads == []
    if backend.is_cloud:  # content not rewritten: the generation / ETag is unchanged
        assert again._state is not None
        assert again._state.version_token == version_before


def test_update_metadata_of_a_missing_file_raises_not_found(backend: Backend) -> None:
    df = make(backend, labels=["x"])

    with pytest.raises(NotFoundError, match=r"data\.csv"):
        df.update_metadata()


def test_download_copies_content_to_a_local_path(backend: Backend, tmp_path: Path) -> None:
    backend.write("data.csv", b"content")

    target = make(backend).download(tmp_path / "out" / "copy.csv")

    assert Path(target).read_bytes() == b"content"


def test_download_into_a_directory_keeps_the_name(backend: Backend, tmp_path: Path) -> None:
    backend.write("data.csv", b"content")

    target = make(backend).download(tmp_path)

    assert target == str(tmp_path / "data.csv")


def test_upload_a_local_file_with_its_metadata(backend: Backend, tmp_path: Path) -> None:
    local = Datafile(tmp_path / "local.csv", labels=["raw"], tags={"k": "v"})
    with local.open("w") as f:
        f.write("uploaded")

    url = local.upload(backend.url("remote.csv"), storage_options=backend.storage_options)

    remote = make(backend, "remote.csv")
    assert url == remote.path
    assert backend.read("remote.csv") == b"uploaded"
    assert remote.labels == {"raw"}
    assert remote.tags == {"k": "v"}
    assert remote.id == local.id


def test_upload_onto_an_existing_file_keeps_its_id(backend: Backend, tmp_path: Path) -> None:
    existing = make(backend, "remote.csv", labels=["old"])
    with existing.open("w") as f:
        f.write("old")
    local = Datafile(tmp_path / "local.csv", labels=["new"])
    with local.open("w") as f:
        f.write("new")

    local.upload(backend.url("remote.csv"), storage_options=backend.storage_options)

    remote = make(backend, "remote.csv")
    assert backend.read("remote.csv") == b"new"
    assert remote.labels == {"new"}
    assert remote.id == existing.id != local.id


def test_delete_removes_content_and_metadata(backend: Backend) -> None:
    df = make(backend, labels=["x"])
    with df.open("w") as f:
        f.write("x")

    df.delete()

    assert not backend.fs.exists(backend.url("data.csv"))
    assert make(backend).labels == set()


def test_delete_of_a_missing_file_raises_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError):
        make(backend).delete()


# --- conversions --------------------------------------------------------------------------


def test_to_dict_round_trips_through_json(backend: Backend) -> None:
    df = make(backend, labels=["a"], tags={"k": [1, {"x": None}]}, timestamp=0)

    restored = Datafile.from_dict(json.loads(json.dumps(df.to_dict())))

    assert restored == df
    assert restored.id == df.id


def test_to_dict_never_holds_credentials() -> None:
    options = {"key": "AKIA-SECRET-1", "secret": "s3cr3t-2", "token": "t0k3n-3", "anon": False}

    data = Datafile.from_dict({"path": "s3://bucket/x.csv"}, storage_options=options).to_dict()

    text = json.dumps(data)
    for secret in ("AKIA-SECRET-1", "s3cr3t-2", "t0k3n-3"):
        assert secret not in text
    assert data["storage_options"] == {"anon": False}


def test_pickled_datafile_works_in_the_copy(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    df = make(backend, labels=["a"])

    copy = pickle.loads(pickle.dumps(df))

    assert copy == df
    with copy.open() as f:
        assert f.read() == "content"


def test_subprocess_reads_a_datafile_through_fspath(backend: Backend) -> None:
    backend.write("data.csv", b"12345")
    df = make(backend)

    result = subprocess.run(["wc", "-c", df], capture_output=True, text=True, check=True)

    assert result.stdout.split()[0] == "5"


def test_builtin_open_accepts_a_datafile(backend: Backend) -> None:
    backend.write("data.csv", b"abc")

    with open(make(backend)) as f:
        assert f.read() == "abc"


def test_equality_is_path_and_metadata(backend: Backend) -> None:
    df = make(backend, labels=["a"])

    assert df == Datafile.from_dict(df.to_dict())
    assert df != make(backend, "other.csv", labels=["a"])
    assert hash(df) == hash(Datafile.from_dict(df.to_dict()))


def test_repr_names_the_file_str_its_path_and_neither_the_options() -> None:
    df = Datafile.from_dict({"path": "s3://bucket/x.csv"}, storage_options={"key": "AKIA-SECRET"})

    assert repr(df) == "<Datafile('x.csv')>"  # as octue's
    assert str(df) == "s3://bucket/x.csv"
    assert "AKIA-SECRET" not in repr(df) + str(df)


# --- errors -------------------------------------------------------------------------------


def test_unknown_protocol_is_a_clear_error() -> None:
    with pytest.raises(OctstoreError, match="unknown protocol 'nope'"):
        Datafile("nope://bucket/x")


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_missing_bucket_is_not_found_naming_the_path(backend: Backend) -> None:
    protocol = backend.root.split("://", 1)[0]
    url = f"{protocol}://no-such-bucket-octstore/x.csv"
    df = Datafile(url, storage_options=backend.storage_options)

    with pytest.raises(NotFoundError, match="no-such-bucket-octstore"), df.open():
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on loopback serving a directory: a read-only backend."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_http_file_reads_but_refuses_writing(http_root: tuple[str, Path]) -> None:
    base, directory = http_root
    (directory / "page.txt").write_text("served")
    df = Datafile(f"{base}/page.txt")

    with df.open() as f:
        assert f.read() == "served"
    with pytest.raises(AccessDeniedError, match="read-only"), df.open("w"):
        pass
    assert (directory / "page.txt").read_text() == "served"


def test_http_file_changed_on_the_server_is_read_fresh(http_root: tuple[str, Path]) -> None:
    base, directory = http_root
    (directory / "page.txt").write_text("one")
    df = Datafile(f"{base}/page.txt")
    with df.open() as f:
        assert f.read() == "one"

    (directory / "page.txt").write_text("two")  # same size: only a real version check sees it

    with df.open() as f:
        assert f.read() == "two"


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_missing_credentials_say_how_to_provide_them(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = {"endpoint_url": backend.storage_options["endpoint_url"], "skip_instance_cache": True}

    with pytest.raises(AccessDeniedError, match="AWS_ACCESS_KEY_ID") as caught:
        Datafile(backend.url("data.csv"), storage_options=options)

    assert backend.url("data.csv") in str(caught.value)


def test_write_back_after_the_file_was_deleted_conflicts_and_keeps_the_content(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"original")
    df = make(backend)

    with pytest.raises(ConflictError) as caught, df.open("w") as f:
        f.write("mine")
        backend.fs.rm(backend.url("data.csv"))

    assert caught.value.kept_at is not None
    assert Path(caught.value.kept_at).read_bytes() == b"mine"


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_a_failed_upload_keeps_the_content_and_says_where(backend: Backend) -> None:
    df = make(backend)
    bucket = backend.root.split("/")[2]

    with (
        pytest.raises(NotWrittenError, match="your content is kept at") as caught,
        df.open("w") as f,
    ):
        f.write("precious")
        backend.fs.rmdir(bucket)  # the bucket is empty: nothing was written yet

    assert caught.value.kept_at is not None
    assert Path(caught.value.kept_at).read_text() == "precious"


def test_update_metadata_after_the_content_changed_applies_to_the_new_content(
    backend: Backend,
) -> None:
    # Metadata describes the file, as a sidecar does whoever rewrites the content: a change
    # to it is applied to what is stored now, and the other writer's content stays.
    backend.write("data.csv", b"original")
    df = make(backend)
    df.labels.add("reviewed")

    backend.write("data.csv", b"replaced by someone else")
    df.update_metadata()

    assert make(backend).labels == {"reviewed"}
    assert backend.read("data.csv") == b"replaced by someone else"


def test_written_files_and_sidecars_get_the_usual_permissions(
    tmp_path: Path, backend: Backend
) -> None:
    """Not mkstemp's private 0600: others read what octstore writes as they read any file."""
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    df = Datafile(backend.url("a.csv"), storage_options=backend.storage_options, labels=["x"])
    with df.open("w") as f:
        f.write("x")

    copy = df.download(tmp_path / "copy.csv")

    assert os.stat(copy).st_mode & 0o777 == expected
    if backend.name != "local":  # cached cloud content stays private
        entry = df.local_path
        assert entry.startswith(str(cache_module.cache_root()))
        assert os.stat(entry).st_mode & 0o077 == 0
    if backend.name == "local":
        assert os.stat(df.path).st_mode & 0o777 == expected
        assert os.stat(backend.url(".a.csv.octstore.json")).st_mode & 0o777 == expected


def test_a_local_file_deleted_while_it_is_looked_at_is_not_called_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the store's gc race: stat, then isfile, told a vanished file a directory."""
    from octstore.backends import backend_for
    from octstore.location import Location

    target = tmp_path / "a.txt"
    target.write_text("x")
    real_stat = os.stat
    looks: list[str] = []

    def stat_then_vanish(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(path, *args, **kwargs)
        if os.fspath(path) == str(target) and not looks:
            looks.append(str(path))
            os.unlink(target)  # deleted by another process just after this look
        return result

    monkeypatch.setattr(os, "stat", stat_then_vanish)
    location = Location(target)

    assert backend_for(location).stat(location).size == 1
    with pytest.raises(OctstoreError, match="is a directory"):
        backend_for(Location(tmp_path)).stat(Location(tmp_path))
