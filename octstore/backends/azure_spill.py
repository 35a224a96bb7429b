"""Metadata too large for a blob's own (Azure: 8 KB), spilled into the sidecar blob
``.<name>.octstore.json`` beside it: which keys the blob keeps, the sidecar's writes through
the SDK, and the blob lease that keeps a spilled blob's two writes together.

The blob and its sidecar are two writes. Another writer's update landing between them would
read the old sidecar and, writing it back after, lose the first update. So every write of a
blob whose metadata spilled, or spills with the write, holds the blob's lease (Azure's own
lock of one blob: while it is held, a write without its id fails with 412) from the read of
the blob to the sidecar's write; a writer that finds it held waits for it. A lease lasts
:data:`LEASE_SECONDS` at most, so one left by a writer that died expires by itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from fsspec.asyn import sync

from octstore.backends import ObjectState
from octstore.backends import object_metadata as keys_codec
from octstore.backends.azure_requests import (
    METADATA_LIMIT,
    blob_client,
    content_settings,
    delete,
    forget_listing,
    is_missing,
    same_content,
    sdk_errors,
    to_azure,
)
from octstore.errors import ConflictError, InvalidMetadataError
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.metadata.changes import attempts

__all__ = [
    "LEASE_SECONDS",
    "blob_metadata",
    "check_leased",
    "leased",
    "may_have_spilled",
    "needs_lease",
    "spills",
    "write_sidecar",
]

#: How long a lease lasts unless released (Azure allows 15 to 60 seconds).
LEASE_SECONDS = 60


def blob_metadata(
    location: Location, metadata: Metadata, crc32c: str | None, foreign: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """The blob's metadata for ``metadata`` and whether it spilled into the sidecar blob;
    other tools' keys are kept.

    Raises:
        InvalidMetadataError: If other tools' keys leave no room for octstore's within
            Azure's limit, even spilled (Azure would refuse the request).
    """
    keys = {**foreign, **to_azure(keys_codec.encode(metadata, crc32c))}
    if keys_codec.encoded_size(keys) <= METADATA_LIMIT:
        return keys, False
    spilled = {**foreign, **to_azure(keys_codec.encode_spilled(metadata, crc32c))}
    if keys_codec.encoded_size(spilled) > METADATA_LIMIT:
        raise InvalidMetadataError(
            f"{location.url} carries {keys_codec.encoded_size(foreign)} bytes of metadata of "
            f"other tools ({', '.join(sorted(foreign))}), which leaves no room for octstore's "
            f"within Azure's limit of {METADATA_LIMIT} bytes; nothing was written: remove "
            "some of those keys"
        )
    return spilled, True


def write_sidecar(location: Location, document: bytes | None, *, stale: bool) -> None:
    """:func:`octstore.backends.object_metadata.write_spilled` through the SDK: write
    ``document`` to ``location``'s sidecar blob, or, if None, delete a ``stale`` one (if it is
    there). (adlfs before 2025 cannot delete one file.)"""
    from octstore.backends.sidecar_files import sidecar_name

    sidecar = location.sibling(sidecar_name(location.name))
    if document is not None:
        sync(location.fs.loop, _put_bytes, sidecar, document)
    elif stale:
        try:
            sync(location.fs.loop, delete, sidecar)
        except Exception as error:
            if not is_missing(error):
                raise
    forget_listing(location)


async def _put_bytes(location: Location, data: bytes) -> None:
    settings = content_settings("application/json", None)
    await blob_client(location).upload_blob(data, overwrite=True, content_settings=settings)


def may_have_spilled(previous: ObjectState | None) -> bool:
    """Whether the blob in state ``previous`` (None: absent) may have a sidecar blob."""
    return previous is not None and bool(previous.details.get("spilled", True))


def spills(location: Location, metadata: Metadata, basis: ObjectState | None) -> bool:
    """Whether ``metadata`` spills into the sidecar blob, beside the blob's other keys."""
    details = basis.details if basis is not None else {}
    crc32c = basis.crc32c if basis is not None else None
    foreign = dict(details.get("foreign_metadata", {}))
    return blob_metadata(location, metadata, crc32c, foreign)[1]


def needs_lease(previous: ObjectState | None, spills: bool) -> bool:
    """Whether a write from the state ``previous`` (None: absent) that ``spills`` or not must
    hold the blob's lease: its metadata spilled before or spills now, and there is a blob
    to lease (a creation cannot lease a blob that is not there yet)."""
    return previous is not None and (spills or may_have_spilled(previous))


@contextmanager
def leased(location: Location) -> Iterator[Any]:
    """Hold the blob's lease (the SDK's lease client, for the writes made under it), waiting
    a while for another writer's; released at the end.

    Raises:
        ConflictError: If another writer held it through every try.
        FileNotFoundError: If the blob is not there.
    """
    from azure.storage.blob.aio import BlobLeaseClient

    lease = BlobLeaseClient(blob_client(location))
    with sdk_errors(location):
        for attempt in attempts():
            try:
                sync(location.fs.loop, lease.acquire, lease_duration=LEASE_SECONDS)
                break
            except Exception as error:
                if getattr(error, "status_code", None) != 409 or attempt.last:
                    if getattr(error, "status_code", None) == 409:
                        raise ConflictError(
                            f"another writer kept {location.url} leased too long (its "
                            f"metadata spilled into a sidecar blob, written under the blob's "
                            f"lease): nothing was written; try again, or break the lease if "
                            f"its writer died (it expires within {LEASE_SECONDS} s)",
                            path=location.url,
                        ) from error
                    raise
    try:
        yield lease
    finally:
        with suppress(Exception):
            sync(location.fs.loop, lease.release)


def check_leased(
    location: Location,
    source: str | None,
    if_matches: ObjectState | None,
    fresh: ObjectState,
    replaces: bool,
) -> None:
    """Under the lease, refuse a write whose ``if_matches`` is stale: its content changed
    (for whole metadata, its metadata too). ``source``: the new content's file, if any.

    Raises:
        ConflictError: If so; nothing was written.
    """
    if if_matches is None:
        return
    changed = not same_content(fresh, if_matches) or (
        replaces and if_matches.details.get("etag") not in (None, fresh.details["etag"])
    )
    if changed and source is not None:
        raise ConflictError.content_changed(location.url, source)
    if changed:
        raise ConflictError.metadata_changed(location.url)
