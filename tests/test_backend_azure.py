"""The Azure metadata backend against Azurite: what lands in the blob, and what reads back.

Azurite enforces ``If-Match``, create-only uploads and blob leases as Azure does (see
``tests/azurite.py``), so the conflict tests here test something real. What Azure stores is
checked through adlfs directly, not through octstore.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

import fsspec
import pytest

from octstore import AccessDeniedError, Datafile, NotFoundError
from octstore.backends import azure_spill, backend_for
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from tests.conftest import Backend

on_azure = pytest.mark.parametrize("backend", ["az"], indirect=True)


def blob_metadata(backend: Backend, name: str) -> dict[str, str]:
    """The blob's own metadata, read behind octstore's back."""
    info = backend.fs.info(backend.url(name), refresh=True)
    return dict(info["metadata"] or {})


def written(backend: Backend, name: str, data: bytes = b"content", **metadata: Any) -> Datafile:
    datafile = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with datafile.open("wb") as f:
        f.write(data)
    return datafile


@on_azure
def test_metadata_lands_in_the_blob_under_azure_spelt_keys(backend: Backend) -> None:
    datafile = written(backend, "a.csv", labels=["raw"], tags={"site": "Nørre"})

    stored = blob_metadata(backend, "a.csv")

    assert stored["octstore_id"] == datafile.id
    assert stored["octstore_labels"] == '["raw"]'
    assert stored["octstore_tags"] == '{"site":"N\\u00f8rre"}'
    assert stored["octstore_crc32c"] == crc32c_bytes(b"content")
    assert not any("-" in key for key in stored)


@on_azure
def test_a_metadata_update_moves_the_etag_but_not_the_content_version(backend: Backend) -> None:
    datafile = written(backend, "a.csv", labels=["raw"])
    before = backend.fs.info(backend.url("a.csv"), refresh=True)
    location = Location(backend.url("a.csv"), backend.storage_options)
    read = backend_for(location).stat(location)

    datafile.labels.add("checked")
    datafile.update_metadata()

    after = backend.fs.info(backend.url("a.csv"), refresh=True)
    now = backend_for(location).stat(location)
    assert before["etag"] != after["etag"]
    assert now.version_token == read.version_token  # the cache keeps its copy
    assert backend_for(location).read_range(location, read, 0, 4) == b"cont"


@on_azure
def test_metadata_beyond_8_kb_spills_into_a_sidecar_blob(backend: Backend) -> None:
    datafile = written(backend, "a.csv", tags={"notes": "x" * 9000})

    stored = blob_metadata(backend, "a.csv")

    assert stored == {
        "octstore_id": datafile.id,
        "octstore_crc32c": crc32c_bytes(b"content"),
        "octstore_sidecar": "1",
    }
    assert backend.fs.exists(backend.url(".a.csv.octstore.json"))
    again = Datafile(backend.url("a.csv"), storage_options=backend.storage_options)
    assert again.tags["notes"] == "x" * 9000


@on_azure
def test_a_missing_container_is_not_found_naming_the_path(backend: Backend) -> None:
    datafile = Datafile("az://no-such-container/a.csv", storage_options=backend.storage_options)

    with pytest.raises(NotFoundError, match=r"az://no-such-container/a\.csv"):
        datafile.read_bytes()


@on_azure
def test_a_wrong_account_key_is_access_denied_not_a_missing_file(backend: Backend) -> None:
    written(backend, "a.csv")
    key = account_key(backend)
    wrong = backend.storage_options["connection_string"].replace(key, "d3Jvbmc=" * 11)

    with pytest.raises(AccessDeniedError, match="AZURE_STORAGE_CONNECTION_STRING"):
        Datafile(backend.url("a.csv"), storage_options={"connection_string": wrong}).size  # noqa: B018


def account_key(backend: Backend) -> str:
    parts = backend.storage_options["connection_string"].split(";")
    return dict(part.split("=", 1) for part in parts if part)["AccountKey"]


@on_azure
def test_abfs_urls_reach_the_same_blobs_as_az_urls(backend: Backend) -> None:
    written(backend, "a.csv", labels=["raw"])

    same = Datafile(
        backend.url("a.csv").replace("az://", "abfs://"), storage_options=backend.storage_options
    )

    assert same.labels == {"raw"}
    assert same.read_bytes() == b"content"


@on_azure
def test_an_update_of_spilled_metadata_waits_for_the_sidecar_of_another(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spilled metadata is two writes, the blob's and then its sidecar's: another writer's
    update must not land between them, and read the old sidecar (losing the first's)."""
    written(backend, "a.csv", tags={"notes": "x" * 9000})
    first = Datafile(backend.url("a.csv"), storage_options=backend.storage_options)
    second = Datafile(backend.url("a.csv"), storage_options=backend.storage_options)
    first.labels.add("first")
    second.labels.add("second")
    blob_written = threading.Event()
    original = azure_spill.write_sidecar

    def slow_sidecar(location: Location, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "first":
            blob_written.set()  # the blob holds the first's update; its sidecar, not yet
            time.sleep(0.5)
        original(location, *args, **kwargs)

    monkeypatch.setattr(azure_spill, "write_sidecar", slow_sidecar)
    thread = threading.Thread(target=first.update_metadata, name="first")
    thread.start()
    assert blob_written.wait(10)
    second.update_metadata()
    thread.join()

    assert Datafile(backend.url("a.csv"), storage_options=backend.storage_options).labels == {
        "first",
        "second",
    }


@on_azure
def test_a_url_without_credentials_says_how_to_give_them(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    # fsspec keeps filesystems by their arguments, not the environment: another test's may
    # have been made while the variable was set
    fsspec.get_filesystem_class("az").clear_instance_cache()

    with pytest.raises(AccessDeniedError, match="AZURE_STORAGE_CONNECTION_STRING"):
        Datafile("az://octstore-test/credentials/a.csv").exists()


@on_azure
def test_content_that_is_not_its_content_md5_is_refused_and_read_as_changed(
    backend: Backend, tmp_path: Any
) -> None:
    """A file rewritten after it was hashed, before its one-request upload: Azure refuses
    the body against the Content-MD5 sent, and octstore reads that refusal as the change."""
    from fsspec.asyn import sync

    from octstore.backends import azure_requests

    source = tmp_path / "f.bin"
    source.write_bytes(b"rewritten after it was hashed")
    location = Location(backend.url("f.bin"), backend.storage_options)
    settings = azure_requests.content_settings("application/octet-stream", b"\0" * 16)

    with pytest.raises(Exception) as refused:  # noqa: PT011  # the SDK's, read below
        sync(
            location.fs.loop, azure_requests.upload, location, str(source), {}, settings,
            etag=None, create=True,
        )  # fmt: skip

    assert azure_requests.is_md5_mismatch(refused.value)
    assert not backend.fs.exists(backend.url("f.bin"))


@on_azure
def test_a_large_upload_goes_in_8_mib_blocks_and_one_commit(
    backend: Backend, tmp_path: Any
) -> None:
    from octstore.dataset.transfer import copy_one

    content = os.urandom(20 * 2**20 + 5)  # three blocks, the last of 4 MiB and 5 bytes
    (tmp_path / "big.bin").write_bytes(content)
    target = Location(backend.url("big.bin"), backend.storage_options)

    with backend.server.recording() as requests:
        copy_one(Datafile(tmp_path / "big.bin"), target)

    puts = [r["query"].get("comp", [""])[0] for r in requests if r["method"] == "PUT"]
    assert sorted(puts) == ["block", "block", "block", "blocklist"]
    assert backend.read("big.bin") == content
    stored = backend.fs.info(backend.url("big.bin"), refresh=True)["content_settings"]
    assert bytes(stored["content_md5"]) == hashlib.md5(content, usedforsecurity=False).digest()
