"""Files read over HTTP(S), read-only: a signed URL of an S3 or GCS object or an Azure blob
(``generate_signed_url``) carries its octstore metadata in its response headers
(``x-amz-meta-octstore-*``, ``x-goog-meta-octstore-*``, ``x-ms-meta-octstore_*``), read with
the first byte of the content in one request; other
URLs keep their metadata in a sidecar file beside them, as on any filesystem without object
metadata.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import Any

from octstore.backends import octue
from octstore.backends.azure_requests import octstore_spelling
from octstore.backends.object_metadata import decode, is_spilled
from octstore.backends.sidecar import SidecarBackend
from octstore.backends.sidecar_files import _remote_version_token
from octstore.errors import AccessDeniedError, BackendError, NotFoundError, warn
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.redaction import get_logger
from octstore.state import ObjectState

__all__ = ["HttpBackend"]

get_logger("fsspec.http")  # its debug records quote whole URLs, signatures and all

#: The prefixes of the headers a cloud object's user metadata comes back in.
_META_PREFIXES = ("x-amz-meta-", "x-goog-meta-", "x-ms-meta-")
#: Headers that change whenever the content does, best first.
_VERSION_HEADERS = ("x-goog-generation", "etag", "x-goog-hash", "last-modified")
_TIMEOUT = 60


class HttpBackend(SidecarBackend):
    """Metadata from a signed URL's headers, or from a sidecar beside a plain URL."""

    def stat(self, location: Location) -> ObjectState:
        if "?" not in location.url:  # not a signed URL: metadata in a sidecar, if any
            return super().stat(location)
        headers, size = _first_byte(location)
        metadata = _metadata(headers, location)
        version = next((headers[name] for name in _VERSION_HEADERS if headers.get(name)), None)
        info = {"size": size, "ETag": version}
        return ObjectState(size, _remote_version_token(info), metadata=metadata, details={})


def _first_byte(location: Location) -> tuple[dict[str, str], int]:
    """The response headers of a GET of the first byte (a HEAD is not what a URL signed for
    GET may do), lower-cased, and the content's size."""
    extra = location.storage_options.get("headers") or {}
    request = urllib.request.Request(location.url, headers={**extra, "Range": "bytes=0-0"})
    with translate_errors(location.url, "reading"):
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                headers = _lowered(response.headers)
                response.read()
        except urllib.error.HTTPError as error:
            if error.code != 416:
                raise _error(location, error) from None
            headers = _lowered(error.headers)  # no first byte: an empty object
            headers["content-length"] = "0"  # (what there is, is the error's body)
    total = headers.get("content-range", "").rpartition("/")[2]  # bytes 0-0/N, or */0
    size = int(total) if total.isdigit() else int(headers.get("content-length") or 0)
    return headers, size


def _lowered(headers: Message) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _metadata(headers: Mapping[str, str], location: Location) -> Metadata | None:
    """The octstore (or octue) metadata in a cloud object's user-metadata headers."""
    keys: dict[str, Any] = {}
    for name, value in headers.items():
        for prefix in _META_PREFIXES:
            if name.startswith(prefix):
                keys[name[len(prefix) :]] = value
    keys = octstore_spelling(keys)  # Azure's octstore_* keys
    if is_spilled(keys):
        warn(
            f"{location.url} keeps its labels, tags and timestamp in a sidecar object that "
            "its signed URL does not reach: reading its id only; sign the file with less "
            "metadata, or read it with credentials",
            stacklevel=4,
        )
    return decode(keys, location) or octue.from_gcs_metadata(keys, location)


def _error(location: Location, error: urllib.error.HTTPError) -> Exception:
    if error.code == 404:
        return NotFoundError(f"{location.url} does not exist: check the URL")
    if error.code in (401, 403):
        return AccessDeniedError(
            f"{location.url} refused access (HTTP {error.code}): a signed URL may have "
            "expired; ask for a new one (generate_signed_url())"
        )
    return BackendError(f"reading {location.url} failed (HTTP {error.code}): try again")
