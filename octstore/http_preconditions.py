"""Conditional GETs of a stored attachment, as :mod:`octstore.http` serves them: RFC 9110's
preconditions (``If-Match``, ``If-Unmodified-Since``, ``If-None-Match``,
``If-Modified-Since``) evaluated in the order of its section 13.2.2, with werkzeug parsing
the headers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from werkzeug.http import parse_date
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["failed_precondition", "without_preconditions"]

#: The precondition headers (RFC 9110 13.1), as WSGI names them; If-Range belongs to Range.
_PRECONDITIONS = (
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
)


def failed_precondition(
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


def without_preconditions(environ: WSGIEnvironment) -> WSGIEnvironment:
    return {name: value for name, value in environ.items() if name not in _PRECONDITIONS}
