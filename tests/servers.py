"""Real storage servers on loopback for the tests: moto's S3 and the GCS emulator.

Both run in this process on free ports of 127.0.0.1. The GCS emulator is made to behave like
GCS where octstore depends on it (see DESIGN.md, "Test servers"):

- it serves concurrent requests: a threading server with a deep listen backlog and one lock
  around the storage, which is not thread-safe (the stock single-threaded server with a backlog
  of 5 stalls gcsfs's batch calls for minutes);
- it enforces the generation and metageneration preconditions, so conflict tests on ``gs://``
  test something real;
- a metadata PATCH merges custom metadata and deletes keys set to null, as GCS does;
- a read pinned to a generation that is no longer the live one is 404, as GCS without object
  versioning answers.

``tests/proxy.py`` puts a counting, delaying, fault-injecting proxy in front of either.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any

# Before anything imports gcsfs: without this every bucket lookup waits ~60 s on gRPC.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
# Before anything imports moto: its request recorder writes here, not into the work tree;
# one file per process, set (not defaulted): pytest-xdist's workers inherit the controller's
# environment, and two workers sharing one file would each wipe and read the other's.
os.environ["MOTO_RECORDER_FILEPATH"] = os.path.join(
    tempfile.gettempdir(), f"octstore-moto-recording-{os.getpid()}"
)

from gcp_storage_emulator import server as gcs_server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects as gcs_objects
from gcp_storage_emulator.storage import Storage

S3_BUCKET = "octstore-test"
GCS_BUCKET = "octstore-test"
DUMMY_AWS_CREDENTIALS = {"key": "testing-key-id", "secret": "testing-secret"}


# --- S3 ---------------------------------------------------------------------------------


class S3Server:
    """moto's S3 server on a free loopback port, with its request recorder.

    One request at a time changes moto's state, as in the GCS emulator below: moto checks a
    conditional write (``If-None-Match: *``, ``If-Match``) and then makes it, with no lock
    between, so two racing writers could both succeed where S3 lets exactly one. (moto's own
    ``ThreadedMotoServer`` is this server without the lock.)
    """

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def one_at_a_time(environ: Any, start_response: Any) -> Any:
            with lock:
                return app(environ, start_response)

        self._server = make_server(
            "127.0.0.1", 0, one_at_a_time, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.environ["MOTO_RECORDER_FILEPATH"])

    @property
    def storage_options(self) -> dict[str, Any]:
        """What s3fs needs to reach this server (no region: see DESIGN.md)."""
        return {
            **DUMMY_AWS_CREDENTIALS,
            "endpoint_url": self.endpoint_url,
            "skip_instance_cache": True,
        }

    def boto3_client(self) -> Any:
        """A plain boto3 client of this server: another tool, or another writer."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=DUMMY_AWS_CREDENTIALS["key"],
            aws_secret_access_key=DUMMY_AWS_CREDENTIALS["secret"],
            region_name="us-east-1",
        )

    def _post(self, path: str) -> bytes:
        request = urllib.request.Request(self.endpoint_url + path, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body

    @staticmethod
    def content_gets(requests: list[dict[str, Any]], key: str) -> int:
        """How many of ``requests`` were GetObject of ``key`` (``bucket/key`` paths)."""
        return sum(1 for r in requests if r["method"] == "GET" and r["path"].endswith("/" + key))

    def reset(self) -> None:
        """Forget every bucket and object (moto's state is process-global)."""
        self._post("/moto-api/reset")

    @contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """Record the requests made inside the block; the list is filled when it exits."""
        requests: list[dict[str, Any]] = []
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")
        try:
            yield requests
        finally:
            self._post("/moto-api/recorder/stop-recording")
            url = self.endpoint_url + "/moto-api/recorder/download-recording"
            with urllib.request.urlopen(url, timeout=30) as response:
                lines = response.read().decode().splitlines()
            for line in lines:
                if line.strip():
                    entry = json.loads(line)
                    requests.append({**entry, **_request_record(entry["method"], entry["url"])})


def _request_record(method: str, url: str) -> dict[str, Any]:
    """One recorded request: its method, decoded path and query."""
    parsed = urllib.parse.urlsplit(url)
    return {
        "method": method,
        "path": urllib.parse.unquote(parsed.path),
        "query": urllib.parse.parse_qs(parsed.query),
    }


# --- GCS --------------------------------------------------------------------------------

_PRECONDITIONS = (
    "ifGenerationMatch",
    "ifGenerationNotMatch",
    "ifMetagenerationMatch",
    "ifMetagenerationNotMatch",
)


def _target_object(request: Any) -> tuple[str, str | None]:
    """The bucket and object a request's preconditions apply to (the destination of a copy)."""
    params = request.params or {}
    if "dest_object_id" in params:
        return params["dest_bucket_name"], params["dest_object_id"]
    name = params.get("object_id")
    if name is None and "name" in request.query:
        name = request.query["name"][0]
    if name is None and isinstance(request.data, dict):
        meta = request.data.get("meta", request.data)
        name = meta.get("name") if isinstance(meta, dict) else None
    return params["bucket_name"], name


def _failed_precondition(request: Any, storage: Any) -> str | None:
    """GCS's precondition checks: a message if one fails, else None."""
    asked = {key: int(request.query[key][0]) for key in _PRECONDITIONS if key in request.query}
    if not asked:
        return None
    bucket, name = _target_object(request)
    try:
        current = storage.get_file_obj(bucket, name) if name else None
    except NotFound:
        current = None
    generation = int(current["generation"]) if current else 0
    metageneration = int(current["metageneration"]) if current else 0
    checks = {
        "ifGenerationMatch": generation == asked.get("ifGenerationMatch", generation),
        "ifGenerationNotMatch": generation != asked.get("ifGenerationNotMatch", -1),
        "ifMetagenerationMatch": current is not None
        and metageneration == asked.get("ifMetagenerationMatch", metageneration),
        "ifMetagenerationNotMatch": metageneration != asked.get("ifMetagenerationNotMatch", -1),
    }
    failed = [key for key in asked if not checks[key]]
    if not failed:
        return None
    return f"At least one of the pre-conditions you specified did not hold: {', '.join(failed)}"


def _merge_metadata_patch(request: Any, storage: Any) -> None:
    """Make a PATCH of custom metadata merge keys and delete nulls, as GCS does."""
    body = request.data
    if not isinstance(body, dict) or "metadata" not in body:
        return
    params = request.params
    try:
        current = storage.get_file_obj(params["bucket_name"], params["object_id"])
    except NotFound:
        return
    merged = dict(current.get("metadata") or {})
    for key, value in (body["metadata"] or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if body["metadata"] is None:
        merged = {}
    current["metadata"] = merged  # the emulator only ever sets keys; clear first
    body["metadata"] = merged


def _generation_gone(request: Any, storage: Any) -> bool:
    """Whether a read asks for a generation that is not the object's live one (GCS without
    object versioning keeps only that one; the emulator would serve the live one instead)."""
    asked = request.query.get("generation")
    if not asked or "softDeleted" in request.query or request.method != "GET":
        return False
    params = request.params or {}
    try:
        current = storage.get_file_obj(params["bucket_name"], params["object_id"])
    except (KeyError, NotFound):
        return False  # the handler answers for a missing object
    return str(current["generation"]) != asked[0]


def _like_gcs(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def handle(request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any) -> Any:
        if _generation_gone(request, storage):
            response.status = HTTPStatus.NOT_FOUND
            response.json({"error": {"code": 404, "message": "No such object"}})
            return None
        failed = _failed_precondition(request, storage)
        if failed:
            response.status = HTTPStatus.PRECONDITION_FAILED
            error = {
                "code": 412,
                "message": failed,
                "errors": [{"domain": "global", "reason": "conditionNotMet", "message": failed}],
            }
            response.json({"error": error})
            return None
        if handler is gcs_objects.patch:
            _merge_metadata_patch(request, storage)
        return handler(request, response, storage, *args, **kwargs)

    handle.__wrapped_like_gcs__ = True  # type: ignore[attr-defined]
    return handle


def _multipart_upload_data(request_handler: Any, query: Any) -> Any:
    """A multipart upload's parts, cut at their boundaries as GCS cuts them. The emulator
    reads them with Python's email parser, which takes a content's last ``\r`` for the line
    break before the next boundary (gcsfs ends its lines with ``\n``): content ending in
    ``\r`` lost that byte. Other requests are the emulator's to read."""
    content_type = request_handler.headers.get("Content-Type") or ""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or boundary is None:
        return _emulator_read_data(request_handler, query)
    raw = gcs_server._decode_raw_data(gcs_server._read_raw_data(request_handler), request_handler)
    delimiter = b"--" + boundary[1].encode()
    parts = raw.split(delimiter)[1:-1]  # before the first, and the closing "--"
    newline = b"\r\n" if parts[0].startswith(b"\r\n") else b"\n"
    cut = []
    for part in parts:
        head, _, body = part[len(newline) :].partition(newline * 2)
        cut.append((head.decode(), body.removesuffix(newline)))
    (_, meta), (head, content) = cut[0], cut[1]
    kind = re.search(r"(?im)^content-type:\s*([^;\s]+)", head)
    return {
        "meta": json.loads(meta),
        "content": content,
        "content-type": kind[1] if kind else "application/octet-stream",
    }


_emulator_read_data = gcs_server._read_data


def _patch_emulator() -> None:
    """Route every object handler of the emulator through the GCS behaviour above."""
    if getattr(gcs_objects.insert, "__wrapped_like_gcs__", False):
        return
    gcs_server._read_data = _multipart_upload_data
    wrapped: dict[Callable[..., Any], Callable[..., Any]] = {}

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(handler, "__module__", None) != gcs_objects.__name__:
            return handler
        return wrapped.setdefault(handler, _like_gcs(handler))

    gcs_server.HANDLERS = tuple(
        (regex, {method: wrap(handler) for method, handler in handlers.items()})
        for regex, handlers in gcs_server.HANDLERS
    )
    gcs_objects.insert = wrap(gcs_objects.insert)  # the router's fallback for bare uploads
    # urlparse splits ";params" off a path's last segment: an object named "a;b" would be
    # read as "a". GCS takes ";" as part of the name, as urlsplit does.
    gcs_server.urlparse = urllib.parse.urlsplit


class _ConcurrentServer(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


#: Seconds a request to the GCS emulator may take, at either end, before it fails. Without a
#: bound, a request whose peer stalls blocks forever: on the server, a handler waiting for a
#: body holds the storage lock, and every other request waits behind it; in gcsfs, a GET
#: waits for a response that never comes. A failure names the request; a hang names nothing.
REQUEST_TIMEOUT = 60


class GcsServer:
    """The GCS emulator on a free loopback port, concurrent and GCS-faithful (see above)."""

    def __init__(self) -> None:
        _patch_emulator()
        self.storage = Storage(use_memory_fs=True)
        lock = threading.Lock()
        self._recorded: list[dict[str, Any]] | None = None
        harness = self

        class Handler(gcs_server.RequestHandler):
            timeout = REQUEST_TIMEOUT  # on the socket: reads and writes

            def _locked(self, method: str) -> None:
                with lock:
                    if harness._recorded is not None:
                        harness._recorded.append(_request_record(method, self.path))
                    gcs_server.Router(self).handle(method)

            def do_GET(self) -> None:
                self._locked(gcs_server.GET)

            def do_POST(self) -> None:
                self._locked(gcs_server.POST)

            def do_PUT(self) -> None:
                self._locked(gcs_server.PUT)

            def do_PATCH(self) -> None:
                self._locked(gcs_server.PATCH)

            def do_DELETE(self) -> None:
                self._locked(gcs_server.DELETE)

        self._httpd = _ConcurrentServer(("127.0.0.1", 0), functools.partial(Handler, self.storage))
        host, port = self._httpd.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="gcs-emulator", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def storage_options(self) -> dict[str, Any]:
        """What gcsfs needs to reach this server, and a bound on each request."""
        return {
            "endpoint_url": self.endpoint_url,
            "token": "anon",
            "requests_timeout": REQUEST_TIMEOUT,
            "skip_instance_cache": True,
        }

    @staticmethod
    def content_gets(requests: list[dict[str, Any]], key: str) -> int:
        """How many of ``requests`` downloaded ``key``'s content (``alt=media``, ``/download/``)."""
        return sum(
            1
            for r in requests
            if r["method"] == "GET"
            and r["path"].endswith("/o/" + key)
            and (r["path"].startswith("/download/") or r["query"].get("alt") == ["media"])
        )

    @contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """Record the requests made inside the block, as ``S3Server.recording`` does."""
        requests: list[dict[str, Any]] = []
        self._recorded = requests
        try:
            yield requests
        finally:
            self._recorded = None

    def wipe(self) -> None:
        """Delete every object, keeping the buckets."""
        with urllib.request.urlopen(self.endpoint_url + "/wipe?keep-buckets=true", timeout=30):
            pass
