"""A :class:`~octstore.Store` over HTTP, as a WSGI application (werkzeug; extra ``serve``).

:func:`make_app` serves::

    GET  /<handle>    the content, as a download (HEAD: the same headers, no body)
    POST /            a multipart/form-data upload, field "file"; answers {"handle": ...}

Downloads follow werkzeug's ``send_file``: ``Content-Type`` from the handle's file name,
``Content-Length``, ``Last-Modified`` (when the content was first stored), ``ETag`` (its
SHA-256), ``Accept-Ranges: bytes`` and ``206 Partial Content`` for ranges (read from the
backend by range, not whole), ``304``/``412`` for conditional requests
(evaluated in RFC 9110 section 13.2.2's order, ``If-Unmodified-Since`` included), and
``Content-Disposition: attachment`` with an ASCII ``filename`` then an RFC 8187
``filename*``. Every response carries ``X-Content-Type-Options: nosniff``, and downloads a
``Content-Security-Policy`` that forbids running anything, so a stored page or script is
only ever a download. A malformed handle is ``400``, an unknown one ``404``.

Who may upload and read is an :class:`~octstore.store.access.Access`: bearer tokens
(``Authorization: Bearer <token>``) with upload or read rights, and expiring signed links
(``?expires=...&signature=...``) for single handles. A request without a valid token is
``401`` with ``WWW-Authenticate`` (the same answer for a missing and a wrong token); a read
token's upload, and an invalid or expired link, ``403``. A host application can plug its own
login in with ``authorize(request) -> bool``. Uploads run at most ``max_concurrent_uploads``
at a time (``503`` beyond), each at most ``max_upload_bytes`` (``413``).

:func:`serve` runs werkzeug's development server. In production, give :func:`make_app`'s
application to a WSGI server such as gunicorn (see the "Attachment store" docs page).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

try:
    from werkzeug.exceptions import (
        HTTPException,
        MethodNotAllowed,
        RequestedRangeNotSatisfiable,
    )
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
    from werkzeug.serving import make_server as _make_server
    from werkzeug.utils import get_content_type
    from werkzeug.wrappers import Request, Response
    from werkzeug.wsgi import FileWrapper
except ImportError as error:  # pragma: no cover - depends on the installed extras
    from octstore.errors import BackendNotInstalledError

    raise BackendNotInstalledError(
        "octstore.http (and 'octstore serve') needs werkzeug: pip install 'octstore[serve]'"
    ) from error

from octstore.errors import ConfigError, InvalidHandleError, NotFoundError, OctstoreError
from octstore.http_headers import content_disposition
from octstore.http_preconditions import failed_precondition, without_preconditions
from octstore.location import content_type
from octstore.redaction import RedactingFilter, get_logger
from octstore.store import Store
from octstore.store.access import Access, check_exposure
from octstore.store.handles import split_handle

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "DEFAULT_MAX_CONCURRENT_UPLOADS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "content_disposition",
    "make_app",
    "make_server",
    "route",
    "serve",
]

#: The largest upload :func:`make_app` accepts unless told otherwise: 100 MiB.
DEFAULT_MAX_UPLOAD_BYTES = 100 * 2**20
#: The most uploads :func:`make_app` stores at once unless told otherwise.
DEFAULT_MAX_CONCURRENT_UPLOADS = 8
#: Seconds :func:`make_server` waits for a client that sends nothing (a stalled upload, an
#: idle connection) before it drops it, freeing its upload slot.
DEFAULT_READ_TIMEOUT = 60.0
#: Bytes read from the store at a time while sending content.
_BUFFER_SIZE = 2**16
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="octstore"'}
_DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-cache",
}

logger = get_logger(__name__)


def make_app(
    store: Store,
    *,
    max_upload_bytes: int | None = DEFAULT_MAX_UPLOAD_BYTES,
    read_only: bool = False,
    access: Access | None = None,
    authorize: Callable[[Request], bool] | None = None,
    max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT_UPLOADS,
) -> WSGIApplication:
    """A WSGI application serving ``store``: ``GET``/``HEAD /<handle>`` and ``POST /``.

    Args:
        store: The store.
        max_upload_bytes: The largest request body an upload may have (larger ones get
            ``413``); None for no limit.
        read_only: Refuse uploads (``405``).
        access: The tokens and link secret (``Access.from_config(name)`` reads a configured
            store's); by default none, so anyone who reaches the app may upload and read.
        authorize: A host application's own check, asked about each request that no token
            or link already allows: uploads, and reads when they are protected (or every
            request, when given). True lets the request through.
        max_concurrent_uploads: The most uploads stored at once (``503`` beyond).

    Examples:
        >>> import tempfile
        >>> from werkzeug.test import Client
        >>> store = Store(tempfile.mkdtemp())
        >>> handle = store.add("memo.txt", b"Feed the cats!")
        >>> response = Client(make_app(store)).get(f"/{handle}", headers={"Range": "bytes=0-3"})
        >>> response.status_code, response.data
        (206, b'Feed')
    """
    return _App(
        store,
        max_upload_bytes=max_upload_bytes,
        read_only=read_only,
        access=access or Access(),
        authorize=authorize,
        max_concurrent_uploads=max_concurrent_uploads,
    )


def route(store: Store, handle: str) -> WSGIApplication:
    """A WSGI application serving ``handle``'s content whatever the request's path, to mount
    in another application (Flask, Django ...) at a route of its own.

    A malformed ``handle`` raises here; an unknown one answers ``404``.

    Raises:
        InvalidHandleError: If ``handle`` is not a handle.
    """
    split_handle(handle)
    app = _App(store, max_upload_bytes=0, read_only=True, access=Access())

    def serve_handle(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            response = app.error(MethodNotAllowed(["GET", "HEAD"]), environ)
        else:
            response = app.download(request, handle)
        response.headers.update(_SECURITY_HEADERS)
        return response(environ, start_response)

    return serve_handle


def make_server(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    **options: Any,
) -> BaseWSGIServer:
    """werkzeug's development server for :func:`make_app` (``options`` are its keyword
    arguments), bound but not yet serving: call ``serve_forever()`` (and ``shutdown()`` from
    another thread). Port 0 picks a free port: read it from ``server_port``. Requests are
    served in threads; werkzeug's request log is redacted (a link's signature is ``***``).
    A client that sends nothing for ``read_timeout`` seconds (None: no limit) is dropped: a
    stalled upload cannot keep its slot (of ``max_concurrent_uploads``) for ever; one that
    sends a byte now and then can, as long as it keeps doing so (a WSGI server's worker
    timeout, gunicorn's ``--timeout``, bounds a whole request).

    Raises:
        ConfigError: Before binding, if ``host`` is not loopback and uploads are on with no
            upload token and no ``authorize`` (public reads there only warn), or if
            ``read_timeout`` is not above 0.
    """
    if read_timeout is not None and not read_timeout > 0:
        raise ConfigError(f"read_timeout={read_timeout!r} is invalid: give seconds above 0")
    access = options.get("access") or Access()
    guarded = options.get("authorize") is not None
    check_exposure(
        host,
        uploads=not options.get("read_only", False),
        uploads_protected=guarded or access.uploads_are_protected,
        reads_protected=guarded or access.reads_are_protected,
    )
    logging.getLogger("werkzeug").addFilter(_REDACTING)
    app = make_app(store, **options)
    try:
        handler = type("TimedRequestHandler", (WSGIRequestHandler,), {"timeout": read_timeout})
        return _make_server(host, port, app, threaded=True, request_handler=handler)
    except SystemExit as exit:  # werkzeug prints why it cannot bind, and exits
        reason = getattr(exit.__context__, "strerror", None) or "the address is not usable"
        raise OctstoreError(
            f"cannot listen on {host}:{port}: {reason}: choose another host or port"
        ) from None


def serve(store: Store, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve ``store`` with werkzeug's development server until interrupted (``options``
    as for :func:`make_app`; the same checks as :func:`make_server`).

    For development and small internal use; in production run :func:`make_app` under a
    WSGI server such as gunicorn.
    """
    server = make_server(store, host, port, **options)
    logger.warning(
        "serving %s on http://%s:%d/ with werkzeug's development server; in production, "
        "run octstore.http.make_app under a WSGI server such as gunicorn",
        store.url,
        host,
        server.server_port,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


_REDACTING = RedactingFilter()


class _App:
    """The application :func:`make_app` returns."""

    def __init__(
        self,
        store: Store,
        *,
        max_upload_bytes: int | None,
        read_only: bool,
        access: Access,
        authorize: Callable[[Request], bool] | None = None,
        max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT_UPLOADS,
    ) -> None:
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.read_only = read_only
        self.access = access
        self.authorize = authorize
        self.uploads = threading.BoundedSemaphore(max_concurrent_uploads)

    def __repr__(self) -> str:
        return f"<octstore.http app for {self.store.url}, {self.access!r}>"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_upload_bytes
        try:
            response = self.refusal(request) or self.dispatch(request)
        except HTTPException as error:
            response = self.error(error, environ)
        response.headers.update(_SECURITY_HEADERS)
        return response(environ, start_response)

    def refusal(self, request: Request) -> Response | None:
        """The ``401``/``403`` answer to a request its token, link or the host's
        ``authorize`` does not allow; None for one that may go on."""
        needed = "upload" if request.method == "POST" else "read"
        if needed == "read" and ("signature" in request.args or "expires" in request.args):
            expires, signature = request.args.get("expires", ""), request.args.get("signature", "")
            if self.access.link_is_valid(request.path[1:], expires, signature):
                return None
            return _text(403, "this link is not valid, or has expired: ask for a new one")
        protected = self.access.uploads_are_protected
        if needed == "read":
            protected = self.access.reads_are_protected
        if not protected and self.authorize is None:
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        granted = self.access.grants(token.strip()) if scheme.lower() == "bearer" else None
        if granted in ("upload", needed):
            return None
        if self.authorize is not None and self.authorize(request):
            return None
        if granted == "read":
            return _text(403, "this token may read, not upload")
        return _text(401, "send a token: Authorization: Bearer <token>", _CHALLENGE)

    def dispatch(self, request: Request) -> Response:
        methods = ["GET", "HEAD"] if self.read_only else ["GET", "HEAD", "POST"]
        if request.path == "/":
            if request.method == "POST" and not self.read_only:
                return self.upload(request)
            if request.method in ("GET", "HEAD"):
                return _text(404, "give a handle: GET /<sha256>/<file name>")
            raise MethodNotAllowed(methods)
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(["GET", "HEAD"])
        return self.download(request, request.path[1:])

    def download(self, request: Request, handle: str) -> Response:
        """The content of ``handle`` as werkzeug's ``send_file`` would send a file."""
        try:
            digest, name = split_handle(handle)
            stored = self.store.info(handle)
            file = None if request.method == "HEAD" else self.store.open(handle)
        except InvalidHandleError:
            return _text(400, "not a handle: handles are <sha256 hex>/<file name>")
        except NotFoundError:
            return _text(404, "no such attachment")
        except OctstoreError:
            logger.exception("reading %s from %s failed", handle, self.store.url)
            return _text(502, "the storage backend failed; try again")
        body: Any = FileWrapper(file, _BUFFER_SIZE) if file is not None else []
        response = Response(body, direct_passthrough=True)
        response.headers["Content-Type"] = get_content_type(content_type(name), "utf-8")
        response.headers.update(_DOWNLOAD_HEADERS)
        response.headers["Content-Disposition"] = content_disposition(name)
        response.content_length = stored.size
        if stored.created is not None:
            response.last_modified = stored.created
        response.set_etag(digest)
        failed = failed_precondition(request, digest, stored.created)
        if failed is not None:
            response.close()  # the body is never sent; release the file now
            if failed == 412:
                return _text(412, "the attachment does not match If-Match/If-Unmodified-Since")
            response.status_code = 304
            return response
        try:
            # The preconditions are settled: werkzeug serves the range (and If-Range).
            response.make_conditional(
                without_preconditions(request.environ),
                accept_ranges=True,
                complete_length=stored.size,
            )
        except RequestedRangeNotSatisfiable as error:
            response.close()
            return self.error(error, request.environ)
        # make_conditional adds Date, which WSGI servers add themselves (werkzeug's then
        # sends two).
        del response.headers["Date"]
        return response

    def upload(self, request: Request) -> Response:
        """Store the one file of a multipart/form-data request, unless too many are being
        stored already; answer its handle."""
        if not self.uploads.acquire(blocking=False):
            response = _text(503, "too many uploads at once: try again shortly")
            response.headers["Retry-After"] = "1"
            return response
        try:
            return self.store_upload(request)
        finally:
            self.uploads.release()

    def store_upload(self, request: Request) -> Response:
        """Store the one file of a multipart/form-data request; answer its handle."""
        if request.mimetype != "multipart/form-data":
            return _text(415, "upload with multipart/form-data, the file in a field named 'file'")
        uploads = request.files.getlist("file")
        if len(uploads) != 1:
            return _text(400, "send exactly one file, in a multipart field named 'file'")
        upload = uploads[0]
        try:
            handle = self.store.add(upload.filename or "attachment", upload.stream)
        except OctstoreError:
            logger.exception("storing an upload in %s failed", self.store.url)
            return _text(502, "the storage backend failed; try again")
        finally:
            upload.close()
        response = Response(json.dumps({"handle": handle}), status=201, mimetype="application/json")
        response.headers["Location"] = "/" + quote(handle)
        return response

    def error(self, error: HTTPException, environ: WSGIEnvironment) -> Response:
        """A plain-text response for ``error``, with the headers it needs (``Allow``,
        ``Content-Range`` ...)."""
        response = _text(error.code or 500, f"{error.name}: {error.description}")
        for name, value in error.get_headers(environ):
            if name.lower() != "content-type":
                response.headers[name] = value
        return response


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status=status, headers=headers, mimetype="text/plain")
