"""Logging and warnings, laid out once: every record comes from a child of the ``octstore``
logger, debug records tell requests, cache hits and misses and retries, no record holds a
secret, and every warning is an ``OctstoreWarning``."""

from __future__ import annotations

import logging
import warnings

import pytest

from octstore import Datafile, OctstoreWarning
from octstore.errors import warn
from octstore.location import translate_errors
from tests.conftest import Backend


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_debug_records_tell_requests_and_cache_misses_then_hits(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    url = backend.write("logged.txt", b"hello")
    with caplog.at_level(logging.DEBUG, logger="octstore"):
        for _ in range(2):
            with Datafile(url, storage_options=backend.storage_options).open("rb") as f:
                assert f.read() == b"hello"

    cache_records = [r.getMessage() for r in caplog.records if r.name == "octstore.cache.entries"]
    assert [message.split(":")[0] for message in cache_records] == ["cache miss", "cache hit"]
    requests = [
        r for r in caplog.records if r.name == "octstore.location" and url in r.getMessage()
    ]
    assert requests, "no debug record of a request"
    assert all(record.name.startswith("octstore.") for record in caplog.records)


def test_records_never_hold_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="octstore"),
        translate_errors("https://user:hunter2@example.com/x.csv", "reading"),
    ):
        pass

    assert "example.com/x.csv" in caplog.text
    assert "hunter2" not in caplog.text


def test_every_warning_is_an_octstore_warning_and_a_user_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("something odd about s3://key:hunter2@bucket/x")

    assert issubclass(OctstoreWarning, UserWarning)
    assert [type(w.message) for w in caught] == [OctstoreWarning]
    assert "hunter2" not in str(caught[0].message)
