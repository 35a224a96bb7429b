"""The harness's loopback proxy: it forwards faithfully, counts exactly, delays, and fails
on purpose when asked."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import gcsfs
import pytest
import s3fs

from tests.proxy import Faults, Proxy
from tests.servers import GCS_BUCKET, S3_BUCKET, GcsServer, S3Server

BODY = bytes(range(256)) * 1000


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    puts: list[bytes] = []  # noqa: RUF012 - what PUT requests reached the server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("X-Host-Seen", self.headers["Host"])
        self.end_headers()
        self.wfile.write(BODY)

    def do_PUT(self) -> None:
        received = self.rfile.read(int(self.headers["Content-Length"]))
        _Upstream.puts.append(received)
        self.send_response(200)
        self.send_header("Content-Length", str(len(received)))
        self.end_headers()
        self.wfile.write(received[::-1])


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def request(
    proxy: Proxy, method: str = "GET", body: bytes | None = None
) -> http.client.HTTPResponse:
    host, port = proxy.endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(method, "/object", body=body)
    return connection.getresponse()


def test_the_proxy_forwards_and_counts_bytes_each_way(upstream: str) -> None:
    with Proxy(upstream) as proxy:
        got = request(proxy)
        assert got.read() == BODY
        assert got.getheader("X-Host-Seen") == proxy.endpoint_url.removeprefix("http://")
        put = request(proxy, "PUT", b"abc")
        assert put.read() == b"cba"

        assert proxy.totals() == {
            "requests": 2,
            "bytes_up": 3,
            "bytes_down": len(BODY) + 3,
            "faults": {},
        }
        assert [(e.method, e.path, e.status) for e in proxy.exchanges] == [
            ("GET", "/object", 200),
            ("PUT", "/object", 200),
        ]


def test_the_proxy_adds_its_latency_to_every_request(upstream: str) -> None:
    with Proxy(upstream, latency=0.05) as proxy:
        started = time.perf_counter()
        for _ in range(4):
            request(proxy).read()

        assert time.perf_counter() - started >= 4 * 0.05


def test_a_truncated_response_is_half_the_body_then_a_hang_up(upstream: str) -> None:
    with Proxy(upstream, faults=Faults(rate=1.0, kinds=("truncate",))) as proxy:
        response = request(proxy)
        with pytest.raises(http.client.IncompleteRead) as raised:
            response.read()

        assert len(raised.value.partial) == len(BODY) // 2
        assert proxy.totals()["faults"] == {"truncate": 1}


def test_a_dropped_request_gets_no_response(upstream: str) -> None:
    with Proxy(upstream, faults=Faults(rate=1.0, kinds=("drop",))) as proxy:
        with pytest.raises(http.client.RemoteDisconnected):
            request(proxy)

        assert proxy.exchanges[0].status is None


def test_a_lost_response_went_through_to_the_server(upstream: str) -> None:
    _Upstream.puts.clear()
    with Proxy(upstream, faults=Faults(rate=1.0, kinds=("lost",))) as proxy:
        with pytest.raises(http.client.RemoteDisconnected):
            request(proxy, "PUT", b"abc")

        assert _Upstream.puts == [b"abc"]
        assert proxy.totals()["faults"] == {"lost": 1}


def test_server_errors_and_the_rate_are_as_asked(upstream: str) -> None:
    with Proxy(upstream, faults=Faults(rate=0.3, kinds=("500", "503"), seed=7)) as proxy:
        statuses = [request(proxy).status for _ in range(200)]

    failed = [status for status in statuses if status != 200]
    assert set(failed) == {500, 503}
    assert 30 <= len(failed) <= 90  # 60 expected; the seed makes it the same every run


def test_s3fs_works_through_the_proxy(s3_server: S3Server) -> None:
    s3_server.reset()
    with Proxy(s3_server.endpoint_url, latency=0.001) as proxy:
        options = {**s3_server.storage_options, "endpoint_url": proxy.endpoint_url}
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir(S3_BUCKET)
        fs.pipe(f"{S3_BUCKET}/x", BODY)

        with proxy.counting() as exchanges:
            assert fs.cat(f"{S3_BUCKET}/x") == BODY

    assert sum(e.bytes_down for e in exchanges if e.method == "GET") == len(BODY)


def test_urllib_sees_the_upstream_through_the_proxy(upstream: str) -> None:
    with Proxy(upstream) as proxy, urllib.request.urlopen(proxy.endpoint_url + "/x") as got:
        assert got.read() == BODY


def test_gcsfs_requests_through_the_proxy_take_the_latency_not_more(
    gcs_fs: Any, gcs_server: GcsServer
) -> None:
    gcs_fs.pipe(f"{GCS_BUCKET}/x", b"small")
    with Proxy(gcs_server.endpoint_url, latency=0.02) as proxy:
        fs = gcsfs.GCSFileSystem(
            endpoint_url=proxy.endpoint_url, token="anon", skip_instance_cache=True
        )
        seconds = []
        for _ in range(10):
            started = time.perf_counter()
            fs.cat_file(f"{GCS_BUCKET}/x")
            seconds.append(time.perf_counter() - started)

    # Not 20 ms plus a delayed ACK's 40 ms: headers and body are separate writes.
    assert sorted(seconds)[5] < 0.02 + 0.015
