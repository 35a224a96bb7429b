"""Locations: canonical URLs that keep everything that names the file, and clear errors."""

from __future__ import annotations

import socket
import time

import fsspec
import pytest

from octstore import BackendError, BackendNotInstalledError, Datafile, OctstoreError
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
