"""Hostile input to the attachment store and its HTTP server writes nothing outside its root.

Attachment names that climb out (``../../etc/passwd``, absolute paths, backslashes, NUL and
control characters, look-alikes of ``/``, ``..`` variants, names longer than any system
allows) go through ``Store.add`` and the HTTP upload; crafted handles through
``Store.open/info/fetch/delete`` and ``GET /<handle>``. Each gets a clear error or a safely
sanitised name, and no file appears outside the store's root or the fetch directory. Served
file names never add a header: the raw bytes of real responses on loopback are checked. And
a local store never follows a symbolic link out of its root, for reads, writes or deletes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from werkzeug.http import parse_options_header

from octstore import AccessDeniedError, InvalidHandleError, Store
from octstore.http import make_server
from octstore.store.handles import split_handle
from tests.conftest import Backend
from tests.reliability.figures import FIGURES

CONTENT = b"hostile attachments"
DIGEST = hashlib.sha256(CONTENT).hexdigest()
SECRET = b"outside the store: never served"

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\system32\\x.dll",
    "C:\\fakepath\\x.pdf",
    "..",
    ".",
    "...",
    ". .",
    "..\u200b",
    "a\x00b.txt",
    "\x00",
    "a\x1b[31mred\x7f.txt",
    "a\r\nSet-Cookie: x=1.txt",
    "tab\there.txt",
    "\u2215etc\u2215passwd",  # division slash
    "\uff0e\uff0e\uff0fetc\uff0fpasswd",  # fullwidth full stops and solidus
    "\u2044..\u2044x",  # fraction slash
    "evil\u202egpj.exe",  # right-to-left override
    "a\u2028b\u2029c\u0085d.txt",
    "CON.txt",
    "x" * 10_000,
    "é" * 300 + ".pdf",
    "",
    " ",
]

CRAFTED_HANDLES = [
    f"{DIGEST}/../x",
    f"{DIGEST}/..",
    f"{DIGEST}/.",
    f"../{DIGEST}/x",
    f"/{DIGEST}/x",
    f"{DIGEST}/a/b",
    f"{DIGEST}/a\\b",
    f"{DIGEST}/a\x00",
    f"{DIGEST}/a\r\nSet-Cookie: x=1",
    f"{DIGEST.upper()}/x",
    f"{DIGEST[:-1]}/x",
    f"{DIGEST}/" + "x" * 300,
    f"{DIGEST}/",
    DIGEST,
    "/etc/passwd",
    "../../etc/passwd",
    "",
]

CRAFTED_PATHS = [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    f"/{DIGEST}/..%2f..%2fetc%2fpasswd",
    f"/{DIGEST}/%2e%2e",
    f"/{DIGEST}/a%00b",
    f"/{DIGEST}/a%0d%0aSet-Cookie:%20x=1",
    f"/{DIGEST}%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd",
    f"/{DIGEST}/a/b",
]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (links as where they point), with its bytes."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            files[str(path)] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            files[str(path)] = path.read_bytes()
    return files


@pytest.fixture
def local_store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "store"))


def _outside(tmp_path: Path, store: Store, downloads: Path) -> dict[str, bytes]:
    """Every file under ``tmp_path`` but in the store's root or the download directory."""
    return {
        path: data
        for path, data in tree(tmp_path).items()
        if not path.startswith((store.url + os.sep, str(downloads) + os.sep))
    }


def _safe(name: str) -> None:
    assert name
    assert not re.search(r"[/\\\x00-\x1f\x7f]", name)
    assert name.strip(".") != ""
    assert len(name.encode("utf-8")) <= 255


# --- names and handles --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_hostile_names_are_sanitised_and_fetch_writes_only_into_its_directory(
    backend: Backend, tmp_path: Path
) -> None:
    store = Store(backend.url("store"), backend.storage_options)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    before = _outside(tmp_path, store, downloads)
    for name in HOSTILE_NAMES:
        handle = store.add(name, CONTENT)
        _, kept = split_handle(handle)
        _safe(kept)
        fetched = Path(store.fetch(handle, downloads))
        assert fetched.parent == downloads
        assert fetched.read_bytes() == CONTENT
        assert kept in store.info(handle).names
        FIGURES.add("hostile_inputs", "hostile attachment names")
    assert _outside(tmp_path, store, downloads) == before
    assert [item.sha256 for item in store.list()] == [DIGEST]


@pytest.mark.parametrize("handle", CRAFTED_HANDLES, ids=repr)
def test_a_crafted_handle_is_refused_everywhere_and_changes_nothing(
    local_store: Store, tmp_path: Path, handle: str
) -> None:
    local_store.add("x", CONTENT)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    before = tree(tmp_path)
    for use in (
        local_store.info,
        local_store.open,
        local_store.delete,
        lambda h: local_store.fetch(h, downloads),
        lambda h: local_store.gc({h}, grace=timedelta(0)),
    ):
        with pytest.raises(InvalidHandleError, match="not a store handle"):
            use(handle)
    assert handle not in local_store
    assert tree(tmp_path) == before
    FIGURES.add("hostile_inputs", "crafted handles")


# --- over HTTP: a real server on loopback, raw bytes --------------------------------------


@pytest.fixture
def server(local_store: Store) -> Iterator[tuple[str, int]]:
    httpd = make_server(local_store, "127.0.0.1", 0, max_upload_bytes=2**20)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield "127.0.0.1", httpd.server_port
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def exchange(address: tuple[str, int], request: bytes) -> tuple[int, list[bytes], bytes]:
    """Send raw ``request`` bytes; the status, the raw header lines and the body."""
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    return int(status_line.split()[1]), lines, body


def get(address: tuple[str, int], path: str) -> tuple[int, list[bytes], bytes]:
    return exchange(
        address, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )


def upload(address: tuple[str, int], filename: bytes) -> tuple[int, list[bytes], bytes]:
    boundary = uuid.uuid4().hex.encode()
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + CONTENT + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return exchange(address, head + body)


def assert_headers_clean(lines: list[bytes]) -> None:
    """Every header line is one well-formed header that octstore meant to send."""
    for line in lines:
        assert re.fullmatch(rb"[!-9;-~]+: [ -~]*", line), line
    names = [line.split(b":", 1)[0].lower() for line in lines]
    assert b"set-cookie" not in names
    assert b"x-injected" not in names
    assert names.count(b"content-disposition") <= 1


HEADER_BREAKERS = [
    'a"\r\nSet-Cookie: x=1.txt',
    "a\rSet-Cookie: x=1.txt",
    "a\nX-Injected: 1.txt",
    'a"; filename="evil.exe',
    "a; filename*=UTF-8''evil.exe",
    'a\\"; x="y.txt',
    "a\u2028X-Injected: 1\u2029.txt",
    "a\x85X-Injected: 1.txt",
    "a%0d%0aX-Injected: 1.txt",
    "Ä\r\nX-Injected: ü.txt",
]


@pytest.mark.parametrize("name", HEADER_BREAKERS, ids=repr)
def test_served_names_never_add_a_header_in_the_raw_response(
    local_store: Store, server: tuple[str, int], name: str
) -> None:
    handle = local_store.add(name, CONTENT)

    status, lines, body = get(server, "/" + quote(handle))

    assert (status, body) == (200, CONTENT)
    assert_headers_clean(lines)
    dispositions = [line for line in lines if line.lower().startswith(b"content-disposition:")]
    assert len(dispositions) == 1
    disposition, options = parse_options_header(dispositions[0].split(b": ", 1)[1].decode())
    assert (disposition, options) == ("attachment", {"filename": split_handle(handle)[1]})
    FIGURES.add("hostile_inputs", "header injection through served file names")


@pytest.mark.parametrize(
    "filename",
    [name.encode("utf-8") for name in HOSTILE_NAMES if name and "\x00" not in name]
    + [b"../../etc/passwd\x00.txt", b'a\\"; filename=\\"evil.exe'],
    ids=repr,
)
def test_an_upload_with_a_hostile_file_name_stores_a_safe_name_and_nothing_outside(
    local_store: Store, server: tuple[str, int], tmp_path: Path, filename: bytes
) -> None:
    before = {p: d for p, d in tree(tmp_path).items() if not p.startswith(local_store.url)}

    status, lines, body = upload(server, filename)

    assert_headers_clean(lines)
    assert status in (201, 400), body
    if status == 201:
        _, name = split_handle(json.loads(body)["handle"])
        _safe(name)
    assert {p: d for p, d in tree(tmp_path).items() if not p.startswith(local_store.url)} == before
    FIGURES.add("hostile_inputs", "hostile upload file names")


@pytest.mark.parametrize("path", CRAFTED_PATHS, ids=repr)
def test_a_crafted_download_path_is_a_client_error(
    local_store: Store, server: tuple[str, int], path: str
) -> None:
    local_store.add("x", CONTENT)

    status, lines, body = get(server, path)

    assert status in (400, 404), body
    assert CONTENT not in body
    assert b"root:" not in body
    assert_headers_clean(lines)
    FIGURES.add("hostile_inputs", "crafted download paths")


# --- symbolic links out of a local store's root -------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store, holding a secret under the name the object would have."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / DIGEST).write_bytes(SECRET)
    (directory / "victim.txt").write_bytes(SECRET)
    return directory


def _refuses_every_way(store: Store, server: tuple[str, int], tmp_path: Path) -> None:
    handle = f"{DIGEST}/x.txt"
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    for use in (
        store.info,
        store.open,
        store.datafile,
        store.delete,
        lambda h: store.fetch(h, downloads),
        lambda h: store.add("x.txt", CONTENT),
    ):
        with pytest.raises(AccessDeniedError, match="leads out of the store"):
            use(handle)
    assert handle not in store
    assert DIGEST not in [item.sha256 for item in store.list()]
    store.gc(set(), grace=timedelta(0))
    status, _, body = get(server, "/" + handle)
    assert status >= 400
    assert SECRET not in body
    assert list(downloads.iterdir()) == []
    FIGURES.add("hostile_inputs", "symbolic links out of a store")


def test_an_object_that_is_a_link_out_of_the_root_is_never_followed(
    local_store: Store, server: tuple[str, int], tmp_path: Path, outside: Path
) -> None:
    local_store.add("x.txt", CONTENT)
    target = Path(local_store.url) / DIGEST[:2] / DIGEST[2:4] / DIGEST
    target.unlink()
    target.symlink_to(outside / "victim.txt")
    before = tree(outside)

    _refuses_every_way(local_store, server, tmp_path)

    assert tree(outside) == before
    assert target.is_symlink()


def test_a_shard_directory_that_is_a_link_out_of_the_root_is_never_followed(
    local_store: Store, server: tuple[str, int], tmp_path: Path, outside: Path
) -> None:
    local_store.add("x.txt", CONTENT)
    shard = Path(local_store.url) / DIGEST[:2]
    for path in sorted(shard.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    shard.rmdir()
    (outside / DIGEST[2:4]).mkdir()
    (outside / DIGEST[2:4] / DIGEST).write_bytes(CONTENT)  # what gc would delete
    shard.symlink_to(outside)
    before = tree(outside)

    _refuses_every_way(local_store, server, tmp_path)

    assert tree(outside) == before


def test_a_claims_directory_that_is_a_link_out_of_the_root_is_never_emptied(
    local_store: Store, tmp_path: Path, outside: Path
) -> None:
    handle = local_store.add("x.txt", CONTENT)
    (Path(local_store.url) / ".claims").symlink_to(outside)
    before = tree(outside)

    for use in (
        lambda: local_store.gc(set(), grace=timedelta(0)),
        lambda: local_store.delete(handle),
    ):
        with pytest.raises(AccessDeniedError, match="leads out of the store"):
            use()

    assert tree(outside) == before
    with local_store.open(handle) as f:
        assert f.read() == CONTENT
    FIGURES.add("hostile_inputs", "symbolic links out of a store")


def test_a_link_inside_the_root_and_a_root_that_is_a_link_are_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    store = Store(str(tmp_path / "link"))
    handle = store.add("x.txt", CONTENT)

    with store.open(handle) as f:
        assert f.read() == CONTENT
    assert store.gc(set(), grace=timedelta(0)).deleted[0].sha256 == DIGEST
