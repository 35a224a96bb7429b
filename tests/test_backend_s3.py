"""The S3 metadata backend against moto's S3 server: user metadata, spilling, preconditions."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from octstore.backends import backend_for, object_metadata
from octstore.backends.s3 import METADATA_LIMIT, S3Backend
from octstore.errors import ConflictError, IntegrityError, NotFoundError
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from octstore.metadata import Metadata
from tests.servers import S3_BUCKET, S3Server

SIDECAR_KEY = "dir/.data.csv.octstore.json"


@pytest.fixture
def s3(s3fs_fs: Any) -> S3Backend:
    return S3Backend()


@pytest.fixture
def options(s3_server: S3Server) -> dict[str, Any]:
    return {k: v for k, v in s3_server.storage_options.items() if k != "skip_instance_cache"}


@pytest.fixture
def location(options: dict[str, Any], s3fs_fs: Any) -> Location:
    return Location(f"s3://{S3_BUCKET}/dir/data.csv", options)


@pytest.fixture
def client(s3_server: S3Server) -> Iterator[Any]:
    """A plain boto3 client: how another tool sees what octstore wrote."""
    client = s3_server.boto3_client()
    yield client
    client.close()


@pytest.fixture
def write_source(tmp_path: Path) -> Any:
    def write(data: bytes, name: str = "new-content") -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write


def metadata(**kwargs: Any) -> Metadata:
    defaults: dict[str, Any] = {
        "labels": ["raw", "wind-speed"],
        "tags": {"site": "Nørre Nebel ✓", "height_m": 80, "calibrated": True, "nested": [1, {}]},
        "timestamp": datetime(2022, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc),
    }
    return Metadata(**{**defaults, **kwargs})


def big_metadata() -> Metadata:
    return metadata(tags={"notes": "x" * 3000, "site": "Nørre Nebel"})


def put(s3: S3Backend, location: Location, write_source: Any, data: bytes, meta: Metadata) -> Any:
    return s3.put(location, write_source(data), meta, crc32c=crc32c_bytes(data))


def read_object(client: Any, key: str = "dir/data.csv") -> bytes:
    body: bytes = client.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()
    return body


def object_exists(client: Any, key: str) -> bool:
    listing = client.list_objects_v2(Bucket=S3_BUCKET, Prefix=key)
    return any(item["Key"] == key for item in listing.get("Contents", []))


def test_s3_urls_use_the_s3_backend(location: Location) -> None:
    assert isinstance(backend_for(location), S3Backend)
    assert S3Backend.atomic_metadata is True


def test_put_writes_octstore_keys_that_boto3_sees(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    meta = metadata()

    put(s3, location, write_source, b"a,b\n1,2\n", meta)

    stored = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    assert stored == {
        "octstore-id": str(meta.id),
        "octstore-labels": '["raw","wind-speed"]',
        "octstore-tags": json.dumps(
            {"calibrated": True, "height_m": 80, "nested": [1, {}], "site": "Nørre Nebel ✓"},
            sort_keys=True,
            separators=(",", ":"),
        ),
        "octstore-timestamp": "2022-05-04T17:57:57.136739+00:00",
        "octstore-crc32c": crc32c_bytes(b"a,b\n1,2\n"),
    }
    assert read_object(client) == b"a,b\n1,2\n"


def test_stat_round_trips_metadata_exactly(
    s3: S3Backend, location: Location, write_source: Any
) -> None:
    meta = metadata()
    put(s3, location, write_source, b"content", meta)

    state = s3.stat(location)

    assert state.metadata == meta
    assert state.metadata is not None
    assert state.metadata.tags["site"] == "Nørre Nebel ✓"
    assert state.size == 7
    assert state.crc32c == crc32c_bytes(b"content")


def test_stat_is_one_head_request(
    s3: S3Backend, location: Location, write_source: Any, s3_server: S3Server
) -> None:
    put(s3, location, write_source, b"content", metadata())

    with s3_server.recording() as requests:
        s3.stat(location)

    assert [request["method"] for request in requests] == ["HEAD"]


def test_put_is_one_put_object_carrying_content_and_metadata(
    s3: S3Backend, location: Location, write_source: Any, s3_server: S3Server
) -> None:
    source = write_source(b"content")

    with s3_server.recording() as requests:
        s3.put(location, source, metadata(), crc32c=crc32c_bytes(b"content"), if_absent=True)

    assert len(requests) == 1
    (request,) = requests
    assert request["method"] == "PUT"
    assert request["url"].endswith(f"/{S3_BUCKET}/dir/data.csv")
    assert "X-Amz-Meta-Octstore-Id" in request["headers"]
    assert request["headers"]["If-None-Match"] == "*"


def test_put_returns_the_state_that_stat_reports(
    s3: S3Backend, location: Location, write_source: Any
) -> None:
    meta = metadata()

    written = put(s3, location, write_source, b"content", meta)

    read = s3.stat(location)
    assert (written.size, written.version_token, written.crc32c, written.metadata) == (
        read.size,
        read.version_token,
        read.crc32c,
        read.metadata,
    )


def test_put_leaves_source_in_place(s3: S3Backend, location: Location, write_source: Any) -> None:
    source = write_source(b"content")

    s3.put(location, source, metadata(), crc32c=crc32c_bytes(b"content"))

    assert Path(source).read_bytes() == b"content"


def test_put_guesses_the_content_type_from_the_name(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    put(s3, location, write_source, b"content", metadata())

    assert client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["ContentType"] == "text/csv"


def test_write_metadata_transfers_no_content(
    s3: S3Backend, location: Location, write_source: Any, s3_server: S3Server
) -> None:
    put(s3, location, write_source, b"content" * 1000, metadata())

    with s3_server.recording() as requests:
        s3.write_metadata(location, metadata(labels=["cleaned"]))

    assert requests
    for request in requests:
        assert request["method"] in ("HEAD", "PUT", "DELETE")
        if request["path"].endswith(".octstore-lease"):  # the lease: a token, not content
            assert len(request["body"]) < 100
        elif request["method"] == "PUT":
            assert request["body"] == ""
            assert request["headers"]["X-Amz-Copy-Source"] == f"{S3_BUCKET}/dir/data.csv"
            assert request["headers"]["X-Amz-Metadata-Directive"] == "REPLACE"


def test_write_metadata_leaves_content_and_etag_unchanged(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    before = put(s3, location, write_source, b"content", metadata())
    new = metadata(
        labels=["cleaned"], tags={"site": "south"}, timestamp=None, id=before.metadata.id
    )

    after = s3.write_metadata(location, new, if_matches=before)

    assert read_object(client) == b"content"
    assert after.version_token == before.version_token
    assert s3.stat(location).metadata == new
    assert after.metadata == new


def test_write_metadata_keeps_the_hash_and_content_type(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    put(s3, location, write_source, b"content", metadata())

    state = s3.write_metadata(location, metadata(labels=["cleaned"]))

    head = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")
    assert head["Metadata"]["octstore-crc32c"] == crc32c_bytes(b"content")
    assert head["ContentType"] == "text/csv"
    assert state.crc32c == crc32c_bytes(b"content")


def test_write_metadata_keeps_other_tools_user_metadata(
    s3: S3Backend, location: Location, client: Any
) -> None:
    client.put_object(
        Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"content", Metadata={"owner": "ops"}
    )

    s3.write_metadata(location, metadata())

    stored = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    assert stored["owner"] == "ops"
    assert stored["octstore-labels"] == '["raw","wind-speed"]'


def test_write_metadata_with_stale_if_matches_raises_conflict_and_writes_nothing(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    read = put(s3, location, write_source, b"first", metadata())
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"theirs")

    with pytest.raises(ConflictError, match=location.url):
        s3.write_metadata(location, metadata(labels=["mine"]), if_matches=read)

    assert read_object(client) == b"theirs"
    assert s3.stat(location).metadata is None


def test_write_metadata_of_missing_object_raises_not_found(
    s3: S3Backend, location: Location
) -> None:
    with pytest.raises(NotFoundError, match=location.url):
        s3.write_metadata(location, metadata())


def test_metadata_over_2kb_spills_into_the_sidecar_object(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    meta = big_metadata()

    put(s3, location, write_source, b"content", meta)

    stored = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    assert stored == {
        "octstore-id": str(meta.id),
        "octstore-sidecar": "1",
        "octstore-crc32c": crc32c_bytes(b"content"),
    }
    sidecar = json.loads(read_object(client, SIDECAR_KEY))
    assert sidecar["octstore"] == 1
    assert sidecar["tags"]["notes"] == "x" * 3000


def test_stat_reads_spilled_metadata_back_exactly(
    s3: S3Backend, location: Location, write_source: Any
) -> None:
    meta = big_metadata()
    put(s3, location, write_source, b"content", meta)

    state = s3.stat(location)

    assert state.metadata == meta
    assert state.crc32c == crc32c_bytes(b"content")


def test_write_metadata_spills_and_shrinking_removes_the_sidecar(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    written = put(s3, location, write_source, b"content", metadata())

    s3.write_metadata(location, big_metadata())
    assert object_exists(client, SIDECAR_KEY)
    small = metadata(labels=["small"], id=written.metadata.id)
    s3.write_metadata(location, small)

    assert not object_exists(client, SIDECAR_KEY)
    assert (
        "octstore-sidecar"
        not in client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    )
    assert s3.stat(location).metadata == small


def test_put_of_metadata_that_fits_removes_a_stale_sidecar(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    big = big_metadata()
    read = put(s3, location, write_source, b"content", big)
    small = metadata(id=big.id)

    s3.put(location, write_source(b"new"), small, crc32c=crc32c_bytes(b"new"), if_matches=read)

    assert not object_exists(client, SIDECAR_KEY)
    assert s3.stat(location).metadata == small


@pytest.mark.parametrize(("extra", "spills"), [(0, False), (1, True)])
def test_metadata_spills_only_beyond_2048_bytes(
    s3: S3Backend, location: Location, write_source: Any, client: Any, extra: int, spills: bool
) -> None:
    crc32c = crc32c_bytes(b"content")
    meta = Metadata(tags={"notes": ""})
    padding = METADATA_LIMIT - object_metadata.encoded_size(object_metadata.encode(meta, crc32c))
    meta.tags["notes"] = "x" * (padding + extra)

    s3.put(location, write_source(b"content"), meta, crc32c=crc32c)

    stored = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    assert ("octstore-sidecar" in stored) is spills
    assert s3.stat(location).metadata == meta


def test_spilled_object_whose_sidecar_is_gone_keeps_its_id_with_a_warning(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    meta = big_metadata()
    put(s3, location, write_source, b"content", meta)
    client.delete_object(Bucket=S3_BUCKET, Key=SIDECAR_KEY)

    with pytest.warns(UserWarning, match="does not exist"):
        state = s3.stat(location)

    assert state.metadata == Metadata(id=meta.id)


def test_put_if_absent_on_existing_object_raises_conflict_and_keeps_its_bytes(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"theirs")
    source = write_source(b"mine")

    with pytest.raises(ConflictError, match=location.url) as raised:
        s3.put(location, source, metadata(), crc32c=crc32c_bytes(b"mine"), if_absent=True)

    assert raised.value.kept_at == source
    assert source in str(raised.value)
    assert read_object(client) == b"theirs"
    assert Path(source).read_bytes() == b"mine"


def test_put_with_stale_if_matches_raises_conflict_and_keeps_both_versions(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    read = put(s3, location, write_source, b"first", metadata())
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"theirs")
    source = write_source(b"mine")

    with pytest.raises(ConflictError, match=location.url) as raised:
        s3.put(location, source, metadata(), crc32c=crc32c_bytes(b"mine"), if_matches=read)

    assert raised.value.kept_at == source
    assert source in str(raised.value)
    assert read_object(client) == b"theirs"
    assert Path(source).read_bytes() == b"mine"


def test_put_with_current_if_matches_replaces_content(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    read = put(s3, location, write_source, b"first", metadata())

    written = s3.put(
        location,
        write_source(b"second"),
        metadata(),
        crc32c=crc32c_bytes(b"second"),
        if_matches=read,
    )

    assert read_object(client) == b"second"
    assert written.version_token != read.version_token


def test_object_written_by_other_tools_has_no_metadata_or_hash(
    s3: S3Backend, location: Location, client: Any
) -> None:
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"abc", Metadata={"owner": "ops"})

    state = s3.stat(location)

    assert state.metadata is None
    assert state.crc32c is None
    assert state.size == 3
    assert state.version_token == client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["ETag"]


def test_stat_of_missing_object_raises_not_found_naming_the_url(
    s3: S3Backend, location: Location
) -> None:
    with pytest.raises(NotFoundError, match=location.url):
        s3.stat(location)


def test_stat_in_missing_bucket_raises_not_found_naming_the_url(
    s3: S3Backend, options: dict[str, Any]
) -> None:
    location = Location(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/data.csv", options)

    with pytest.raises(NotFoundError, match=location.url):
        s3.stat(location)


def test_put_into_missing_bucket_raises_not_found_naming_the_url(
    s3: S3Backend, options: dict[str, Any], write_source: Any
) -> None:
    location = Location(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/data.csv", options)

    with pytest.raises(NotFoundError, match=location.url):
        s3.put(location, write_source(b"x"), metadata(), crc32c=crc32c_bytes(b"x"))


def test_delete_removes_the_object_and_its_sidecar(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    put(s3, location, write_source, b"content", big_metadata())

    s3.delete(location)

    assert not object_exists(client, "dir/data.csv")
    assert not object_exists(client, SIDECAR_KEY)


def test_delete_of_missing_object_raises_not_found(s3: S3Backend, location: Location) -> None:
    with pytest.raises(NotFoundError, match=location.url):
        s3.delete(location)


def test_listings_of_the_same_filesystem_show_writes_and_deletes(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    client.put_object(Bucket=S3_BUCKET, Key="dir/other.csv", Body=b"other")
    directory = f"{S3_BUCKET}/dir"
    assert location.fs.ls(directory) == [f"{directory}/other.csv"]  # now cached by s3fs

    put(s3, location, write_source, b"content", metadata())
    assert sorted(location.fs.ls(directory)) == [f"{directory}/data.csv", f"{directory}/other.csv"]

    s3.delete(location)
    assert location.fs.ls(directory) == [f"{directory}/other.csv"]


def test_put_with_if_matches_on_a_key_deleted_meanwhile_raises_conflict_and_keeps_content(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    read = put(s3, location, write_source, b"first", metadata())
    client.delete_object(Bucket=S3_BUCKET, Key="dir/data.csv")
    source = write_source(b"mine")

    with pytest.raises(ConflictError, match=location.url) as raised:
        s3.put(location, source, metadata(), crc32c=crc32c_bytes(b"mine"), if_matches=read)

    assert raised.value.kept_at == source
    assert Path(source).read_bytes() == b"mine"
    assert not object_exists(client, "dir/data.csv")


def test_download_of_the_current_state_is_one_get_pinned_to_its_etag(
    s3: S3Backend, location: Location, write_source: Any, s3_server: S3Server, tmp_path: Path
) -> None:
    content = os.urandom(300_000)  # several chunks
    state = put(s3, location, write_source, content, metadata())
    target = tmp_path / "downloaded"

    with s3_server.recording() as requests:
        s3.download(location, state, str(target))

    assert target.read_bytes() == content
    assert s3_server.content_gets(requests, "dir/data.csv") == 1
    (get,) = requests
    assert get["headers"]["If-Match"] == state.version_token


def test_download_of_an_overwritten_state_raises_integrity_error_and_leaves_no_target(
    s3: S3Backend, location: Location, write_source: Any, client: Any, tmp_path: Path
) -> None:
    old_state = put(s3, location, write_source, b"old content", metadata())
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"their new content")
    target = tmp_path / "downloaded"

    with pytest.raises(IntegrityError, match=f"{location.url} changed while it was") as err:
        s3.download(location, old_state, str(target))

    assert "try again" in str(err.value)
    assert not target.exists()
    # The current state still downloads, and exactly.
    s3.download(location, s3.stat(location), str(target))
    assert target.read_bytes() == b"their new content"


def wait_for_a_later_second(state: Any) -> None:
    """Sleep until S3's LastModified (one-second resolution) can differ from ``state``'s."""
    stamp = datetime.fromisoformat(state.details["LastModified"]).timestamp()
    time.sleep(max(0.0, stamp + 1.05 - time.time()))


def test_write_metadata_with_a_state_older_than_another_writers_metadata_update_conflicts(
    s3: S3Backend, location: Location, write_source: Any, client: Any
) -> None:
    put(s3, location, write_source, b"content", metadata(labels=["original"]))
    first_writer, second_writer = s3.stat(location), s3.stat(location)
    wait_for_a_later_second(first_writer)

    s3.write_metadata(location, metadata(labels=["first"]), if_matches=first_writer)
    with pytest.raises(ConflictError, match=location.url):
        s3.write_metadata(location, metadata(labels=["second"]), if_matches=second_writer)

    stored = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Metadata"]
    assert stored["octstore-labels"] == '["first"]'
    assert read_object(client) == b"content"


def test_write_metadata_with_the_state_it_returned_does_not_conflict(
    s3: S3Backend, location: Location, write_source: Any
) -> None:
    put(s3, location, write_source, b"content", metadata())
    state = s3.stat(location)
    wait_for_a_later_second(state)

    state = s3.write_metadata(location, metadata(labels=["one"]), if_matches=state)
    state = s3.write_metadata(location, metadata(labels=["two"]), if_matches=state)

    assert state.details["LastModified"] == s3.stat(location).details["LastModified"]
    stored = s3.stat(location).metadata
    assert stored is not None
    assert stored.labels == {"two"}


def test_write_metadata_keeps_the_storage_class(
    s3: S3Backend, location: Location, client: Any
) -> None:
    client.put_object(
        Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"content", StorageClass="STANDARD_IA"
    )

    s3.write_metadata(location, metadata(labels=["cleaned"]))

    head = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["Metadata"]["octstore-labels"] == '["cleaned"]'


def test_whole_metadata_never_changes_a_stored_id(
    s3: S3Backend, location: Location, write_source: Any
) -> None:
    written = put(s3, location, write_source, b"content", metadata())

    s3.write_metadata(location, Metadata(labels=["other"]))

    assert s3.stat(location).metadata == Metadata(id=written.metadata.id, labels=["other"])
