"""Serving a store over HTTP: werkzeug's test client, then a real server on loopback with curl.

Both on a local store and an S3 (moto) store.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from werkzeug.test import Client

from octstore import InvalidHandleError, Store
from octstore.http import make_app, make_server, route
from tests.conftest import Backend

pytestmark = pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)

CONTENT = b"Feed the cats!"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
LIMIT = 64 * 1024
HOSTILE = 'a"\r\nSet-Cookie: x=1.txt'


@pytest.fixture
def store(backend: Backend) -> Store:
    return Store(backend.url("attachments"), backend.storage_options)


@pytest.fixture
def client(store: Store) -> Client:
    return Client(make_app(store, max_upload_bytes=LIMIT))


@pytest.fixture
def server(store: Store) -> Iterator[str]:
    """A real werkzeug server for the store on a free loopback port; its base URL."""
    httpd = make_server(store, "127.0.0.1", 0, max_upload_bytes=LIMIT)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@dataclass
class Reply:
    status: int
    header_lines: list[str]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return values[0] if values else None

    def headers(self, name: str) -> list[str]:
        prefix = name.lower() + ":"
        return [
            line.split(":", 1)[1].strip()
            for line in self.header_lines
            if line.lower().startswith(prefix)
        ]


def curl(url: str, *args: str, tmp_path: Path) -> Reply:
    """One request by curl; its status, raw header lines and body."""
    body = tmp_path / f"curl-body-{time.monotonic_ns()}"
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--dump-header",
            "-",
            "--output",
            str(body),
            *args,
            url,
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    lines = result.stdout.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    data = body.read_bytes() if body.exists() else b""  # curl writes no file for no body
    return Reply(status, [line for line in lines[1:] if line], data)


def path_of(handle: str) -> str:
    return "/" + quote(handle)


# --- werkzeug's test client ---------------------------------------------------------------


def test_get_sends_the_content_as_a_download(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)
    created = store.info(handle).created
    assert created is not None

    response = client.get(path_of(handle))

    assert response.status_code == 200
    assert response.data == CONTENT
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["ETag"] == f'"{DIGEST}"'
    assert response.headers["Last-Modified"] == format_datetime(created, usegmt=True)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=memo.txt; filename*=UTF-8''memo.txt"
    )


def test_head_sends_the_headers_without_the_body(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.head(path_of(handle))

    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["ETag"] == f'"{DIGEST}"'


@pytest.mark.parametrize(
    ("range_header", "expected", "content_range"),
    [
        ("bytes=0-3", b"Feed", "bytes 0-3/14"),
        ("bytes=5-7", b"the", "bytes 5-7/14"),
        ("bytes=-5", b"cats!", "bytes 9-13/14"),
        ("bytes=9-", b"cats!", "bytes 9-13/14"),
    ],
)
def test_range_requests_get_partial_content(
    store: Store, client: Client, range_header: str, expected: bytes, content_range: str
) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.get(path_of(handle), headers={"Range": range_header})

    assert response.status_code == 206
    assert response.data == expected
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(expected))


def test_unsatisfiable_range_is_416(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.get(path_of(handle), headers={"Range": "bytes=100-200"})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */14"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_if_none_match_with_the_hash_is_304(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.get(path_of(handle), headers={"If-None-Match": f'"{DIGEST}"'})

    assert response.status_code == 304
    assert response.data == b""


def test_if_modified_since_creation_is_304(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)
    last_modified = client.head(path_of(handle)).headers["Last-Modified"]

    response = client.get(path_of(handle), headers={"If-Modified-Since": last_modified})

    assert response.status_code == 304


def test_if_match_with_another_hash_is_412(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.get(path_of(handle), headers={"If-Match": f'"{"0" * 64}"'})

    assert response.status_code == 412
    assert CONTENT not in response.data


def test_if_range_with_another_hash_sends_everything(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    response = client.get(
        path_of(handle), headers={"Range": "bytes=0-3", "If-Range": f'"{"0" * 64}"'}
    )

    assert response.status_code == 200
    assert response.data == CONTENT


def test_non_ascii_names_get_an_ascii_filename_and_a_utf8_one(store: Store, client: Client) -> None:
    handle = store.add("Prüfbericht März.pdf", CONTENT)

    response = client.get(path_of(handle))

    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Prufbericht Marz.pdf"; '
        "filename*=UTF-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf"
    )


def test_stored_pages_are_downloads_that_cannot_run(store: Store, client: Client) -> None:
    handle = store.add("page.html", b"<script>alert(1)</script>")

    response = client.get(path_of(handle))

    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_upload_stores_the_file_and_answers_its_handle(store: Store, client: Client) -> None:
    response = client.post(
        "/", data={"file": (io.BytesIO(CONTENT), "memo.txt")}, content_type="multipart/form-data"
    )

    assert response.status_code == 201
    assert response.json == {"handle": f"{DIGEST}/memo.txt"}
    assert response.headers["Location"] == f"/{DIGEST}/memo.txt"
    assert client.get(response.headers["Location"]).data == CONTENT


def test_upload_of_a_hostile_name_stores_a_safe_one(store: Store, client: Client) -> None:
    boundary = "octstore-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="..\\\\..\\\\a\\";'
            f' Set-Cookie: x=1.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + CONTENT
        + f"\r\n--{boundary}--\r\n".encode()
    )

    response = client.post("/", data=body, content_type=f"multipart/form-data; boundary={boundary}")

    assert response.status_code == 201
    _, name = response.json["handle"].split("/", 1)
    assert set(name) & set('/\\"\r\n') == set()
    download = client.get(path_of(response.json["handle"]))
    assert "Set-Cookie" not in download.headers


def test_upload_over_the_limit_is_413_and_stores_nothing(store: Store, client: Client) -> None:
    response = client.post(
        "/",
        data={"file": (io.BytesIO(b"x" * (LIMIT + 1)), "big.bin")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 413
    assert store.list() == []


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"other": [(CONTENT, "memo.txt")]},
        {"file": [(b"a", "a"), (b"b", "b")]},
    ],
)
def test_upload_needs_exactly_one_file_field(
    store: Store, client: Client, fields: dict[str, list[tuple[bytes, str]]]
) -> None:
    data = {
        name: [(io.BytesIO(body), filename) for body, filename in files]
        for name, files in fields.items()
    }

    response = client.post("/", data=data, content_type="multipart/form-data")

    assert response.status_code == 400
    assert store.list() == []


def test_upload_that_is_not_multipart_is_415(client: Client) -> None:
    response = client.post("/", data=CONTENT, content_type="application/octet-stream")

    assert response.status_code == 415


def test_unknown_handles_are_404(client: Client) -> None:
    response = client.get(f"/{'0' * 64}/memo.txt")

    assert response.status_code == 404
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/memo.txt",
        f"/{DIGEST}",
        f"/{DIGEST}/",
        f"/{DIGEST}/../../etc/passwd",
        f"/{DIGEST}/a%2Fb.txt",
        f"/{DIGEST}/a%0D%0ASet-Cookie:%20x=1",
        f"/{DIGEST.upper()}/memo.txt",
        "/../../etc/passwd",
    ],
)
def test_malformed_handles_are_400(store: Store, client: Client, path: str) -> None:
    store.add("memo.txt", CONTENT)

    response = client.get(path)

    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers


def test_other_methods_are_405(store: Store, client: Client) -> None:
    handle = store.add("memo.txt", CONTENT)

    for method in ("PUT", "DELETE", "POST"):
        response = client.open(path_of(handle), method=method)
        assert response.status_code == 405
        assert "GET" in response.headers["Allow"]
    assert handle in store


def test_read_only_apps_refuse_uploads(store: Store) -> None:
    client = Client(make_app(store, read_only=True))

    response = client.post(
        "/", data={"file": (io.BytesIO(CONTENT), "memo.txt")}, content_type="multipart/form-data"
    )

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert store.list() == []


def test_route_serves_one_handle_at_any_path(store: Store) -> None:
    handle = store.add("memo.txt", CONTENT)
    client = Client(route(store, handle))

    response = client.get("/anywhere/at/all", headers={"Range": "bytes=0-3"})

    assert response.status_code == 206
    assert response.data == b"Feed"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=memo.txt")
    assert client.post("/").status_code == 405


def test_route_of_a_malformed_handle_raises(store: Store) -> None:
    with pytest.raises(InvalidHandleError):
        route(store, "../../etc/passwd")


def test_route_of_an_unknown_handle_is_404(store: Store) -> None:
    client = Client(route(store, f"{'0' * 64}/memo.txt"))

    assert client.get("/").status_code == 404


# --- a real server, with curl -------------------------------------------------------------


def test_curl_downloads_with_ranges_and_conditions(
    store: Store, server: str, tmp_path: Path
) -> None:
    handle = store.add("memo.txt", CONTENT)
    url = server + path_of(handle)

    full = curl(url, tmp_path=tmp_path)
    part = curl(url, "--range", "5-7", tmp_path=tmp_path)
    unchanged = curl(url, "--header", f'If-None-Match: "{DIGEST}"', tmp_path=tmp_path)
    not_modified = curl(
        url, "--header", f"If-Modified-Since: {full.header('Last-Modified')}", tmp_path=tmp_path
    )
    head = curl(url, "--head", tmp_path=tmp_path)

    assert (full.status, full.body) == (200, CONTENT)
    assert full.header("Accept-Ranges") == "bytes"
    assert full.header("ETag") == f'"{DIGEST}"'
    assert (part.status, part.body, part.header("Content-Range")) == (206, b"the", "bytes 5-7/14")
    assert (unchanged.status, unchanged.body) == (304, b"")
    assert not_modified.status == 304
    assert (head.status, head.header("Content-Length")) == (200, "14")
    assert len(full.headers("Date")) == 1


def test_curl_uploads_and_downloads_non_ascii_names(
    store: Store, server: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.pdf"
    source.write_bytes(CONTENT)

    uploaded = curl(
        server + "/", "--form", f"file=@{source};filename=Prüfbericht März.pdf", tmp_path=tmp_path
    )
    handle = json.loads(uploaded.body)["handle"]
    download = curl(server + path_of(handle), tmp_path=tmp_path)

    assert uploaded.status == 201
    assert handle == f"{DIGEST}/Prüfbericht März.pdf"
    assert download.body == CONTENT
    assert download.header("Content-Disposition") == (
        'attachment; filename="Prufbericht Marz.pdf"; '
        "filename*=UTF-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf"
    )


def test_curl_sees_no_injected_header_from_a_hostile_name(
    store: Store, server: str, tmp_path: Path
) -> None:
    handle = store.add(HOSTILE, CONTENT)

    download = curl(server + path_of(handle), tmp_path=tmp_path)
    crafted = curl(server + f"/{DIGEST}/a%0D%0ASet-Cookie:%20x=1.txt", tmp_path=tmp_path)

    assert download.status == 200
    assert download.body == CONTENT
    for reply in (download, crafted):
        assert reply.headers("Set-Cookie") == []
        assert all(re.fullmatch(r"[!-9;-~]+: [ -~]*", line) for line in reply.header_lines)
    assert len(download.headers("Content-Disposition")) == 1
    assert download.header("Content-Disposition") == (
        'attachment; filename="a___Set-Cookie_ x=1.txt"; '
        "filename*=UTF-8''a___Set-Cookie_%20x%3D1.txt"
    )
    assert crafted.status == 400


def test_curl_upload_over_the_limit_is_refused(store: Store, server: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (2 * LIMIT))

    reply = curl(server + "/", "--form", f"file=@{source}", tmp_path=tmp_path)

    assert reply.status == 413
    assert store.list() == []


def test_serve_runs_werkzeugs_server_until_stopped(
    store: Store, backend: Backend, tmp_path: Path
) -> None:
    handle = store.add("memo.txt", CONTENT)
    with socket.socket() as probe:  # a free port (serve() cannot report the one it got)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "import json, sys; from octstore import Store; from octstore.http import serve; "
        "serve(Store(sys.argv[1], json.loads(sys.argv[2])), '127.0.0.1', int(sys.argv[3]))"
    )
    options = json.dumps(backend.storage_options)
    process = subprocess.Popen(
        [sys.executable, "-c", code, store.url, options, str(port)], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path_of(handle)}") as reply:
                    body = reply.read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)

    assert body == CONTENT
    assert b"development server" in stderr


def test_round_trip_of_100_handles(store: Store, server: str, tmp_path: Path) -> None:
    """Add 100 attachments, serve each over HTTP, fetch each: every byte comes back."""
    contents = {
        f"file {n:03}.txt": f"content of attachment {n}\n".encode() * 50 for n in range(100)
    }
    started = time.perf_counter()

    handles = {name: store.add(name, data) for name, data in contents.items()}
    added = time.perf_counter()
    for name, handle in handles.items():
        with urllib.request.urlopen(server + path_of(handle), timeout=30) as response:
            assert response.read() == contents[name]
    served = time.perf_counter()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for name, handle in handles.items():
        assert Path(store.fetch(handle, downloads)).read_bytes() == contents[name]
    fetched = time.perf_counter()

    assert len(set(handles.values())) == 100
    assert sorted(p.name for p in downloads.iterdir()) == sorted(contents)
    print(
        f"100-handle round trip on {store.url}: add {added - started:.2f} s, "
        f"serve {served - added:.2f} s, fetch {fetched - served:.2f} s"
    )
