"""The S3 lease that metadata updates and write-backs of one key take (issue 16, item 1):
waited for while held, taken over once expired by the server's clock, never left behind,
and what it costs in requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from octstore import ConflictError, Datafile, Dataset, OctstoreWarning
from tests.servers import S3_BUCKET, S3Server

LEASE_KEY = "dir/.data.csv.octstore-lease"


@pytest.fixture
def client(s3_server: S3Server, s3fs_fs: Any) -> Iterator[Any]:
    """A plain boto3 client: another writer, and how another tool sees the bucket."""
    client = s3_server.boto3_client()
    client.put_object(Bucket=S3_BUCKET, Key="dir/data.csv", Body=b"content")
    yield client
    client.close()


@pytest.fixture
def datafile(s3_server: S3Server, client: Any) -> Datafile:
    options = {k: v for k, v in s3_server.storage_options.items() if k != "skip_instance_cache"}
    return Datafile(f"s3://{S3_BUCKET}/dir/data.csv", storage_options=options)


def hold_lease(client: Any, owner: str = "another-process") -> None:
    client.put_object(
        Bucket=S3_BUCKET, Key=LEASE_KEY, Body=b"", Metadata={"octstore-lease-owner": owner}
    )


def keys(client: Any) -> list[str]:
    listing = client.list_objects_v2(Bucket=S3_BUCKET, Prefix="dir/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def stored_labels(client: Any) -> str:
    head = client.head_object(Bucket=S3_BUCKET, Key="dir/data.csv")
    return str(head["Metadata"].get("octstore-labels"))


def test_a_metadata_update_leaves_no_lease_behind(datafile: Datafile, client: Any) -> None:
    datafile.labels.add("raw")
    datafile.update_metadata()

    assert keys(client) == ["dir/data.csv"]
    assert stored_labels(client) == '["raw"]'


def test_a_held_lease_is_waited_for_then_a_conflict_that_writes_nothing(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_LEASE_WAIT", "1")
    hold_lease(client)
    datafile.labels.add("raw")

    started = time.monotonic()
    with pytest.raises(ConflictError, match="being written by another process") as caught:
        datafile.update_metadata()

    assert time.monotonic() - started >= 1
    assert LEASE_KEY in str(caught.value)
    assert stored_labels(client) == "None"
    assert keys(client) == [LEASE_KEY, "dir/data.csv"]  # theirs, untouched


def test_a_lease_released_while_waiting_is_taken(datafile: Datafile, client: Any) -> None:
    hold_lease(client)
    release = threading.Timer(
        0.5, client.delete_object, kwargs={"Bucket": S3_BUCKET, "Key": LEASE_KEY}
    )
    release.start()
    datafile.labels.add("raw")

    datafile.update_metadata()

    release.join()
    assert stored_labels(client) == '["raw"]'
    assert keys(client) == ["dir/data.csv"]


def test_an_expired_lease_is_taken_over_by_the_servers_clock(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_LEASE_TTL", "1")
    hold_lease(client, owner="a-process-that-died")
    time.sleep(2.2)  # LastModified and Date have whole seconds
    datafile.labels.add("raw")

    datafile.update_metadata()

    assert stored_labels(client) == '["raw"]'
    assert keys(client) == ["dir/data.csv"]


def test_a_write_back_waits_for_the_lease_too(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_LEASE_WAIT", "0.5")
    hold_lease(client)

    with pytest.raises(ConflictError) as caught, datafile.open("w") as f:
        f.write("mine")

    assert client.get_object(Bucket=S3_BUCKET, Key="dir/data.csv")["Body"].read() == b"content"
    assert caught.value.kept_at is not None
    with open(caught.value.kept_at) as kept:
        assert kept.read() == "mine"


def test_a_lease_is_never_listed_as_data(
    datafile: Datafile, client: Any, s3_server: S3Server
) -> None:
    hold_lease(client)

    names = [
        d.name for d in Dataset(f"s3://{S3_BUCKET}/dir", storage_options=datafile.storage_options)
    ]

    assert names == ["data.csv"]


def test_a_metadata_update_costs_two_requests_more_than_a_copy(
    datafile: Datafile, s3_server: S3Server
) -> None:
    datafile.labels.add("raw")

    with s3_server.recording() as requests:
        datafile.update_metadata()

    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests]
    assert calls == [
        ("PUT", ".data.csv.octstore-lease"),
        ("HEAD", "data.csv"),
        ("PUT", "data.csv"),  # the copy onto itself
        ("DELETE", ".data.csv.octstore-lease"),
    ]


def test_an_overwrite_costs_three_requests_more_than_a_put(
    datafile: Datafile, s3_server: S3Server
) -> None:
    with s3_server.recording() as requests, datafile.open("w") as f:
        f.write("new")

    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests]
    assert calls == [
        ("PUT", ".data.csv.octstore-lease"),
        ("HEAD", "data.csv"),
        ("PUT", "data.csv"),
        ("DELETE", ".data.csv.octstore-lease"),
    ]


def test_creating_an_object_takes_no_lease(datafile: Datafile, s3_server: S3Server) -> None:
    # (the HEAD: the datafile makes sure, when it opens, that the object is still absent)
    new = Datafile(
        datafile.path.replace("data.csv", "new.csv"), storage_options=datafile.storage_options
    )

    with s3_server.recording() as requests, new.open("w") as f:
        f.write("new")

    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests]
    assert calls == [("HEAD", "new.csv"), ("PUT", "new.csv")]


def lease_of(datafile: Datafile, **kwargs: Any) -> Any:
    """The lease of ``datafile``'s key, as the S3 backend takes it (a context manager)."""
    from octstore.backends import lease
    from octstore.backends.s3 import _is_conflict, _is_missing_key

    location = datafile._location
    return lease.held(location, S3_BUCKET, "dir/data.csv", _is_conflict, _is_missing_key, **kwargs)


def test_a_holder_past_its_time_never_releases_the_lease_another_took_over(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_LEASE_TTL", "1")
    slow = lease_of(datafile)
    slow.__enter__()
    time.sleep(2.2)
    taker = lease_of(datafile)
    taker.__enter__()
    taken = client.head_object(Bucket=S3_BUCKET, Key=LEASE_KEY)

    with pytest.warns(OctstoreWarning, match="took it over"):
        slow.__exit__(None, None, None)

    still = client.head_object(Bucket=S3_BUCKET, Key=LEASE_KEY)
    assert still["ETag"] == taken["ETag"]  # the taker's lease is still there
    taker.__exit__(None, None, None)
    assert keys(client) == ["dir/data.csv"]


def test_two_leases_have_etags_of_their_own(datafile: Datafile, client: Any) -> None:
    etags = []
    for _ in range(2):
        with lease_of(datafile):
            etags.append(client.head_object(Bucket=S3_BUCKET, Key=LEASE_KEY)["ETag"])

    assert etags[0] != etags[1]


def test_a_lease_for_a_long_upload_says_it_lasts_longer_and_is_not_taken_over(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTSTORE_LEASE_TTL", "1")
    monkeypatch.setenv("OCTSTORE_LEASE_WAIT", "0.5")
    with lease_of(datafile, longer_by=60):
        said = client.head_object(Bucket=S3_BUCKET, Key=LEASE_KEY)["Metadata"]
        time.sleep(2.2)  # past the time to live, not past what the holder said
        datafile.labels.add("raw")
        with pytest.raises(ConflictError, match="being written by another process"):
            datafile.update_metadata()

    assert said["octstore-lease-ttl"] == "61"


def test_creating_an_object_with_spilled_metadata_takes_the_lease(
    datafile: Datafile, s3_server: S3Server
) -> None:
    new = Datafile(
        datafile.path.replace("data.csv", "big.csv"),
        tags={"notes": "x" * 3000},
        storage_options=datafile.storage_options,
    )

    with s3_server.recording() as requests, new.open("w") as f:
        f.write("new")

    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests]
    assert ("PUT", ".big.csv.octstore-lease") in calls
    assert calls[-2:] == [("PUT", ".big.csv.octstore.json"), ("DELETE", ".big.csv.octstore-lease")]


def test_an_upload_over_an_existing_object_takes_the_lease(
    datafile: Datafile, s3_server: S3Server, tmp_path: Any
) -> None:
    local = tmp_path / "local.csv"
    local.write_text("local")

    with s3_server.recording() as requests:
        Datafile(str(local)).upload(datafile.path, storage_options=datafile.storage_options)

    calls = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests]
    # (first, a read of what is there: the write is conditional on it)
    writes = [call for call in calls if call[0] != "HEAD"]
    assert writes[0] == ("PUT", ".data.csv.octstore-lease")
    assert writes[-1] == ("DELETE", ".data.csv.octstore-lease")


def test_a_lease_whose_release_was_lost_does_not_block_the_next_update_of_the_process(
    datafile: Datafile, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release lost to the network leaves the lease until it expires; this process knows
    the lease is its own, finished write's, and takes it over instead of waiting it out."""
    monkeypatch.setenv("OCTSTORE_LEASE_WAIT", "1")
    fs = datafile._location.fs
    real_call = fs.call_s3

    def losing_releases(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "delete_object" and kwargs.get("Key") == LEASE_KEY:
            raise OSError("connection reset while releasing")
        return real_call(method, *args, **kwargs)

    datafile.labels.add("raw")
    with monkeypatch.context() as patch:
        patch.setattr(fs, "call_s3", losing_releases)
        with pytest.warns(OctstoreWarning, match="could not release its lease"):
            datafile.update_metadata()
    assert LEASE_KEY in keys(client)  # left behind, as a lost release leaves it

    datafile.labels.add("clean")
    datafile.update_metadata()  # within the wait, long before the lease expires

    assert stored_labels(client) == '["clean","raw"]'
    assert keys(client) == ["dir/data.csv"]
