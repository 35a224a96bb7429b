"""What S3 requests and responses mean to octstore: buckets and keys, the user-metadata headers
metadata travels in, Last-Modified and when a listing has settled, botocore's errors read as
conflicts or missing keys, and the requests s3fs makes no public call for (many HEADs at once,
a GET pinned to an ETag), and a PutObject body that tells how much of it was sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from octstore.backends import UNSETTLED, Known, ObjectState
from octstore.backends import object_metadata as keys_codec
from octstore.errors import IntegrityError, InvalidMetadataError, NotFoundError
from octstore.location import Location
from octstore.metadata import Metadata

#: S3's limit on all user metadata of an object: UTF-8 bytes of every key and value.
METADATA_LIMIT = 2048


#: System metadata that ``CopyObject`` with ``MetadataDirective=REPLACE`` would reset, and
#: that a metadata update must therefore send again to keep.
_KEPT_HEADERS = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
)


#: Bytes read from a download's body at a time (s3fs reads 64 KiB).
_DOWNLOAD_CHUNK = 2**16


_ONE_SECOND = timedelta(seconds=1)


#: How long a lease holder allows for its upload, beyond the lease's time to live: it
#: assumes at least 1 MiB/s.
_SECONDS_PER_BYTE = 1 / 2**20


#: Error codes of a failed precondition: 412, or 409 while another conditional write to the
#: same key is in flight.
_CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


#: Marks a listing version that must not be trusted later (see ``_settled``): no listing
#: shows it, so the file is read afresh next time.
_UNSETTLED = UNSETTLED
#: Ends the known listing version of a state this process just wrote (``written_version``):
#: a write's response carries the ETag but no LastModified.
_WRITTEN = "|written"


def _settled(head: Mapping[str, Any]) -> bool:
    """Whether a later change to the object is sure to show in a listing.

    S3 times have whole seconds, and a metadata update (a copy onto itself) keeps the ETag:
    an update later in the same second as the object's LastModified lists exactly as before.
    A state read (by the server's clock, the response's ``Date``) in a later second than its
    LastModified is safe: any change after the read lists with a later LastModified.
    """
    date = (head.get("ResponseMetadata") or {}).get("HTTPHeaders", {}).get("date")
    modified = head.get("LastModified")
    if not date or not isinstance(modified, datetime):
        return False
    with suppress(TypeError, ValueError):
        return parsedate_to_datetime(date) >= modified.replace(microsecond=0) + _ONE_SECOND
    return False


def _user_metadata(
    location: Location, metadata: Metadata, crc32c: str | None, foreign: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """The object's user metadata and whether it spilled; other tools' keys are kept.

    Raises:
        InvalidMetadataError: If other tools' keys leave no room for octstore's within S3's
            limit, even spilled (S3 would refuse the request).
    """
    keys = {**foreign, **keys_codec.encode(metadata, crc32c)}
    if keys_codec.encoded_size(keys) <= METADATA_LIMIT:
        return keys, False
    spilled = {**foreign, **keys_codec.encode_spilled(metadata, crc32c)}
    if keys_codec.encoded_size(spilled) > METADATA_LIMIT:
        raise InvalidMetadataError(
            f"{location.url} carries {keys_codec.encoded_size(foreign)} bytes of user metadata "
            f"of other tools ({', '.join(sorted(foreign))}), which leaves no room for "
            f"octstore's within S3's limit of {METADATA_LIMIT} bytes; nothing was written: "
            "remove some of those keys"
        )
    return spilled, True


async def _call(fs: Any, method: str, **kwargs: Any) -> dict[str, Any]:
    """s3fs's public ``call_s3``, awaited on s3fs's loop (where the sync form cannot run).

    ``_call_s3`` is the coroutine behind ``call_s3``, with the same retries and error
    translation (fsspec's convention: an async filesystem's ``_name`` is ``name`` awaitable).
    The one private name octstore uses of s3fs: if it changes, S3 listings, downloads and
    range reads fail (tests/test_backend_s3.py, ``nox -s oldest``).
    """
    response: dict[str, Any] = await fs._call_s3(method, **kwargs)
    return response


def _retryable_errors() -> tuple[type[BaseException], ...]:
    """The errors s3fs retries when a body fails midway: ``S3_RETRYABLE_ERRORS``, public by
    name but not documented. If it moves, S3 downloads fail at this import."""
    from s3fs.core import S3_RETRYABLE_ERRORS

    errors: tuple[type[BaseException], ...] = S3_RETRYABLE_ERRORS
    return errors


async def _heads(fs: Any, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``HeadObject`` of every key, at most 64 in flight."""
    limit = asyncio.Semaphore(64)

    async def head(bucket: str, key: str) -> dict[str, Any]:
        async with limit:
            return await _call(fs, "head_object", Bucket=bucket, Key=key)

    return await asyncio.gather(*(head(bucket, key) for bucket, key in keys))


async def _download(
    fs: Any, version: tuple[str, str, str], target: str, callback: Any = None
) -> None:
    """``GetObject`` of ``(bucket, key, etag)`` pinned to the ETag, its body streamed to
    ``target`` on s3fs's loop; an fsspec ``callback`` is told each chunk's bytes."""
    bucket, key, etag = version
    retryable = _retryable_errors()

    async def open_body(start: int) -> Any:
        extra = {"Range": f"bytes={start}-"} if start else {}
        response = await _call(fs, "get_object", Bucket=bucket, Key=key, IfMatch=etag, **extra)
        return response["Body"]

    body = await open_body(0)
    written = 0
    failed_reads = 0
    try:
        with open(target, "wb") as file:
            while True:
                try:
                    chunk = await body.read(_DOWNLOAD_CHUNK)
                except retryable:
                    failed_reads += 1
                    if failed_reads >= fs.retries:
                        raise
                    with suppress(Exception):
                        body.close()
                    body = await open_body(written)
                    continue
                if not chunk:
                    break
                file.write(chunk)
                written += len(chunk)
                if callback is not None:
                    callback.relative_update(len(chunk))
    finally:
        with suppress(Exception):
            body.close()


async def _read(fs: Any, bucket: str, key: str, **request: str) -> bytes:
    """The body of one ``GetObject`` (with ``request``'s ``Range``, ``IfMatch`` …), on s3fs's
    loop; a body that fails midway is asked for again, as s3fs's own reads do."""
    retryable = _retryable_errors()
    failed_reads = 0
    while True:
        response = await _call(fs, "get_object", Bucket=bucket, Key=key, **request)
        try:
            data: bytes = await response["Body"].read()
            return data
        except retryable:
            failed_reads += 1
            if failed_reads >= fs.retries:
                raise
        finally:
            with suppress(Exception):
                response["Body"].close()


def _changed_while_read(location: Location) -> IntegrityError:
    return IntegrityError(
        f"{location.url} changed while it was read (it is no longer the version that was "
        "opened): open it again to read the new version"
    )


def _trusting_written(
    files: list[tuple[Location, dict[str, Any]]],
    versions: dict[str, str],
    known: Known | None,
) -> dict[str, tuple[str, ObjectState]]:
    """``known``, with each state this process just wrote (known at its ETag, marked
    ``_WRITTEN``) taken as the listed file's when the ETags agree, with the listing's
    LastModified. Its listing version is marked unsettled in ``versions``: a metadata update
    by someone else in the same second would list the same."""
    trusted = dict(known or {})
    for child, info in files:
        if trusted.get(child.url, ("",))[0] == f"{info['ETag']}{_WRITTEN}":
            versions[child.url] += _UNSETTLED
            state = trusted[child.url][1]
            details = {**state.details, "LastModified": _last_modified(info.get("LastModified"))}
            trusted[child.url] = (versions[child.url], replace(state, details=details))
    return trusted


def _last_modified(value: object) -> str | None:
    """``LastModified`` as JSON-safe text, to the second (the resolution S3's HEAD has)."""
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _changed_since(location: Location, previous: ObjectState, current: ObjectState) -> bool:
    """Whether the object changed from ``previous`` to ``current`` (its head, read under the
    lease without its sidecar object): content or metadata.

    A content change moves the ETag. A metadata update (a copy onto itself) keeps it and
    moves ``LastModified``, but only to the second: one made in the second ``previous`` was
    read shows only in the metadata, compared as octstore encodes it (exactly). Metadata
    that spilled is read from the sidecar object for that, unless ``previous`` was read a
    second after it was last modified (``settled``), when ``LastModified`` alone tells.
    """
    if previous.version_token != current.version_token:
        return True
    before = previous.details.get("LastModified")
    if before is not None and before != current.details.get("LastModified"):
        return True
    now = current.metadata
    if now is not None and current.details.get("spilled"):
        if before is not None and previous.details.get("settled"):
            return False
        now = keys_codec.read_spilled(location, now)
    return _encoded(previous.metadata) != _encoded(now)


def _encoded(metadata: Metadata | None) -> dict[str, str] | None:
    return keys_codec.encode(metadata) if metadata is not None else None


def _bucket(location: Location) -> str:
    bucket = location.fs_path.split("/", 1)[0]
    if not bucket:
        raise NotFoundError(f"{location.url} names no bucket: use s3://BUCKET/KEY")
    return bucket


def _key(location: Location) -> str:
    _bucket(location)
    parts = location.fs_path.split("/", 1)
    if len(parts) < 2 or not parts[1]:
        raise NotFoundError(f"{location.url} is a bucket, not an object: name an object in it")
    return parts[1]


@contextmanager
def _conflicts_as(conflict: Exception, *, missing_key: bool = False) -> Iterator[None]:
    """Raise ``conflict`` for S3's failed-precondition responses (412, or 409 in a race).

    With ``missing_key``, also for 404 ``NoSuchKey`` (S3's answer to ``If-Match`` on a key
    that was deleted); a missing bucket stays a ``NotFoundError``.
    """
    try:
        yield
    except OSError as error:
        if not (_is_conflict(error) or (missing_key and _is_missing_key(error))):
            raise
        raise conflict from error


def _error_response(error: BaseException | None) -> Mapping[str, Any] | None:
    """The botocore error response behind ``error`` (s3fs's translation), if any."""
    while error is not None:
        response = getattr(error, "response", None)
        if isinstance(response, Mapping):
            return response
        error = error.__cause__
    return None


def _is_missing_key(error: BaseException | None) -> bool:
    """Whether ``error`` is S3's 404 for a key that does not exist (not a missing bucket)."""
    response = _error_response(error)
    return response is not None and response.get("Error", {}).get("Code") == "NoSuchKey"


def _is_conflict(error: BaseException | None) -> bool:
    """Whether ``error`` (s3fs's translation, or the botocore error it wraps) is a 412/409."""
    response = _error_response(error)
    if response is None:
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _CONFLICT_CODES or status == 412


def head_object(location: Location) -> dict[str, Any]:
    response: dict[str, Any] = location.fs.call_s3(
        "head_object", Bucket=_bucket(location), Key=_key(location)
    )
    return response


def state_from_head(
    location: Location, head: Mapping[str, Any], *, read_sidecar: bool = True
) -> ObjectState:
    """The state a ``HeadObject`` response describes, reading the sidecar if asked."""
    user_metadata: dict[str, str] = {
        key.lower(): value for key, value in (head.get("Metadata") or {}).items()
    }
    spilled = keys_codec.is_spilled(user_metadata)
    metadata = keys_codec.decode(user_metadata, location)
    if metadata is not None and spilled and read_sidecar:
        metadata = keys_codec.read_spilled(location, metadata)
    details = {
        "ETag": head["ETag"],
        "ContentType": head.get("ContentType"),
        "LastModified": _last_modified(head.get("LastModified")),
        "foreign_metadata": {
            key: value
            for key, value in user_metadata.items()
            if key not in keys_codec.octstore_keys
        },
        "spilled": spilled,
        # read a second after LastModified: any later change moves it (see _settled)
        "settled": _settled(head),
    }
    return ObjectState(
        size=int(head["ContentLength"]),
        version_token=head["ETag"],
        crc32c=user_metadata.get(keys_codec.CRC32C),
        metadata=metadata,
        details=details,
    )
