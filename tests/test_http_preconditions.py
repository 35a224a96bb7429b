"""Conditional requests to the attachment store's HTTP app, evaluated as RFC 9110 section 13.2.2
orders them, over real HTTP to a server on loopback (a local store and an S3 store):

1. ``If-Match``; when it is absent, ``If-Unmodified-Since`` (a failure is ``412``);
2. then ``If-None-Match``; when it is absent, ``If-Modified-Since`` (a failure is ``304``);
3. then ``Range`` (with ``If-Range``) — preconditions come first, so a failed one is never
   answered with part of the content.

``If-Unmodified-Since`` is ignored when ``If-Match`` is present or when it is not one valid
HTTP-date.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import pytest
from werkzeug.http import http_date, parse_date

from octstore import Store
from octstore.http import make_server
from tests.conftest import Backend

pytestmark = pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)

CONTENT = b"Feed the cats!"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
ETAG = f'"{DIGEST}"'
OTHER = f'"{"0" * 64}"'


@dataclass
class Served:
    """A served attachment: where it is, and its Last-Modified date as sent."""

    host: str
    port: int
    path: str
    last_modified: str

    def request(self, method: str, headers: dict[str, str]) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, self.path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def date(self, days: int) -> str:
        moment = parse_date(self.last_modified)
        assert moment is not None
        return http_date(moment + timedelta(days=days))


@pytest.fixture
def served(backend: Backend) -> Iterator[Served]:
    store = Store(backend.url("attachments"), backend.storage_options)
    handle = store.add("memo.txt", CONTENT)
    httpd = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        served = Served("127.0.0.1", httpd.server_port, "/" + quote(handle), "")
        connection = http.client.HTTPConnection(served.host, served.port, timeout=30)
        connection.request("HEAD", served.path)
        served.last_modified = connection.getresponse().getheader("Last-Modified") or ""
        connection.close()
        assert served.last_modified
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


#: Request headers (dates in days from Last-Modified: "-1" before it, "0" at it, "+1" after)
#: and the status RFC 9110 13.2.2 gives.
CASES = {
    "unmodified since a later date": ({"If-Unmodified-Since": "+1"}, 200),
    "unmodified since its own date": ({"If-Unmodified-Since": "0"}, 200),
    "modified since an earlier date": ({"If-Unmodified-Since": "-1"}, 412),
    "If-Match wins over If-Unmodified-Since": (
        {"If-Match": ETAG, "If-Unmodified-Since": "-1"},
        200,
    ),
    "a failed If-Match is 412 whatever the date": (
        {"If-Match": OTHER, "If-Unmodified-Since": "+1"},
        412,
    ),
    "an invalid date is ignored": ({"If-Unmodified-Since": "yesterday"}, 200),
    "a list of dates is ignored": ({"If-Unmodified-Since": "-1, -1"}, 200),
    "If-Unmodified-Since is evaluated before If-None-Match": (
        {"If-Unmodified-Since": "-1", "If-None-Match": ETAG},
        412,
    ),
    "If-None-Match after a passed If-Unmodified-Since": (
        {"If-Unmodified-Since": "+1", "If-None-Match": ETAG},
        304,
    ),
    "If-None-Match after a passed If-Match": ({"If-Match": ETAG, "If-None-Match": ETAG}, 304),
    "If-Match * matches an existing attachment": ({"If-Match": "*"}, 200),
    "If-Modified-Since is ignored beside If-None-Match": (
        {"If-None-Match": OTHER, "If-Modified-Since": "+1"},
        200,
    ),
    "If-Modified-Since after a passed If-Unmodified-Since": (
        {"If-Unmodified-Since": "+1", "If-Modified-Since": "0"},
        304,
    ),
    "a failed If-Unmodified-Since is 412, not part of the content": (
        {"If-Unmodified-Since": "-1", "Range": "bytes=0-3"},
        412,
    ),
    "a failed If-Match is 412, not part of the content": (
        {"If-Match": OTHER, "Range": "bytes=0-3"},
        412,
    ),
    "a range after passed preconditions": (
        {"If-Unmodified-Since": "0", "If-Match": ETAG, "Range": "bytes=0-3"},
        206,
    ),
}


def _dates(served: Served, headers: dict[str, str]) -> dict[str, str]:
    def value(text: str) -> str:
        if text in ("-1", "0", "+1"):
            return served.date(int(text))
        if text == "-1, -1":
            return f"{served.date(-1)}, {served.date(-1)}"
        return text

    return {name: value(text) if name.endswith("Since") else text for name, text in headers.items()}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_preconditions_are_evaluated_in_rfc_9110_order(served: Served, method: str) -> None:
    # Every case against one served attachment (a store per case cost a second each).
    wrong = {}
    for case, (headers, expected) in CASES.items():
        status, body = served.request(method, _dates(served, headers))
        if method == "HEAD" or expected in (304, 412):
            right_body = CONTENT[:4] not in body
        else:
            right_body = body == (CONTENT[:4] if expected == 206 else CONTENT)
        if status != expected or not right_body:
            wrong[case] = (status, body[:20], expected)

    assert wrong == {}
