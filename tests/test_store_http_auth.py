"""Only the people a store's HTTP endpoint is meant for may upload or read: bearer tokens with
upload or read rights, expiring signed links, a host application's own check, a bound on
concurrent uploads, and a refusal to open uploads to the network with no token. Run with
werkzeug's test client and with a real server on 127.0.0.1, on every backend."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from werkzeug.test import Client, EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from octstore import ConfigError, OctstoreError, OctstoreWarning, Store
from octstore.config import Config, StoreConfig
from octstore.http import make_app, make_server
from octstore.store.access import Access
from tests.conftest import Backend

CONTENT = b"Feed the cats, then the dog."
DIGEST = hashlib.sha256(CONTENT).hexdigest()
UPLOAD = "u" * 24
READ = "r" * 24
SECRET = "s" * 40
#: An address no machine here has (TEST-NET-1): binding to it would fail, so a check that
#: refuses to serve there is shown to act before binding.
UNREACHABLE = "192.0.2.1"


@pytest.fixture
def store(backend: Backend) -> Store:
    return Store(backend.url("attachments"), backend.storage_options)


@pytest.fixture
def handle(store: Store) -> str:
    return store.add("memo.txt", CONTENT)


def upload(client: Client, token: str | None = None, name: str = "new.txt") -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(
        "/",
        data={"file": (io.BytesIO(b"new content " + name.encode()), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def get(client: Client, handle: str, token: str | None = None, **headers: str) -> TestResponse:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get("/" + quote(handle), headers=headers)


def stored(store: Store) -> set[str]:
    return {item.sha256 for item in store.list()}


# --- tokens --------------------------------------------------------------------------------


def test_an_upload_without_a_token_is_401_and_stores_nothing(store: Store, handle: str) -> None:
    client = Client(make_app(store, access=Access(upload_tokens=[UPLOAD])))

    response = upload(client)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="octstore"'
    assert stored(store) == {DIGEST}


@pytest.mark.parametrize(
    "authorization", ["Bearer " + "x" * 24, "Bearer " + UPLOAD[:-1], "Basic " + UPLOAD, "Bearer"]
)
def test_a_wrong_token_gets_the_same_401_as_none(
    store: Store, handle: str, authorization: str
) -> None:
    client = Client(make_app(store, access=Access(upload_tokens=[UPLOAD])))
    none = upload(client)

    wrong = client.post(
        "/",
        data={"file": (io.BytesIO(b"x"), "x.txt")},
        content_type="multipart/form-data",
        headers={"Authorization": authorization},
    )

    assert (wrong.status_code, wrong.data) == (none.status_code, none.data) == (401, none.data)
    assert wrong.headers["WWW-Authenticate"] == none.headers["WWW-Authenticate"]
    assert UPLOAD not in wrong.get_data(as_text=True)
    assert stored(store) == {DIGEST}


def test_an_upload_token_uploads_and_reads(store: Store) -> None:
    access = Access(upload_tokens=[UPLOAD], read_tokens=[READ])
    client = Client(make_app(store, access=access))

    response = upload(client, UPLOAD)

    assert response.status_code == 201
    assert get(client, response.json["handle"], UPLOAD).data == b"new content new.txt"


def test_a_read_token_cannot_upload(store: Store, handle: str) -> None:
    client = Client(make_app(store, access=Access(upload_tokens=[UPLOAD], read_tokens=[READ])))

    response = upload(client, READ)

    assert response.status_code == 403
    assert stored(store) == {DIGEST}


def test_reads_are_open_until_read_tokens_or_protect_reads_are_set(
    store: Store, handle: str
) -> None:
    open_reads = Client(make_app(store, access=Access(upload_tokens=[UPLOAD])))
    read_tokens = Client(make_app(store, access=Access(read_tokens=[READ])))
    protected = Client(make_app(store, access=Access(protect_reads=True, link_secret=SECRET)))

    assert get(open_reads, handle).data == CONTENT
    assert get(read_tokens, handle).status_code == 401
    assert get(read_tokens, handle, "w" * 24).status_code == 401
    assert get(read_tokens, handle, READ).data == CONTENT
    assert get(protected, handle).status_code == 401
    assert protected.head("/" + quote(handle)).status_code == 401


def test_tokens_come_from_the_stores_configuration(store: Store, handle: str) -> None:
    config = Config(
        stores={
            "attachments": StoreConfig(
                url=store.url, upload_tokens=[UPLOAD], read_tokens=[READ], link_secret=SECRET
            )
        }
    )
    client = Client(make_app(store, access=Access.from_config("attachments", config=config)))

    assert upload(client).status_code == 401
    assert upload(client, UPLOAD).status_code == 201
    assert get(client, handle).status_code == 401
    assert get(client, handle, READ).data == CONTENT


def test_short_tokens_and_secrets_are_refused_without_showing_them() -> None:
    with pytest.raises(ConfigError, match="shorter than 16") as upload_error:
        Access(upload_tokens=["hunter2-secret"])
    with pytest.raises(ConfigError, match="shorter than 16") as link_error:
        Access(link_secret="hunter2-secret")

    assert "hunter2" not in str(upload_error.value) + str(link_error.value)


# --- the host application's own check ---------------------------------------------------


def test_an_authorize_hook_lets_a_host_applications_users_in(store: Store, handle: str) -> None:
    asked: list[str] = []

    def authorize(request: Request) -> bool:
        asked.append(request.method)
        return request.headers.get("X-Session") == "alice"

    client = Client(make_app(store, access=Access(upload_tokens=[UPLOAD]), authorize=authorize))

    assert upload(client).status_code == 401
    assert (
        client.post(
            "/",
            data={"file": (io.BytesIO(b"from alice"), "a.txt")},
            content_type="multipart/form-data",
            headers={"X-Session": "alice"},
        ).status_code
        == 201
    )
    assert get(client, handle).status_code == 401  # a hook guards reads too
    assert get(client, handle, **{"X-Session": "alice"}).data == CONTENT
    assert upload(client, UPLOAD).status_code == 201  # a token needs no hook
    assert asked == ["POST", "POST", "GET", "GET"]


# --- signed links --------------------------------------------------------------------------


def link_path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def protected(store: Store) -> Client:
    return Client(make_app(store, access=Access(read_tokens=[READ], link_secret=SECRET)))


def test_a_link_serves_its_handle_with_ranges_and_conditionals(
    protected: Client, handle: str
) -> None:
    link = Access(link_secret=SECRET).link(handle, timedelta(hours=1), base_url="http://x")

    whole = protected.get(link_path(link))
    ranged = protected.get(link_path(link), headers={"Range": "bytes=5-7"})
    cached = protected.get(link_path(link), headers={"If-None-Match": f'"{DIGEST}"'})

    assert (whole.status_code, whole.data) == (200, CONTENT)
    assert (ranged.status_code, ranged.data) == (206, CONTENT[5:8])
    assert cached.status_code == 304


def test_an_expired_link_is_403(protected: Client, handle: str) -> None:
    link = Access(link_secret=SECRET).link(
        handle, timedelta(hours=1), base_url="http://x", now=time.time() - 3601
    )

    response = protected.get(link_path(link))

    assert response.status_code == 403
    assert CONTENT not in response.data


def test_a_tampered_link_is_403(protected: Client, handle: str, store: Store) -> None:
    other = store.add("other.txt", b"someone else's")
    link = Access(link_secret=SECRET).link(handle, timedelta(hours=1), base_url="http://x")
    query = parse_qs(urlsplit(link).query)
    expires, signature = query["expires"][0], query["signature"][0]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")

    longer = protected.get(f"/{quote(handle)}?expires={int(expires) + 86400}&signature={signature}")
    forged = protected.get(f"/{quote(handle)}?expires={expires}&signature={flipped}")
    moved = protected.get(f"/{quote(other)}?expires={expires}&signature={signature}")
    other_key = Access(link_secret="k" * 40).link(handle, timedelta(hours=1), base_url="http://x")

    assert [r.status_code for r in (longer, forged, moved)] == [403, 403, 403]
    assert protected.get(link_path(other_key)).status_code == 403
    assert protected.get(f"/{quote(handle)}?signature={signature}").status_code == 403


def test_a_store_without_a_link_secret_accepts_no_link(store: Store, handle: str) -> None:
    link = Access(link_secret=SECRET).link(handle, timedelta(hours=1), base_url="http://x")
    client = Client(make_app(store, access=Access(read_tokens=[READ])))

    assert client.get(link_path(link)).status_code == 403
    with pytest.raises(ConfigError, match="link_secret"):
        Access().link(handle, timedelta(hours=1), base_url="http://x")


# --- a real server on 127.0.0.1 -------------------------------------------------------------


@pytest.fixture
def served(store: Store) -> Iterator[tuple[str, Any]]:
    """A real server for the store with tokens, a link secret and room for one upload at a
    time; its base URL and the server."""
    access = Access(upload_tokens=[UPLOAD], read_tokens=[READ], link_secret=SECRET)
    httpd = make_server(store, "127.0.0.1", 0, access=access, max_concurrent_uploads=1)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def fetch(url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "octstore-auth-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post(base: str, token: str | None, name: str = "posted.txt") -> int:
    body, content_type = multipart(name, b"posted")
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_real_server_checks_tokens_and_links(
    served: tuple[str, Any], handle: str, caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = served
    link = Access(link_secret=SECRET).link(handle, timedelta(minutes=5), base_url=base)
    expired = Access(link_secret=SECRET).link(
        handle, timedelta(minutes=5), base_url=base, now=time.time() - 600
    )

    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert post(base, None) == 401
        assert post(base, "w" * 24) == 401
        assert post(base, READ) == 403
        assert post(base, UPLOAD) == 201
        assert fetch(f"{base}/{quote(handle)}")[0] == 401
        assert fetch(f"{base}/{quote(handle)}", Authorization=f"Bearer {READ}")[:2] == (
            200,
            CONTENT,
        )
        assert fetch(link, Range="bytes=0-3")[:2] == (206, CONTENT[:4])
        assert fetch(expired)[0] == 403

    logged = caplog.text
    signature = parse_qs(urlsplit(link).query)["signature"][0]
    assert "GET /" in logged  # werkzeug logged the requests...
    assert signature not in logged  # ...with the link's signature redacted
    assert UPLOAD not in logged
    assert READ not in logged


class _HeldBody(io.BytesIO):
    """A request body whose first read says so and then waits until ``release`` is set: an
    upload that is being received, holding its slot, for as long as the test wants."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.reading, self.release = threading.Event(), threading.Event()

    def read(self, size: int | None = -1) -> bytes:
        self.hold()
        return super().read(size)

    def readinto(self, buffer: Any) -> int:  # how werkzeug reads a request body
        self.hold()
        return super().readinto(buffer)

    def hold(self) -> None:
        self.reading.set()
        assert self.release.wait(30), "the test never let the held upload finish"


def test_uploads_beyond_the_bound_are_answered_503_until_a_slot_frees(store: Store) -> None:
    app = make_app(store, access=Access(upload_tokens=[UPLOAD]), max_concurrent_uploads=1)
    client = Client(app)
    body, content_type = multipart("slow.txt", b"slowly sent")
    environ = EnvironBuilder(
        method="POST",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {UPLOAD}"},
    ).get_environ()
    environ["wsgi.input"] = held = _HeldBody(body)
    statuses: list[str] = []
    slow = threading.Thread(
        target=lambda: b"".join(app(environ, lambda status, headers: statuses.append(status)))
    )
    slow.start()
    try:
        assert held.reading.wait(30), "the held upload never reached the store"
        refused = upload(client, UPLOAD, "meanwhile.txt")
    finally:
        held.release.set()
        slow.join(30)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert statuses == ["201 CREATED"]
    assert upload(client, UPLOAD, "afterwards.txt").status_code == 201
    names = {name for item in store.list() for name in item.names}
    assert {"slow.txt", "afterwards.txt"} <= names
    assert "meanwhile.txt" not in names


def test_a_stalled_upload_is_dropped_after_the_read_timeout_and_frees_its_slot(
    store: Store,
) -> None:
    access = Access(upload_tokens=[UPLOAD])
    httpd = make_server(store, "127.0.0.1", 0, access=access, max_concurrent_uploads=1,
                        read_timeout=3)  # fmt: skip
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    body, content_type = multipart("stalled.txt", b"never all sent")
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {UPLOAD}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()

    def stall() -> socket.socket:
        """A client that sends the headers and a little of the body, then nothing."""
        client = socket.create_connection(("127.0.0.1", httpd.server_port), timeout=30)
        client.sendall(head + body[:20])
        return client

    stalled = stall()
    try:
        statuses: list[int] = []
        deadline = time.monotonic() + 30
        while 503 not in statuses and time.monotonic() < deadline:
            statuses.append(post(base, UPLOAD, "probe.txt"))
            # A probe that came first took the only slot, and the stalled upload was
            # answered 503 itself: stall again, until the stalled one holds the slot.
            stalled.settimeout(0.5)
            try:
                answered = stalled.recv(1024)
            except TimeoutError:
                continue
            assert answered.startswith(b"HTTP/1.1 503"), answered
            stalled.close()
            stalled = stall()
        stalled.settimeout(30)
        dropped = stalled.recv(1024)  # b"" once the server hung up, or its answer
        after = post(base, UPLOAD, "later.txt")
    finally:
        stalled.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)

    assert statuses[-1] == 503  # the stalled upload held the only slot...
    assert after == 201  # ...until the server dropped it
    assert not dropped.startswith(b"HTTP/1.1 201")
    names = {name for item in store.list() for name in item.names}
    assert "later.txt" in names
    assert "stalled.txt" not in names


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_read_timeout_that_is_not_above_zero_is_refused_before_binding(
    store: Store, timeout: float
) -> None:
    with pytest.raises(ConfigError, match=r"read_timeout=.* is invalid: give seconds above 0"):
        make_server(store, "127.0.0.1", 0, read_timeout=timeout)


# --- refusing to open a store to the network -----------------------------------------------


def test_open_uploads_on_a_network_address_are_refused_before_binding(store: Store) -> None:
    # Binding to UNREACHABLE fails ("cannot listen"): the ConfigError shows it never tried.
    with pytest.raises(ConfigError, match=r"--read-only") as refused:
        make_server(store, UNREACHABLE, 0)

    assert "upload_tokens" in str(refused.value)
    assert "--generate-token" in str(refused.value)


@pytest.mark.parametrize(
    ("options", "warned"),
    [
        ({"read_only": True}, True),
        ({"access": Access(upload_tokens=[UPLOAD])}, True),
        ({"access": Access(upload_tokens=[UPLOAD], read_tokens=[READ])}, False),
        ({"authorize": lambda request: False}, False),  # a hook guards reads too
    ],
    ids=["read-only", "upload-token", "read-token", "authorize"],
)
def test_guarded_uploads_on_a_network_address_warn_only_about_open_reads(
    store: Store, options: dict[str, Any], warned: bool
) -> None:
    with (
        warnings.catch_warnings(record=True) as caught,
        pytest.raises(OctstoreError, match="cannot listen"),  # it went on to bind, and failed
    ):
        warnings.simplefilter("always")
        make_server(store, UNREACHABLE, 0, **options)

    open_reads = [w for w in caught if "with no token" in str(w.message)]
    assert [w.category for w in open_reads] == ([OctstoreWarning] if warned else [])


def test_loopback_needs_no_token(store: Store) -> None:
    httpd = make_server(store, "127.0.0.1", 0)
    httpd.server_close()


# --- secrets stay secret -------------------------------------------------------------------


def test_reprs_and_config_dumps_show_no_token_or_secret(store: Store) -> None:
    access = Access(upload_tokens=[UPLOAD], read_tokens=[READ], link_secret=SECRET)
    config = StoreConfig(url="/x", upload_tokens=[UPLOAD], read_tokens=[READ], link_secret=SECRET)
    shown = " ".join(
        [repr(access), repr(make_app(store, access=access)), repr(config), str(config.to_dict())]
    )

    for secret in (UPLOAD, READ, SECRET):
        assert secret not in shown
    assert "upload_tokens=1" in repr(access)


# --- the command line ----------------------------------------------------------------------


def octstore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    return subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_serve_refuses_open_uploads_on_a_network_address(store: Store) -> None:
    result = octstore("serve", store.url, "--host", UNREACHABLE, "--port", "0")

    assert result.returncode == 2
    assert result.stderr.startswith("octstore: error: refusing to accept uploads on 192.0.2.1")
    assert "--read-only" in result.stderr
    assert "cannot listen" not in result.stderr  # refused before binding


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_store_link_prints_a_link_the_server_accepts(store: Store, handle: str) -> None:
    env = {
        "OCTSTORE_STORES__FILES__URL": store.url,
        "OCTSTORE_STORES__FILES__READ_TOKENS": READ,
        "OCTSTORE_STORES__FILES__LINK_SECRET": SECRET,
    }
    printed = octstore("store", "link", "files", handle, "--expires", "10m", env=env)
    as_json = octstore("store", "link", "files", handle, "--json", env=env)
    config = Config(
        stores={"files": StoreConfig(url=store.url, read_tokens=[READ], link_secret=SECRET)}
    )
    client = Client(make_app(store, access=Access.from_config("files", config=config)))

    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.strip()
    assert link.startswith(f"http://127.0.0.1:8000/{quote(handle)}?expires=")
    assert client.get(link_path(link)).data == CONTENT
    assert client.get(f"/{quote(handle)}").status_code == 401
    document = json.loads(as_json.stdout)
    assert document["handle"] == handle
    assert client.get(link_path(document["url"])).data == CONTENT
    assert SECRET not in printed.stdout + printed.stderr + as_json.stdout


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_store_link_without_a_link_secret_says_how_to_add_one(store: Store, handle: str) -> None:
    result = octstore("store", "link", store.url, handle)

    assert result.returncode == 2
    assert "add link_secret" in result.stderr
