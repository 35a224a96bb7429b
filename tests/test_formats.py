"""What octstore writes is readable by other tools: the formats fixed in DESIGN.md."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest

from octstore import Datafile
from octstore.hashing import crc32c_bytes
from tests.conftest import Backend
from tests.servers import GCS_BUCKET, S3_BUCKET

TIMESTAMP = "2022-05-04T17:57:57.136739+00:00"


def write(url: str, backend: Backend | None = None) -> Datafile:
    options = backend.storage_options if backend else None
    df = Datafile(
        url,
        labels=["b", "a"],
        tags={"site": "nörth", "n": 1},
        timestamp=TIMESTAMP,
        storage_options=options,
    )
    with df.open("wb") as f:
        f.write(b"content")
    return df


def test_local_sidecar_is_the_documented_json(tmp_path: Path) -> None:
    df = write(str(tmp_path / "x.csv"))

    sidecar = json.loads((tmp_path / ".x.csv.octstore.json").read_text(encoding="utf-8"))

    assert sidecar == {
        "octstore": 1,
        "id": df.id,
        "timestamp": TIMESTAMP,
        "labels": ["a", "b"],
        "tags": {"site": "nörth", "n": 1},
    }


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_metadata_is_visible_to_boto3_head_object(backend: Backend) -> None:
    df = write(backend.url("x.csv"), backend)
    client = boto3.client(
        "s3",
        endpoint_url=backend.storage_options["endpoint_url"],
        aws_access_key_id=backend.storage_options["key"],
        aws_secret_access_key=backend.storage_options["secret"],
        region_name="us-east-1",
    )

    head = client.head_object(Bucket=S3_BUCKET, Key=backend.url("x.csv").split("/", 3)[3])

    assert head["Metadata"] == {
        "octstore-id": df.id,
        "octstore-timestamp": TIMESTAMP,
        "octstore-labels": '["a","b"]',
        "octstore-tags": '{"n":1,"site":"n\\u00f6rth"}',
        "octstore-crc32c": crc32c_bytes(b"content"),
    }


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_gcs_metadata_is_visible_in_the_json_api(backend: Backend) -> None:
    df = write(backend.url("x.csv"), backend)
    name = urllib.parse.quote(backend.url("x.csv").split("/", 3)[3], safe="")
    url = f"{backend.storage_options['endpoint_url']}/storage/v1/b/{GCS_BUCKET}/o/{name}"

    with urllib.request.urlopen(url, timeout=30) as response:
        resource = json.load(response)

    assert resource["metadata"] == {
        "octstore-id": df.id,
        "octstore-timestamp": TIMESTAMP,
        "octstore-labels": '["a","b"]',
        "octstore-tags": '{"n":1,"site":"n\\u00f6rth"}',
    }
    assert resource["crc32c"] == crc32c_bytes(b"content")


def test_octue_local_metadata_is_read(tmp_path: Path) -> None:
    identifier = str(uuid.uuid4())
    (tmp_path / "x.csv").write_text("data")
    (tmp_path / ".octue").write_text(
        json.dumps(
            {
                "datafiles": {
                    "x.csv": {
                        "id": identifier,
                        "timestamp": {"_type": "datetime", "value": TIMESTAMP},
                        "labels": {"_type": "set", "items": ["raw", "wind"]},
                        "tags": {"site": "north"},
                        "sdk_version": "0.50.0",
                    }
                },
                "dataset": {},
            }
        )
    )

    df = Datafile(tmp_path / "x.csv")

    assert df.id == identifier
    assert df.labels == {"raw", "wind"}
    assert df.tags == {"site": "north"}
    assert df.timestamp is not None
    assert df.timestamp.isoformat() == TIMESTAMP


def test_octstore_sidecar_wins_over_octue_metadata(tmp_path: Path) -> None:
    (tmp_path / ".octue").write_text(
        json.dumps({"datafiles": {"x.csv": {"id": str(uuid.uuid4()), "labels": ["old"]}}})
    )
    df = write(str(tmp_path / "x.csv"))

    assert Datafile(tmp_path / "x.csv").id == df.id


def test_garbage_sidecar_is_ignored_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("data")
    (tmp_path / ".x.csv.octstore.json").write_text('{"octstore": 1, "id": ')

    with pytest.warns(UserWarning, match="unreadable octstore sidecar"):
        df = Datafile(tmp_path / "x.csv")

    assert df.labels == set()
