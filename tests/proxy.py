"""A loopback HTTP proxy in front of a test server: latency, exact counts, and faults.

moto and the GCS emulator answer in a few milliseconds, far faster than a real cloud, so on
them concurrency wins are invisible and retries are never needed. Put a :class:`Proxy`
in front of either and point the client at ``proxy.endpoint_url``:

- ``latency`` adds a round-trip delay to every request (20 ms is a nearby cloud region);
- every request is counted with its method, path, status and bytes each way, so request
  and byte counts are exact, not inferred;
- ``faults`` injects failures into a share of the requests, drawn from a seeded generator:
  a dropped connection (no response at all), a truncated response body, or a 500 or 503;
  on request, ``"lost"`` too: the server acts on the request, but its response is lost
  (the connection closes before it), as when a network fails after a write went through.

The proxy keeps the client's ``Host`` header, so URLs the server builds from it (a GCS
resumable upload session, say) point back at the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ALL_FAULT_KINDS", "FAULT_KINDS", "Exchange", "Faults", "Proxy", "Traffic"]

#: What can go wrong with a request: no response, half a body, or a server error.
FAULT_KINDS = ("drop", "truncate", "500", "503")
#: Those, and a response lost after the server acted on the request.
ALL_FAULT_KINDS = (*FAULT_KINDS, "lost")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
)
_CHUNK = 1 << 20


@dataclass
class Faults:
    """Which requests fail, and how.

    Attributes:
        rate: The share of requests that get a fault (0 to 1).
        kinds: The faults to choose from, uniformly.
        seed: The generator's seed: the same seed and requests give the same faults.
        methods: Only requests with these methods get faults (all if empty).
    """

    rate: float = 0.1
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    methods: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(ALL_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}: use {ALL_FAULT_KINDS}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, method: str) -> str | None:
        """The fault for the next request, or None."""
        if self.methods and method not in self.methods:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            return self._random.choice(self.kinds)


@dataclass(frozen=True)
class Exchange:
    """One request through the proxy, and what happened to it."""

    method: str
    path: str
    status: int | None  # the server's; None when the request never reached it
    bytes_up: int  # request body
    bytes_down: int  # response body, as sent to the client
    fault: str | None = None


class Traffic(list[Exchange]):
    """Exchanges, with their totals."""

    @property
    def requests(self) -> int:
        return len(self)

    @property
    def bytes_up(self) -> int:
        """Request bodies, in bytes."""
        return sum(exchange.bytes_up for exchange in self)

    @property
    def bytes_down(self) -> int:
        """Response bodies as the clients got them, in bytes."""
        return sum(exchange.bytes_down for exchange in self)


@dataclass
class _Log:
    """The exchanges so far, and how many requests are still being answered."""

    exchanges: list[Exchange] = field(default_factory=list)
    in_flight: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def settled(self) -> list[Exchange]:
        """The exchanges, once no request is half answered (a client may have its whole
        response before the proxy has filed it). Call with the lock held."""
        self.lock.wait_for(lambda: self.in_flight == 0, timeout=30)
        return self.exchanges


class Proxy:
    """An HTTP proxy on a free port of 127.0.0.1, forwarding to ``upstream``.

    Args:
        upstream: The server's base URL, ``http://127.0.0.1:PORT``.
        latency: Seconds added to every request, before it is forwarded.
        faults: Which requests fail, or None for none.

    Use it as a context manager, or call ``start`` and ``stop``.
    """

    def __init__(self, upstream: str, *, latency: float = 0.0, faults: Faults | None = None):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.latency = latency
        self.faults = faults
        self._log = _Log()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Proxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what went through ------------------------------------------------------------------

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request so far, in the order they finished."""
        with self._log.lock:
            return list(self._log.settled())

    def reset(self) -> None:
        """Forget the requests so far."""
        with self._log.lock:
            self._log.exchanges.clear()

    @contextlib.contextmanager
    def counting(self) -> Iterator[Traffic]:
        """The requests made inside the block (the list is filled when the block exits); a
        request made before it, whose response the client had before the proxy filed it,
        is not one of them."""
        with self._log.lock:
            start = len(self._log.settled())
        exchanges = Traffic()
        try:
            yield exchanges
        finally:
            with self._log.lock:
                exchanges.extend(self._log.settled()[start:])

    def totals(self) -> dict[str, Any]:
        """Requests, bytes each way, and faults by kind, so far."""
        traffic = Traffic(self.exchanges)
        return {
            "requests": traffic.requests,
            "bytes_up": traffic.bytes_up,
            "bytes_down": traffic.bytes_down,
            "faults": dict(Counter(e.fault for e in traffic if e.fault)),
        }

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._log.lock:
            self._log.in_flight += 1
        try:
            yield
        finally:
            with self._log.lock:
                self._log.in_flight -= 1
                self._log.lock.notify_all()

    def _record(self, exchange: Exchange) -> None:
        with self._log.lock:
            self._log.exchanges.append(exchange)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    proxy: Proxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: with Nagle's algorithm the body would
        # wait for the client's delayed ACK of the headers (~40 ms on Linux), on top of the
        # latency asked for.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        with self.server.proxy._answering():
            self._forward()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        fault = proxy.faults.draw(self.command) if proxy.faults else None
        if proxy.latency:
            time.sleep(proxy.latency)
        exchange = {"method": self.command, "path": self.path, "bytes_up": len(body)}
        if fault == "drop":
            self.close_connection = True
            proxy._record(Exchange(**exchange, status=None, bytes_down=0, fault=fault))
            return
        if fault in ("500", "503"):
            self._send_error(int(fault))
            proxy._record(Exchange(**exchange, status=int(fault), bytes_down=0, fault=fault))
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=300)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            if fault == "lost":  # the server acted; the client hears nothing
                response.read()
                self.close_connection = True
                sent = 0
            else:
                sent = self._relay(response, truncate=fault == "truncate")
        finally:
            upstream.close()
        proxy._record(Exchange(**exchange, status=response.status, bytes_down=sent, fault=fault))

    def _send_error(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _relay(self, response: http.client.HTTPResponse, *, truncate: bool) -> int:
        """Stream ``response`` to the client; with ``truncate``, half its body, then hang up."""
        declared = response.getheader("Content-Length")
        chunks: Iterator[bytes]
        if self.command == "HEAD" or response.status in (204, 304):
            length, chunks = 0, iter(())
        elif declared is None:  # chunked upstream: read it all to say how long it is
            data = response.read()
            length, chunks = len(data), iter([data])
        else:
            length, chunks = int(declared), iter(lambda: response.read(_CHUNK), b"")
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        head_length = declared or "0"
        self.send_header("Content-Length", head_length if self.command == "HEAD" else str(length))
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        budget = length // 2 if truncate else length
        sent = 0
        for chunk in chunks:
            chunk = chunk[: budget - sent]
            if not chunk:
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        return sent
