"""Locations: canonical URLs that keep everything that names the file, and clear errors."""

from __future__ import annotations

import pickle
import socket
import time
import zipfile
from pathlib import Path

import fsspec
import pytest

from octstore import (
    AccessDeniedError,
    BackendError,
    BackendNotInstalledError,
    Datafile,
    Dataset,
    OctstoreError,
    protocols,
)
from octstore.backends import backend_for
from octstore.backends.sidecar import SidecarBackend
from octstore.location import Location


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("memory:///a/b.csv", "memory://a/b.csv"),
        ("memory://a/b.csv", "memory://a/b.csv"),
        ("s3://bucket/key.csv", "s3://bucket/key.csv"),
        ("s3a://bucket/key.csv", "s3://bucket/key.csv"),
        ("gcs://bucket/key.csv", "gs://bucket/key.csv"),
        ("ftp://host-a/dir/x.csv", "ftp://host-a/dir/x.csv"),
        ("http://example.com/a/b.csv", "http://example.com/a/b.csv"),
    ],
)
def test_urls_are_canonical(raw: str, url: str) -> None:
    assert Location(raw).url == url


def test_the_host_of_a_url_is_kept_and_handed_to_the_filesystem() -> None:
    a, b = Location("ftp://host-a/dir/x.csv"), Location("ftp://host-b/dir/x.csv")

    assert a != b  # two servers' files never share a cache entry
    assert a.fs_path == "/dir/x.csv"
    assert a.parent == "ftp://host-a/dir"
    assert a.filesystem_class()._get_kwargs_from_urls(a.url) == {"host": "host-a"}


def test_a_missing_optional_package_names_the_fix() -> None:
    fsspec.register_implementation(
        "octstoretest",
        "octstore_no_such_module.FileSystem",
        errtxt="pip install no-such-module",
    )

    with pytest.raises(BackendNotInstalledError, match="pip install no-such-module"):
        Location("octstoretest://bucket/x")


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused(path: str) -> None:
    with pytest.raises(OctstoreError, match="empty"):
        Location(path)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.timeout(60)
def test_an_unreachable_endpoint_is_a_backend_error_naming_the_url() -> None:
    options = {
        "key": "k",
        "secret": "s",
        "endpoint_url": f"http://127.0.0.1:{_closed_port()}",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        "skip_instance_cache": True,
    }
    started = time.monotonic()

    with pytest.raises(BackendError, match=r"s3://bucket/x\.csv.*try again") as caught:
        Datafile("s3://bucket/x.csv", storage_options=options)

    assert isinstance(caught.value, OSError)
    assert time.monotonic() - started < 30


# --- chained URLs, resolved as fsspec resolves them -----------------------------------------


@pytest.fixture
def zipped(tmp_path: Path) -> Path:
    """A zip file holding ``data/north.csv`` and ``data/south.csv``."""
    archive = tmp_path / "readings.zip"
    with zipfile.ZipFile(archive, "w") as zipped_file:
        zipped_file.writestr("data/north.csv", "speed\n4.2\n")
        zipped_file.writestr("data/south.csv", "speed\n3.9\n")
    return archive


def test_a_chained_url_names_the_member_of_an_archive(zipped: Path) -> None:
    location = Location(f"zip://data/north.csv::{zipped}")

    assert location.protocol == "zip"
    assert location.is_read_only
    assert location.name == "north.csv"
    assert location.parent == f"zip://data::{zipped}"
    assert location.sibling("south.csv").url == f"zip://data/south.csv::{zipped}"
    assert location.fs_path == "data/north.csv"
    assert location.fs.cat_file(location.fs_path) == b"speed\n4.2\n"


def test_a_datafile_and_a_dataset_read_through_a_chained_url(zipped: Path) -> None:
    with Datafile(f"zip://data/north.csv::{zipped}").open() as f:
        assert f.read() == "speed\n4.2\n"

    dataset = Dataset(f"zip://data::{zipped}")

    assert sorted(datafile.name for datafile in dataset.files) == ["north.csv", "south.csv"]


def test_a_datafile_in_an_archive_cannot_be_written(zipped: Path) -> None:
    with (
        pytest.raises(AccessDeniedError, match="read-only"),
        Datafile(f"zip://data/new.csv::{zipped}").open("w"),
    ):
        pass


def test_a_chain_of_bare_protocols_names_the_file_in_its_last_link() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/chained/x.txt", b"hi")

    location = Location("simplecache::memory://chained/x.txt")

    assert location.protocol == "simplecache"
    assert location.name == "x.txt"
    assert location.child("y").url == "simplecache::memory://chained/x.txt/y"
    assert location.relative_to(Location("simplecache::memory://chained")) == "x.txt"
    assert pickle.loads(pickle.dumps(location)).fs_path == "/chained/x.txt"


@pytest.mark.parametrize(
    ("url", "name", "fs_path"),
    [
        ("memory://chained/a::b.csv", "a::b.csv", "/chained/a::b.csv"),
        ("memory://chained/::", "::", "/chained/::"),
        ("s3://bucket/v1::v2/x.csv", "x.csv", "bucket/v1::v2/x.csv"),
    ],
)
def test_a_double_colon_after_a_filesystem_that_reads_no_other_is_part_of_the_name(
    url: str, name: str, fs_path: str
) -> None:
    location = Location(url)

    assert (location.url, location.name, location.fs_path) == (url, name, fs_path)
    assert location.parent == url.rsplit("/", 1)[0]


@pytest.mark.parametrize("name", ["k.csv", "a::k.csv"])
def test_options_given_per_protocol_reach_the_filesystem(name: str) -> None:
    options = {"s3": {"endpoint_url": "http://127.0.0.1:9", "key": "K", "secret": "S"}}

    location = Location(f"s3://bucket/{name}", options)

    assert (location.fs.endpoint_url, location.fs.key) == ("http://127.0.0.1:9", "K")
    assert location.fs_path == f"bucket/{name}"


def test_a_known_bare_protocol_that_reads_through_another_chains() -> None:
    fsspec.filesystem("memory").pipe("/wrapped/y.csv", b"y")

    location = Location("async_wrapper::memory://wrapped/y.csv")

    assert (location.protocol, location.name) == ("async_wrapper", "y.csv")


def test_a_local_path_with_a_double_colon_is_a_local_path(tmp_path: Path) -> None:
    for name in ("::", "a::b.csv", "data::v2.csv", "zip::"):
        location = Location(str(tmp_path / name))

        assert (location.protocol, location.url, location.name) == (
            "file",
            str(tmp_path / name),
            name,
        )


def test_metadata_written_through_a_caching_chain_lands_beside_the_file() -> None:
    fsspec.filesystem("memory").pipe("/chained/y.txt", b"hi")
    datafile = Datafile("simplecache::memory://chained/y.txt")
    with datafile.open("rb") as f:
        assert f.read() == b"hi"

    datafile.labels.add("raw")
    datafile.update_metadata()

    assert Datafile("memory://chained/y.txt").labels == {"raw"}


# --- the protocol registry ----------------------------------------------------------------


def test_every_spelling_of_a_protocol_reaches_one_entry() -> None:
    assert protocols.lookup("s3a") is protocols.lookup("s3")
    assert protocols.lookup("gcs").name == "gs"
    assert protocols.lookup(None).local
    assert protocols.lookup("ftp").backend == protocols.SIDECAR_BACKEND


def test_a_registered_protocol_gets_its_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocols, "REGISTRY", dict(protocols.REGISTRY))
    protocols.register(protocols.Protocol("memory", backend="tests.test_location:RecordingBackend"))

    assert isinstance(backend_for(Location("memory://registered/x")), RecordingBackend)


class RecordingBackend(SidecarBackend):
    """A backend only the registry test names."""


@pytest.mark.parametrize(
    "url",
    [
        "simplecache::nosuchproto://b/x",
        "zip://m::nosuchproto://b/a.zip",
        "nosuchproto::memory://b/x",
    ],
)
def test_an_unknown_protocol_anywhere_in_a_chain_is_a_clear_error(url: str) -> None:
    with pytest.raises(OctstoreError, match="unknown protocol 'nosuchproto'"):
        Location(url)
