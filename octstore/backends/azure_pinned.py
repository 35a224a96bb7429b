"""Reads of an Azure blob pinned to one content: each request under ``If-Match`` on the
ETag read; after a metadata update moved the ETag (its content unchanged), again under the
new one; once the content changed, :class:`~octstore.errors.IntegrityError`."""

from __future__ import annotations

from typing import Any

from octstore.backends import ObjectState
from octstore.backends.azure_requests import (
    blob_state,
    is_conflict,
    is_missing,
    properties,
    same_content,
    sdk_errors,
)
from octstore.errors import IntegrityError
from octstore.location import Location

__all__ = ["pinned"]

#: Tries of a read pinned to one content, each after a metadata update moved the ETag.
_PINNED_TRIES = 3


async def pinned(location: Location, state: ObjectState, request: Any, *arguments: Any) -> Any:
    """``request(location, etag, *arguments)`` under ``If-Match`` on ``state``'s ETag, or on
    the ETag a metadata update since left on the same content.

    Raises:
        IntegrityError: If the content changed since ``state``, or the blob was deleted.
    """
    etag = state.details.get("etag")
    with sdk_errors(location):
        for _ in range(_PINNED_TRIES):
            try:
                return await request(location, etag, *arguments)
            except Exception as error:
                if not (is_conflict(error) or is_missing(error)):
                    raise
            etag = await _same_content_etag(location, state)
    raise _changed_while_read(location)


async def _same_content_etag(location: Location, state: ObjectState) -> str:
    """The blob's ETag now, if its content is still that of ``state`` (its metadata alone
    changed since, which moves the ETag).

    Raises:
        IntegrityError: If its content changed or it was deleted.
    """
    try:
        with sdk_errors(location):
            found = await properties(location)
    except FileNotFoundError:
        found = None
    now = None if found is None else blob_state(location, found, read_sidecar=False)
    if not same_content(now, state):
        raise _changed_while_read(location)
    return str(found.etag)


def _changed_while_read(location: Location) -> IntegrityError:
    return IntegrityError(
        f"{location.url} changed while it was read (it is no longer the version that was "
        "opened): open it again to read the new version"
    )
