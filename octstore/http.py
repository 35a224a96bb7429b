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

:func:`serve` runs werkzeug's development server. In production, give :func:`make_app`'s
application to a WSGI server such as gunicorn (see the "Attachment store" docs page).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

try:
    from werkzeug.exceptions import (
        HTTPException,
        MethodNotAllowed,
        RequestedRangeNotSatisfiable,
    )
    from werkzeug.http import dump_options_header, parse_date
    from werkzeug.serving import BaseWSGIServer
    from werkzeug.serving import make_server as _make_server
    from werkzeug.utils import get_content_type
    from werkzeug.wrappers import Request, Response
    from werkzeug.wsgi import FileWrapper
except ImportError as error:  # pragma: no cover - depends on the installed extras
    from octstore.errors import BackendNotInstalledError

    raise BackendNotInstalledError(
        "octstore.http (and 'octstore serve') needs werkzeug: pip install 'octstore[serve]'"
    ) from error

from octstore.errors import InvalidHandleError, NotFoundError, OctstoreError
from octstore.location import content_type
from octstore.redaction import get_logger
from octstore.store import Store
from octstore.store.handles import split_handle

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "content_disposition",
    "make_app",
    "make_server",
    "route",
    "serve",
]

#: The largest upload :func:`make_app` accepts unless told otherwise: 100 MiB.
DEFAULT_MAX_UPLOAD_BYTES = 100 * 2**20
#: Bytes read from the store at a time while sending content.
_BUFFER_SIZE = 2**16
_SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
_DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-cache",
}
# Characters RFC 8187's attr-char allows unencoded, beside letters and digits.
_ATTR_CHARS = "!#$&+-.^_`|~"

logger = get_logger(__name__)


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value for ``name``: an ASCII ``filename`` (non-ASCII
    letters stripped of accents, anything else replaced), then ``filename*`` with the
    name in UTF-8, percent-encoded (RFC 8187). Nothing in ``name`` can end the header.

    Examples:
        >>> content_disposition("Résumé 2024.pdf")
        'attachment; filename="Resume 2024.pdf"; filename*=UTF-8\\'\\'R%C3%A9sum%C3%A9%202024.pdf'
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(
        char if 0x20 <= ord(char) < 0x7F and char not in '"\\%' else "_"
        for char in decomposed
        if not unicodedata.combining(char)
    )
    return dump_options_header(
        disposition,
        {
            "filename": ascii_name or "download",
            "filename*": "UTF-8''" + quote(name, safe=_ATTR_CHARS),
        },
    )


def make_app(
    store: Store,
    *,
    max_upload_bytes: int | None = DEFAULT_MAX_UPLOAD_BYTES,
    read_only: bool = False,
) -> WSGIApplication:
    """A WSGI application serving ``store``: ``GET``/``HEAD /<handle>`` and ``POST /``.

    Args:
        store: The store.
        max_upload_bytes: The largest request body an upload may have (larger ones get
            ``413``); None for no limit.
        read_only: Refuse uploads (``405``).

    Examples:
        >>> import tempfile
        >>> from werkzeug.test import Client
        >>> store = Store(tempfile.mkdtemp())
        >>> handle = store.add("memo.txt", b"Feed the cats!")
        >>> response = Client(make_app(store)).get(f"/{handle}", headers={"Range": "bytes=0-3"})
        >>> response.status_code, response.data
        (206, b'Feed')
    """
    return _App(store, max_upload_bytes=max_upload_bytes, read_only=read_only)


def route(store: Store, handle: str) -> WSGIApplication:
    """A WSGI application serving ``handle``'s content whatever the request's path, to mount
    in another application (Flask, Django ...) at a route of its own.

    A malformed ``handle`` raises here; an unknown one answers ``404``.

    Raises:
        InvalidHandleError: If ``handle`` is not a handle.
    """
    split_handle(handle)
    app = _App(store, max_upload_bytes=0, read_only=True)

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
    max_upload_bytes: int | None = DEFAULT_MAX_UPLOAD_BYTES,
    read_only: bool = False,
) -> BaseWSGIServer:
    """werkzeug's development server for :func:`make_app`, bound but not yet serving:
    call ``serve_forever()`` (and ``shutdown()`` from another thread). Port 0 picks a free
    port: read it from ``server_port``. Requests are served in threads."""
    app = make_app(store, max_upload_bytes=max_upload_bytes, read_only=read_only)
    return _make_server(host, port, app, threaded=True)


def serve(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    max_upload_bytes: int | None = DEFAULT_MAX_UPLOAD_BYTES,
    read_only: bool = False,
) -> None:
    """Serve ``store`` with werkzeug's development server until interrupted.

    For development and small internal use; in production run :func:`make_app` under a
    WSGI server such as gunicorn.
    """
    server = make_server(store, host, port, max_upload_bytes=max_upload_bytes, read_only=read_only)
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


class _App:
    """The application :func:`make_app` returns."""

    def __init__(self, store: Store, *, max_upload_bytes: int | None, read_only: bool) -> None:
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.read_only = read_only

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_upload_bytes
        try:
            response = self.dispatch(request)
        except HTTPException as error:
            response = self.error(error, environ)
        response.headers.update(_SECURITY_HEADERS)
        return response(environ, start_response)

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
        failed = _failed_precondition(request, digest, stored.created)
        if failed is not None:
            response.close()  # the body is never sent; release the file now
            if failed == 412:
                return _text(412, "the attachment does not match If-Match/If-Unmodified-Since")
            response.status_code = 304
            return response
        try:
            # The preconditions are settled: werkzeug serves the range (and If-Range).
            response.make_conditional(
                _without_preconditions(request.environ),
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


#: The precondition headers (RFC 9110 13.1), as WSGI names them; If-Range belongs to Range.
_PRECONDITIONS = (
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
)


def _failed_precondition(
    request: Request, digest: str, last_modified: datetime | None
) -> int | None:
    """The status of a failed precondition of a GET or HEAD of an existing attachment (412
    or 304), or None, evaluated in the order of RFC 9110 section 13.2.2.

    werkzeug parses the headers (``parse_etags``, ``parse_date``); its
    ``is_resource_modified`` folds the four into one answer, so the order is kept here.
    Dates compare to the second, as they are sent.
    """
    modified = last_modified.replace(microsecond=0) if last_modified is not None else None
    if "If-Match" in request.headers:  # 1
        if not request.if_match.contains(digest):  # strong comparison; "*": it exists
            return 412
    elif (since := _date(request, "If-Unmodified-Since")) and modified and modified > since:
        return 412  # 2, evaluated only when If-Match is absent
    if "If-None-Match" in request.headers:  # 3
        if request.if_none_match.contains_weak(digest):
            return 304
    elif (since := _date(request, "If-Modified-Since")) and modified and modified <= since:
        return 304  # 4, evaluated only when If-None-Match is absent
    return None


def _date(request: Request, header: str) -> datetime | None:
    """The date in ``header``, or None when it is absent, not a valid HTTP-date or a list
    of dates (which RFC 9110 says to ignore). An HTTP-date holds at most one comma."""
    value = request.headers.get(header)
    if value is None or value.count(",") > 1:
        return None
    return parse_date(value)


def _without_preconditions(environ: WSGIEnvironment) -> WSGIEnvironment:
    return {name: value for name, value in environ.items() if name not in _PRECONDITIONS}


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")
