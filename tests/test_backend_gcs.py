"""The GCS metadata backend against the GCS emulator: what lands in GCS, and what reads back.

The harness's emulator enforces ``ifGenerationMatch``/``ifMetagenerationMatch`` and merges
metadata PATCHes like GCS (see ``tests/servers.py``), so the conflict tests here test
something real. What GCS stores is checked through its JSON API directly, not through octstore.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from octstore.backends import ObjectState
from octstore.backends.gcs import METADATA_LIMIT, RESUMABLE_THRESHOLD, GcsBackend
from octstore.backends.object_metadata import encode
from octstore.errors import ConflictError, IntegrityError, NotFoundError
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from octstore.metadata import Metadata
from tests.servers import GCS_BUCKET, GcsServer

backend = GcsBackend()

Source = Callable[[bytes], tuple[str, str]]


@pytest.fixture
def at(gcs_server: GcsServer, gcs_fs: Any) -> Callable[[str], Location]:
    """A function giving the ``Location`` of an object name in the (empty) test bucket."""
    options = {k: v for k, v in gcs_server.storage_options.items() if k != "skip_instance_cache"}

    def location(name: str, bucket: str = GCS_BUCKET) -> Location:
        return Location(f"gs://{bucket}/{name}", storage_options=options)

    return location


@pytest.fixture
def source(tmp_path: Path) -> Source:
    """A function writing content to a new local file; returns its path and CRC32C."""

    def write(content: bytes) -> tuple[str, str]:
        path = tmp_path / f"source-{uuid.uuid4().hex}"
        path.write_bytes(content)
        return str(path), crc32c_bytes(content)

    return write


def raw_object(server: GcsServer, name: str) -> dict[str, Any]:
    """The object resource as GCS's JSON API returns it, bypassing octstore and gcsfs."""
    url = f"{server.endpoint_url}/storage/v1/b/{GCS_BUCKET}/o/{quote(name, safe='')}"
    with urllib.request.urlopen(url, timeout=30) as response:
        resource: dict[str, Any] = json.load(response)
    return resource


def read(fs: Any, name: str) -> bytes:
    fs.invalidate_cache()
    data: bytes = fs.cat_file(f"{GCS_BUCKET}/{name}")
    return data


def exists(fs: Any, name: str) -> bool:
    fs.invalidate_cache()
    return bool(fs.exists(f"{GCS_BUCKET}/{name}"))


def rich_metadata() -> Metadata:
    return Metadata(
        timestamp=datetime(2022, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc),
        labels={"raw", "wind-speed"},
        tags={"manufacturer": "Vestas", "site": "Åsgårdstrand ☃", "height": 80.5, "n": [1, 2]},
    )


def big_metadata() -> Metadata:
    """Metadata whose keys exceed GCS's 8 KiB of custom metadata."""
    return Metadata(tags={"notes": "x" * METADATA_LIMIT}, labels={"big"})


def put(
    location: Location, source: Source, content: bytes, metadata: Metadata, **kwargs: Any
) -> ObjectState:
    path, crc32c = source(content)
    return backend.put(location, path, metadata, crc32c=crc32c, **kwargs)


# --- put -----------------------------------------------------------------------------------


def test_put_stores_octstore_keys_in_the_object_custom_metadata(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    metadata = rich_metadata()
    put(at("data/x.csv"), source, b"a,b\n1,2\n", metadata)

    resource = raw_object(gcs_server, "data/x.csv")

    assert resource["metadata"] == encode(metadata)
    assert "octstore-crc32c" not in resource["metadata"]


def test_put_object_crc32c_is_the_content_hash(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    put(at("x.bin"), source, b"hello", Metadata())

    assert raw_object(gcs_server, "x.bin")["crc32c"] == crc32c_bytes(b"hello")


def test_put_returns_the_uploaded_object_state(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    metadata = rich_metadata()
    state = put(at("x.csv"), source, b"12345", metadata)

    resource = raw_object(gcs_server, "x.csv")
    assert state.version_token == resource["generation"]
    assert state.details["metageneration"] == resource["metageneration"]
    assert (state.size, state.crc32c, state.metadata) == (5, crc32c_bytes(b"12345"), metadata)


def test_put_leaves_the_source_file_in_place(at: Callable[[str], Location], source: Source) -> None:
    path, crc32c = source(b"content")

    backend.put(at("x"), path, Metadata(), crc32c=crc32c)

    assert Path(path).read_bytes() == b"content"


def test_put_with_a_wrong_crc32c_raises_integrity_error_and_writes_nothing(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    path, _ = source(b"content")

    with pytest.raises(IntegrityError, match="gs://octstore-test/x"):
        backend.put(at("x"), path, Metadata(), crc32c=crc32c_bytes(b"other content"))
    assert not exists(gcs_fs, "x")


def test_put_if_absent_on_an_existing_object_raises_conflict_and_keeps_its_bytes(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    put(at("x"), source, b"first", Metadata())
    path, crc32c = source(b"second")

    with pytest.raises(ConflictError, match="gs://octstore-test/x") as raised:
        backend.put(at("x"), path, Metadata(), crc32c=crc32c, if_absent=True)

    assert raised.value.kept_at == path
    assert path in str(raised.value)
    assert read(gcs_fs, "x") == b"first"


def test_put_if_absent_creates_a_missing_object(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    put(at("x"), source, b"new", Metadata(), if_absent=True)

    assert read(gcs_fs, "x") == b"new"


def test_put_with_a_stale_state_raises_conflict_keeping_both_versions(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    read_state = put(at("x"), source, b"original", Metadata())
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"the other writer's")
    path, crc32c = source(b"mine")

    with pytest.raises(ConflictError, match="changed since you read it") as raised:
        backend.put(at("x"), path, Metadata(), crc32c=crc32c, if_matches=read_state)

    assert raised.value.kept_at == path
    assert read(gcs_fs, "x") == b"the other writer's"
    assert Path(path).read_bytes() == b"mine"


def test_put_with_the_current_state_replaces_the_object(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    read_state = put(at("x"), source, b"original", Metadata())

    state = put(at("x"), source, b"updated", Metadata(), if_matches=read_state)

    assert read(gcs_fs, "x") == b"updated"
    assert state.version_token != read_state.version_token


def test_large_file_round_trips_through_a_resumable_upload_with_metadata(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    content = os.urandom(RESUMABLE_THRESHOLD + 3 * 2**20 + 7)
    metadata = rich_metadata()

    state = put(at("big.bin"), source, content, metadata, if_absent=True)

    assert read(gcs_fs, "big.bin") == content
    assert state.crc32c == crc32c_bytes(content)
    assert state.size == len(content)
    assert backend.stat(at("big.bin")).metadata == metadata


def test_resumable_upload_honours_if_absent(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    put(at("big.bin"), source, b"small", Metadata())
    path, crc32c = source(b"\0" * (RESUMABLE_THRESHOLD + 1))

    with pytest.raises(ConflictError):
        backend.put(at("big.bin"), path, Metadata(), crc32c=crc32c, if_absent=True)

    assert read(gcs_fs, "big.bin") == b"small"


# --- stat ----------------------------------------------------------------------------------


def test_stat_round_trips_metadata_exactly(at: Callable[[str], Location], source: Source) -> None:
    metadata = rich_metadata()
    put(at("x.csv"), source, b"content", metadata)

    assert backend.stat(at("x.csv")).metadata == metadata


def test_stat_reports_generation_size_crc32c_and_content_type(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    put(at("x.csv"), source, b"content", Metadata())

    state = backend.stat(at("x.csv"))

    resource = raw_object(gcs_server, "x.csv")
    assert state.version_token == state.details["generation"] == resource["generation"]
    assert state.details["metageneration"] == resource["metageneration"]
    assert state.details["contentType"] == "text/csv"
    assert (state.size, state.crc32c) == (7, crc32c_bytes(b"content"))


def test_stat_reads_octue_metadata(at: Callable[[str], Location], gcs_fs: Any) -> None:
    object_id = str(uuid.uuid4())
    gcs_fs.pipe(f"{GCS_BUCKET}/octue.csv", b"data")
    gcs_fs.setxattrs(
        f"{GCS_BUCKET}/octue.csv",
        octue__id=json.dumps(object_id),
        octue__labels=json.dumps({"_type": "set", "items": ["a"]}),
        octue__tags=json.dumps({"k": "v"}),
        octue__timestamp=json.dumps(
            {"_type": "datetime", "value": "2022-05-04T17:57:57.136739+00:00"}
        ),
    )

    metadata = backend.stat(at("octue.csv")).metadata

    assert metadata == Metadata(
        id=object_id,
        labels={"a"},
        tags={"k": "v"},
        timestamp=datetime(2022, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc),
    )


def test_stat_of_an_object_without_metadata_has_none_but_a_crc32c(
    at: Callable[[str], Location], gcs_fs: Any
) -> None:
    gcs_fs.pipe(f"{GCS_BUCKET}/plain.txt", b"plain")

    state = backend.stat(at("plain.txt"))

    assert state.metadata is None
    assert state.crc32c == crc32c_bytes(b"plain")


def test_stat_of_a_missing_object_raises_not_found_naming_the_url(
    at: Callable[[str], Location],
) -> None:
    with pytest.raises(NotFoundError, match=re.escape("gs://octstore-test/missing.csv")):
        backend.stat(at("missing.csv"))


def test_stat_in_a_missing_bucket_raises_not_found_naming_the_url(
    at: Callable[[str], Location],
) -> None:
    with pytest.raises(NotFoundError, match=re.escape("gs://no-such-bucket-octstore/x.csv")):
        backend.stat(at("x.csv", "no-such-bucket-octstore"))


# --- write_metadata ------------------------------------------------------------------------


def same_id(metadata: Metadata, state: Any) -> Metadata:
    """``metadata`` under the id stored in ``state``: a stored id never changes."""
    return metadata.model_copy(update={"id": state.metadata.id})


def test_write_metadata_keeps_generation_and_content_and_bumps_metageneration(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, gcs_fs: Any
) -> None:
    before = put(at("x"), source, b"content", Metadata())
    metadata = same_id(rich_metadata(), before)

    after = backend.write_metadata(at("x"), metadata, if_matches=before)

    resource = raw_object(gcs_server, "x")
    assert resource["generation"] == before.version_token == after.version_token
    assert int(resource["metageneration"]) == int(before.details["metageneration"]) + 1
    assert after.details["metageneration"] == resource["metageneration"]
    assert resource["metadata"] == encode(metadata)
    assert read(gcs_fs, "x") == b"content"
    assert backend.stat(at("x")).metadata == metadata


def test_write_metadata_removes_keys_no_longer_set(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    metadata = rich_metadata()
    put(at("x"), source, b"content", metadata)
    metadata.timestamp = None

    backend.write_metadata(at("x"), metadata)

    assert "octstore-timestamp" not in raw_object(gcs_server, "x")["metadata"]
    assert backend.stat(at("x")).metadata == metadata


def test_write_metadata_leaves_other_tools_keys_alone(
    at: Callable[[str], Location], gcs_fs: Any, gcs_server: GcsServer
) -> None:
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"content")
    gcs_fs.setxattrs(f"{GCS_BUCKET}/x", owner="someone")

    backend.write_metadata(at("x"), Metadata())

    assert raw_object(gcs_server, "x")["metadata"]["owner"] == "someone"


def test_write_metadata_with_a_stale_state_raises_conflict(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, gcs_fs: Any
) -> None:
    read_state = put(at("x"), source, b"content", Metadata(labels={"mine"}))
    gcs_fs.setxattrs(f"{GCS_BUCKET}/x", **{"octstore-labels": '["theirs"]'})

    with pytest.raises(ConflictError, match="gs://octstore-test/x"):
        backend.write_metadata(at("x"), Metadata(labels={"other"}), if_matches=read_state)

    assert raw_object(gcs_server, "x")["metadata"]["octstore-labels"] == '["theirs"]'


def test_write_metadata_after_the_content_changed_raises_conflict(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    read_state = put(at("x"), source, b"content", Metadata())
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"the other writer's")

    with pytest.raises(ConflictError):
        backend.write_metadata(at("x"), Metadata(), if_matches=read_state)


def test_write_metadata_of_a_missing_object_raises_not_found(
    at: Callable[[str], Location],
) -> None:
    with pytest.raises(NotFoundError, match="gs://octstore-test/missing"):
        backend.write_metadata(at("missing"), Metadata())


# --- spilling into the sidecar object ------------------------------------------------------


def test_metadata_over_8_kib_spills_into_a_sidecar_object_and_reads_back_exactly(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, gcs_fs: Any
) -> None:
    metadata = big_metadata()

    put(at("data/x.csv"), source, b"content", metadata)

    assert raw_object(gcs_server, "data/x.csv")["metadata"] == {
        "octstore-id": str(metadata.id),
        "octstore-sidecar": "1",
    }
    assert exists(gcs_fs, "data/.x.csv.octstore.json")
    assert backend.stat(at("data/x.csv")).metadata == metadata


def test_spilled_metadata_written_by_write_metadata_reads_back_exactly(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    state = put(at("x"), source, b"content", rich_metadata())
    metadata = same_id(big_metadata(), state)

    backend.write_metadata(at("x"), metadata, if_matches=state)

    resource = raw_object(gcs_server, "x")
    assert set(resource["metadata"]) == {"octstore-id", "octstore-sidecar"}
    assert backend.stat(at("x")).metadata == metadata


def test_shrinking_spilled_metadata_removes_the_sidecar_object(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, gcs_fs: Any
) -> None:
    state = put(at("x"), source, b"content", big_metadata())
    small = same_id(rich_metadata(), state)

    backend.write_metadata(at("x"), small, if_matches=state)

    assert not exists(gcs_fs, ".x.octstore.json")
    assert raw_object(gcs_server, "x")["metadata"] == encode(small)
    assert backend.stat(at("x")).metadata == small


def test_overwriting_spilled_metadata_with_small_metadata_removes_the_sidecar_object(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    state = put(at("x"), source, b"content", big_metadata())

    put(at("x"), source, b"new content", rich_metadata(), if_matches=state)

    assert not exists(gcs_fs, ".x.octstore.json")


def test_spilled_metadata_keeps_the_object_id(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    metadata = big_metadata()
    put(at("x"), source, b"content", metadata)
    gcs_fs.setxattrs(f"{GCS_BUCKET}/x", **{"octstore-id": str(uuid.UUID(int=1))})

    stored = backend.stat(at("x")).metadata

    assert stored is not None
    assert stored.id == uuid.UUID(int=1)
    assert stored.tags == metadata.tags


# --- delete --------------------------------------------------------------------------------


def test_delete_removes_the_object_and_its_sidecar_object(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    put(at("x"), source, b"content", big_metadata())

    backend.delete(at("x"))

    assert not exists(gcs_fs, "x")
    assert not exists(gcs_fs, ".x.octstore.json")


def test_delete_removes_an_object_without_sidecar(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    put(at("x"), source, b"content", Metadata())

    backend.delete(at("x"))

    assert not exists(gcs_fs, "x")


def test_delete_of_a_missing_object_raises_not_found(at: Callable[[str], Location]) -> None:
    with pytest.raises(NotFoundError, match="gs://octstore-test/missing"):
        backend.delete(at("missing"))


def test_object_names_with_spaces_and_non_ascii_characters_round_trip(
    at: Callable[[str], Location], source: Source, gcs_fs: Any
) -> None:
    name = "données brutes/vent #1 ☃.csv"
    metadata = big_metadata()

    put(at(name), source, b"content", metadata, if_absent=True)

    assert backend.stat(at(name)).metadata == metadata
    assert read(gcs_fs, name) == b"content"


# --- conditional content writes see metadata-only changes ----------------------------------


def test_put_with_a_state_older_than_a_metadata_patch_raises_conflict_keeping_their_metadata(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, gcs_fs: Any
) -> None:
    read_state = put(at("x"), source, b"original", Metadata(labels={"mine"}))
    gcs_fs.setxattrs(f"{GCS_BUCKET}/x", **{"octstore-labels": '["theirs"]', "owner": "ops"})
    path, crc32c = source(b"new content")

    with pytest.raises(ConflictError, match="gs://octstore-test/x") as raised:
        backend.put(at("x"), path, Metadata(labels={"mine"}), crc32c=crc32c, if_matches=read_state)

    assert raised.value.kept_at == path
    assert Path(path).read_bytes() == b"new content"
    resource = raw_object(gcs_server, "x")
    assert resource["metadata"]["octstore-labels"] == '["theirs"]'
    assert resource["metadata"]["owner"] == "ops"
    assert read(gcs_fs, "x") == b"original"


def test_put_sends_the_metageneration_read_as_a_precondition(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer
) -> None:
    read_state = put(at("x"), source, b"original", Metadata())

    with gcs_server.recording() as requests:
        put(at("x"), source, b"updated", Metadata(), if_matches=read_state)

    (upload,) = [r for r in requests if r["method"] == "POST"]
    assert upload["query"]["ifGenerationMatch"] == [read_state.version_token]
    assert upload["query"]["ifMetagenerationMatch"] == [read_state.details["metageneration"]]


# --- download ------------------------------------------------------------------------------


def test_download_of_the_current_state_writes_exactly_its_bytes_from_that_generation(
    at: Callable[[str], Location], source: Source, gcs_server: GcsServer, tmp_path: Path
) -> None:
    content = os.urandom(300_000)  # several chunks
    state = put(at("dir/x.bin"), source, content, Metadata())
    target = tmp_path / "downloaded"

    with gcs_server.recording() as requests:
        backend.download(at("dir/x.bin"), state, str(target))

    assert target.read_bytes() == content
    assert gcs_server.content_gets(requests, "dir/x.bin") == 1
    (get,) = [r for r in requests if r["method"] == "GET"]
    assert get["query"]["generation"] == [state.version_token]


def test_download_of_an_overwritten_state_raises_integrity_error_and_leaves_no_target(
    at: Callable[[str], Location], source: Source, gcs_fs: Any, tmp_path: Path
) -> None:
    old_state = put(at("x"), source, b"old content", Metadata())
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"the other writer's new content")
    target = tmp_path / "downloaded"

    with pytest.raises(IntegrityError, match="gs://octstore-test/x changed while it was") as err:
        backend.download(at("x"), old_state, str(target))

    assert "try again" in str(err.value)
    assert not target.exists()
    # The current state still downloads, and exactly.
    backend.download(at("x"), backend.stat(at("x")), str(target))
    assert target.read_bytes() == b"the other writer's new content"


def test_whole_metadata_never_changes_a_stored_id(
    at: Callable[[str], Location], source: Source
) -> None:
    state = put(at("x"), source, b"content", rich_metadata())

    backend.write_metadata(at("x"), Metadata(labels=["other"]), if_matches=state)

    assert backend.stat(at("x")).metadata == Metadata(id=state.metadata.id, labels=["other"])


@pytest.fixture
def race_after_read(monkeypatch: pytest.MonkeyPatch, gcs_fs: Any) -> Callable[[str], None]:
    """Make another writer change the custom metadata of an object right after octstore's
    next read of it (a PATCH: its metageneration goes up)."""

    def arm(name: str) -> None:
        real_read = backend._read

        def read_then_race(location: Location, *, read_sidecar: bool) -> ObjectState:
            state = real_read(location, read_sidecar=read_sidecar)
            monkeypatch.setattr(backend, "_read", real_read)
            gcs_fs.setxattrs(f"{GCS_BUCKET}/{name}", **{"octstore-labels": '["theirs"]'})
            return state

        monkeypatch.setattr(backend, "_read", read_then_race)

    return arm


def test_whole_metadata_put_without_a_state_that_loses_a_race_is_retried_keeping_the_id(
    at: Callable[[str], Location], source: Source, gcs_fs: Any, race_after_read: Any
) -> None:
    first = put(at("x"), source, b"old", rich_metadata())
    race_after_read("x")

    put(at("x"), source, b"new", Metadata(labels={"mine"}))

    assert backend.stat(at("x")).metadata == Metadata(id=first.metadata.id, labels={"mine"})
    assert read(gcs_fs, "x") == b"new"


def test_whole_metadata_without_a_state_that_loses_a_race_is_retried_keeping_the_id(
    at: Callable[[str], Location], source: Source, race_after_read: Any
) -> None:
    first = put(at("x"), source, b"content", rich_metadata())
    race_after_read("x")

    backend.write_metadata(at("x"), Metadata(labels={"mine"}))

    assert backend.stat(at("x")).metadata == Metadata(id=first.metadata.id, labels={"mine"})
