"""Metadata in S3 user metadata: content and metadata written in one ``PutObject``.

An object written by octstore carries the ``octstore-*`` keys of
:mod:`octstore.backends.object_metadata` as user metadata (``x-amz-meta-octstore-id`` ...),
with the content's CRC32C under ``octstore-crc32c`` so that its hash is known without a
download. So:

- ``stat`` is one ``HeadObject`` (two requests when the metadata spilled into the sidecar);
- ``put`` is one ``PutObject`` carrying content and metadata, conditional on ``If-Match``
  (the ETag read) or ``If-None-Match: *`` (create only), so no content update is lost;
- ``write_metadata`` copies the object onto itself with ``MetadataDirective=REPLACE``:
  S3 rewrites the metadata server-side and no content crosses the wire;
- since a metadata-only change keeps the ETag, no precondition on the object can see
  another writer's metadata update: every metadata update and every overwrite takes the
  key's short-lived lease (:mod:`octstore.backends.lease`, two more requests), re-reads the
  object under it and applies its changes to the metadata it finds there;
- ``download`` is one ``GetObject`` conditional on ``If-Match``, streamed to disk in chunks.

S3 allows 2 KB of user metadata in all. Metadata that does not fit spills into the sidecar
object ``.<name>.octstore.json`` beside the object, and the object keeps only its id, its
hash and ``octstore-sidecar: 1``. User metadata written by other tools counts against the
same limit and is kept by metadata updates and by writes conditional on the state read.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from fsspec.asyn import sync

from octstore.backends import Known, Listed, MetadataBackend, ObjectState, lease, listing
from octstore.backends import object_metadata as keys_codec
from octstore.errors import ConflictError, IntegrityError, InvalidMetadataError, NotFoundError
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate, as_changes

__all__ = ["METADATA_LIMIT", "S3Backend"]

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


class S3Backend(MetadataBackend):
    """octstore metadata as S3 user metadata, spilling into a sidecar object beyond 2 KB."""

    atomic_metadata = True
    versioned_writes = True  # put returns the version of what it wrote, from the response
    reads_version_ranges = True  # GetObject with Range and If-Match

    def metadata_location(self, location: Location, state: ObjectState) -> str:
        """The object's own user metadata (and its sidecar object, if it spilled)."""
        return keys_codec.describe_location(location, state)

    def stat(self, location: Location) -> ObjectState:
        """The object's state from one ``HeadObject`` (plus the sidecar, if it spilled).

        Raises:
            NotFoundError: If the object or its bucket does not exist.
        """
        with translate_errors(location.url, "reading"):
            return self._state(location, self._head(location))

    def list(
        self, location: Location, *, recursive: bool = True, known: Known | None = None
    ) -> list[Listed]:
        """Every object under the prefix with its metadata: the listing, then one
        ``HeadObject`` per object not ``known`` at its listing version, all at once (S3
        listings carry no user metadata). The listing version is the ETag and LastModified,
        which a metadata update (a copy onto itself) moves."""
        files, _ = listing(location, recursive=recursive)
        fs = location.fs
        versions = {
            child.url: f"{info['ETag']}|{info.get('LastModified')}" for child, info in files
        }
        stale = [
            child
            for child, _ in files
            if not (known and child.url in known and known[child.url][0] == versions[child.url])
        ]
        with translate_errors(location.url, "listing"):
            heads = sync(fs.loop, _heads, fs, [(_bucket(child), _key(child)) for child in stale])
            states = {
                child.url: self._state(child, head)
                for child, head in zip(stale, heads, strict=True)
            }
            for child, head in zip(stale, heads, strict=True):
                if not _settled(head):
                    versions[child.url] += _UNSETTLED
        return [
            (
                child,
                states[child.url] if child.url in states else known[child.url][1],  # type: ignore[index]
                versions[child.url],
            )
            for child, _ in files
        ]

    def put(
        self,
        location: Location,
        source: str,
        metadata: MetadataUpdate,
        *,
        crc32c: str,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
    ) -> ObjectState:
        """Upload ``source`` with its metadata in one ``PutObject``; ``source`` is left in place.

        Creating (``if_absent``) an object whose metadata fits needs no lease:
        ``If-None-Match: *``. Every other write takes the key's lease
        (:mod:`octstore.backends.lease`; longer for a large file), re-reads the object under
        it, applies the changes to the metadata found, and writes with ``If-Match`` on the
        ETag found (``If-None-Match: *`` if there was none). The CRC32C goes with the request
        (``x-amz-checksum-crc32c``), so S3 refuses content that arrives different from what
        the caller hashed.

        Raises:
            ConflictError: If a precondition does not hold (the content changed since
                ``if_matches``; with whole metadata, its metadata too); the object is
                unchanged and ``source`` still holds the new content.
            NotFoundError: If the bucket does not exist.
        """
        changes = as_changes(metadata)
        if if_absent:
            created = changes.apply(None)
            if not _user_metadata(location, created, crc32c, {})[1]:
                with translate_errors(location.url, "writing"):
                    return self._put(location, source, created, crc32c, None, True)
        # Spilled metadata is two writes (object, then sidecar object): the lease keeps an
        # update from landing between them, for a creation too.
        longer_by = os.path.getsize(source) * _SECONDS_PER_BYTE
        with translate_errors(location.url, "writing"), self._lease(location, longer_by):
            try:
                current: ObjectState | None = self._state(
                    location, self._head(location), read_sidecar=not changes.replaces
                )
            except FileNotFoundError:
                current = None
            if if_absent and current is not None:
                raise ConflictError.created_meanwhile(location.url, source)
            if if_matches is not None and (
                current is None
                or current.version_token != if_matches.version_token
                or (changes.replaces and _changed_since(if_matches, current))
            ):
                raise ConflictError.content_changed(location.url, source)
            stored = current.metadata if current is not None else None
            new = changes.apply(stored)
            return self._put(location, source, new, crc32c, current, current is None)

    def _put(
        self,
        location: Location,
        source: str,
        metadata: Metadata,
        crc32c: str,
        current: ObjectState | None,
        if_absent: bool,
    ) -> ObjectState:
        """One ``PutObject`` of ``source`` with ``metadata``, if the object is still at
        ``current`` (None: if it is absent, when ``if_absent``; else unconditionally)."""
        foreign = dict(current.details.get("foreign_metadata", {})) if current else {}
        user_metadata, spilled = _user_metadata(location, metadata, crc32c, foreign)
        request: dict[str, Any] = {
            "Bucket": _bucket(location),
            "Key": _key(location),
            "Metadata": user_metadata,
            "ContentType": _content_type(location.name),
            "ChecksumCRC32C": crc32c,
        }
        if if_absent:
            request["IfNoneMatch"] = "*"
        if current is not None:
            request["IfMatch"] = current.version_token
            conflict = ConflictError.content_changed(location.url, source)
        else:
            conflict = ConflictError.created_meanwhile(location.url, source)
        # A sidecar object may be left from before unless the object was absent, or the state
        # read says that its metadata did not spill.
        if current is not None:
            had_sidecar = bool(current.details.get("spilled", True))
        else:
            had_sidecar = not if_absent
        size = os.path.getsize(source)
        fs = location.fs
        try:
            # S3 answers If-Match on a key deleted meanwhile with 404 NoSuchKey: that too is
            # a change since the state read, and the content must be kept, not reported
            # missing.
            with (
                _conflicts_as(conflict, missing_key=current is not None),
                open(source, "rb") as body,
            ):
                etag: str = fs.call_s3("put_object", Body=body, **request)["ETag"]
        except ConflictError:
            # A PUT that botocore retried after its response was lost fails its own
            # precondition if the first attempt went through: no conflict, if the object
            # holds exactly what was being written.
            written = self._etag_if_holding(location, size, user_metadata)
            if written is None:
                raise
            etag = written
        keys_codec.write_spilled(location, metadata if spilled else None, stale=had_sidecar)
        details = {
            "ETag": etag,
            "ContentType": request["ContentType"],
            # PutObject's response carries no LastModified: None is "unknown", and a later
            # conditional write compares the ETag only.
            "LastModified": None,
            "foreign_metadata": foreign,
            "spilled": spilled,
        }
        return ObjectState(size, etag, crc32c, metadata, details)

    @contextmanager
    def _lease(self, location: Location, longer_by: float = 0.0) -> Iterator[None]:
        """Hold the key's lease (see :mod:`octstore.backends.lease`), ``longer_by`` seconds
        more than its time to live if a large upload needs them."""
        with lease.held(
            location,
            _bucket(location),
            _key(location),
            _is_conflict,
            _is_missing_key,
            longer_by=longer_by,
        ):
            yield

    def _etag_if_holding(
        self, location: Location, size: int, user_metadata: Mapping[str, str]
    ) -> str | None:
        """The object's ETag if it holds ``size`` bytes with exactly ``user_metadata`` (which
        carries the content's CRC32C and the id); None otherwise."""
        try:
            head = self._head(location)
        except FileNotFoundError:
            return None
        stored = {key.lower(): value for key, value in (head.get("Metadata") or {}).items()}
        wanted = {key.lower(): value for key, value in user_metadata.items()}
        if int(head["ContentLength"]) != size or stored != wanted:
            return None
        etag: str = head["ETag"]
        return etag

    def write_metadata(
        self, location: Location, metadata: MetadataUpdate, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Change the object's metadata by copying it onto itself; no content is transferred.

        Under the key's lease (:mod:`octstore.backends.lease`): the object is read afresh,
        the changes applied to the metadata found, and the copy made. Whole metadata
        (rather than changes) with ``if_matches`` is written only if the object did not
        change since that state.

        Raises:
            NotFoundError: If the object or its bucket does not exist.
            ConflictError: If whole metadata was given with ``if_matches`` and the object
                changed since; or another writer held the lease too long; nothing was
                written.
        """
        changes = as_changes(metadata)
        fs = location.fs
        with translate_errors(location.url, "writing metadata of"), self._lease(location):
            head = self._head(location)
            current = self._state(location, head, read_sidecar=not changes.replaces)
            if if_matches is not None and changes.replaces and _changed_since(if_matches, current):
                raise ConflictError.metadata_changed(location.url)
            new = changes.apply(current.metadata)
            foreign = current.details["foreign_metadata"]
            user_metadata, spilled = _user_metadata(location, new, current.crc32c, foreign)
            kept = {name: head[name] for name in _KEPT_HEADERS if head.get(name)}
            # HeadObject omits StorageClass for STANDARD; a copy without it resets to STANDARD.
            if head.get("StorageClass") and head["StorageClass"] != "STANDARD":
                kept["StorageClass"] = head["StorageClass"]
            with _conflicts_as(ConflictError.metadata_changed(location.url)):
                response = fs.call_s3(
                    "copy_object",
                    Bucket=_bucket(location),
                    Key=_key(location),
                    CopySource={"Bucket": _bucket(location), "Key": _key(location)},
                    # Also guards the hash and headers just read against a concurrent write.
                    CopySourceIfMatch=current.version_token,
                    MetadataDirective="REPLACE",
                    Metadata=user_metadata,
                    **kept,
                )
            keys_codec.write_spilled(
                location, new if spilled else None, stale=current.details["spilled"]
            )
        result = response["CopyObjectResult"]
        etag: str = result["ETag"]
        details = {
            **current.details,
            "ETag": etag,
            "LastModified": _last_modified(result.get("LastModified")),
            "spilled": spilled,
        }
        return ObjectState(current.size, etag, current.crc32c, new, details)

    def read_bytes(self, location: Location) -> bytes:
        """One ``GetObject``: s3fs would first send a HEAD to decide on parallel ranges."""
        data: bytes = location.fs.cat_file(location.fs_path, max_concurrency=1)
        return data

    def download(self, location: Location, state: ObjectState, target: str) -> None:
        """Stream the object's content at exactly ``state`` (its ETag) to the file ``target``.

        One ``GetObject`` with ``If-Match``, read in chunks of 64 KiB, so memory stays
        bounded; a read that fails midway resumes from where it stopped, still pinned to the
        ETag. ``target`` is removed if the download fails.

        Raises:
            IntegrityError: If the object changed since ``state`` (S3 answers 412).
            NotFoundError: If the object or its bucket no longer exists.
        """
        fs = location.fs
        changed = IntegrityError(
            f"{location.url} changed while it was downloaded (it is no longer the version "
            "that was read): try again"
        )
        with translate_errors(location.url, "downloading"):
            try:
                with _conflicts_as(changed):
                    sync(
                        fs.loop,
                        _download,
                        fs,
                        _bucket(location),
                        _key(location),
                        state.version_token,
                        target,
                    )
            except BaseException:
                with suppress(OSError):
                    os.remove(target)
                raise

    def read_range(self, location: Location, state: ObjectState, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` of the object at exactly ``state``: one ``GetObject``
        with ``Range`` and ``If-Match`` (its ETag).

        Raises:
            IntegrityError: If the object changed or was deleted since ``state`` (S3 answers
                412, or 404 for a deleted key).
            NotFoundError: If the bucket no longer exists.
        """
        fs = location.fs
        with (
            translate_errors(location.url, "reading"),
            _conflicts_as(_changed_while_read(location), missing_key=True),
        ):
            data: bytes = sync(
                fs.loop,
                _read_range,
                fs,
                _bucket(location),
                _key(location),
                state.version_token,
                start,
                end,
            )
        return data

    def delete(self, location: Location) -> None:
        """Delete the object, then its sidecar object if its metadata spilled.

        Raises:
            NotFoundError: If the object or its bucket does not exist.
        """
        fs = location.fs
        with translate_errors(location.url, "deleting"):
            spilled = keys_codec.is_spilled(self._head(location).get("Metadata", {}))
            fs.call_s3("delete_object", Bucket=_bucket(location), Key=_key(location))
            keys_codec.write_spilled(location, None, stale=spilled)

    def _head(self, location: Location) -> dict[str, Any]:
        response: dict[str, Any] = location.fs.call_s3(
            "head_object", Bucket=_bucket(location), Key=_key(location)
        )
        return response

    def _state(
        self, location: Location, head: Mapping[str, Any], *, read_sidecar: bool = True
    ) -> ObjectState:
        """The state a ``HeadObject`` response describes, reading the sidecar if asked."""
        user_metadata: dict[str, str] = {
            key.lower(): value for key, value in (head.get("Metadata") or {}).items()
        }
        spilled = keys_codec.is_spilled(user_metadata)
        metadata = keys_codec.decode(user_metadata, location.url)
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
        }
        return ObjectState(
            size=int(head["ContentLength"]),
            version_token=head["ETag"],
            crc32c=user_metadata.get(keys_codec.CRC32C),
            metadata=metadata,
            details=details,
        )


#: Marks a listing version that must not be trusted later (see ``_settled``): no listing
#: shows it, so the file is read afresh next time.
_UNSETTLED = "|unsettled"


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


async def _heads(fs: Any, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``HeadObject`` of every key, at most 64 in flight."""
    limit = asyncio.Semaphore(64)

    async def head(bucket: str, key: str) -> dict[str, Any]:
        async with limit:
            response: dict[str, Any] = await fs._call_s3("head_object", Bucket=bucket, Key=key)
            return response

    return await asyncio.gather(*(head(bucket, key) for bucket, key in keys))


async def _download(fs: Any, bucket: str, key: str, etag: str, target: str) -> None:
    """``GetObject`` pinned to ``etag``, its body streamed to ``target`` on s3fs's loop."""
    from s3fs.core import S3_RETRYABLE_ERRORS

    async def open_body(start: int) -> Any:
        extra = {"Range": f"bytes={start}-"} if start else {}
        response = await fs._call_s3("get_object", Bucket=bucket, Key=key, IfMatch=etag, **extra)
        return response["Body"]

    body = await open_body(0)
    written = 0
    failed_reads = 0
    try:
        with open(target, "wb") as file:
            while True:
                try:
                    chunk = await body.read(_DOWNLOAD_CHUNK)
                except S3_RETRYABLE_ERRORS:
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
    finally:
        with suppress(Exception):
            body.close()


async def _read_range(fs: Any, bucket: str, key: str, etag: str, start: int, end: int) -> bytes:
    """``GetObject`` of bytes ``start`` up to ``end`` pinned to ``etag``, on s3fs's loop; a body
    that fails midway is asked for again, as s3fs's own reads do."""
    from s3fs.core import S3_RETRYABLE_ERRORS

    failed_reads = 0
    while True:
        response = await fs._call_s3(
            "get_object", Bucket=bucket, Key=key, IfMatch=etag, Range=f"bytes={start}-{end - 1}"
        )
        try:
            data: bytes = await response["Body"].read()
            return data
        except S3_RETRYABLE_ERRORS:
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


def _last_modified(value: object) -> str | None:
    """``LastModified`` as JSON-safe text, to the second (the resolution S3's HEAD has)."""
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _changed_since(previous: ObjectState, current: ObjectState) -> bool:
    """Whether the object changed from ``previous`` to ``current``: content or metadata.

    A metadata-only change keeps the ETag but moves ``LastModified``; a state whose
    ``LastModified`` is unknown (None, as after a ``PutObject``) is compared by ETag only.
    """
    if previous.version_token != current.version_token:
        return True
    before = previous.details.get("LastModified")
    return before is not None and before != current.details.get("LastModified")


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


def _content_type(name: str) -> str:
    """The type a browser should see; compressed files (``x.csv.gz``) are not their content."""
    content_type, encoding = mimetypes.guess_type(name, strict=False)
    return content_type if content_type and not encoding else "application/octet-stream"


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
