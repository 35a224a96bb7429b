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

S3 allows 2 KB of user metadata in all: metadata beyond it spills into the sidecar object
``.<name>.octstore.json``, the object keeping its id, hash and ``octstore-sidecar: 1``.
Other tools' user metadata counts against the limit and is kept by every write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from fsspec.asyn import sync
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import Known, Listed, MetadataBackend, ObjectState, lease, listing
from octstore.backends import object_metadata as keys_codec
from octstore.backends.s3_body import sent_body
from octstore.backends.s3_requests import (
    _KEPT_HEADERS,
    _SECONDS_PER_BYTE,
    _UNSETTLED,
    _WRITTEN,
    METADATA_LIMIT,
    _bucket,
    _changed_since,
    _changed_while_read,
    _conflicts_as,
    _download,
    _heads,
    _is_conflict,
    _is_missing_key,
    _key,
    _last_modified,
    _read,
    _trusting_written,
    _user_metadata,
    head_object,
    state_from_head,
)
from octstore.errors import ConflictError, IntegrityError
from octstore.location import Location, content_type, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate, as_changes

__all__ = ["METADATA_LIMIT", "S3Backend"]


class S3Backend(MetadataBackend):
    """octstore metadata as S3 user metadata, spilling into a sidecar object beyond 2 KB."""

    atomic_metadata = True
    versioned_writes = True  # put returns the version of what it wrote, from the response
    reads_version_ranges = True  # GetObject with Range and If-Match
    checks_sent_content = True  # the body is hashed as it is sent
    async_downloads = True

    def metadata_location(self, location: Location, state: ObjectState) -> str:
        """The object's own user metadata (and its sidecar object, if it spilled)."""
        return keys_codec.describe_location(location, state)

    def stat(self, location: Location) -> ObjectState:
        """The object's state from one ``HeadObject`` (plus the sidecar, if it spilled).

        Raises:
            NotFoundError: If the object or its bucket does not exist.
        """
        with translate_errors(location.url, "reading"):
            return state_from_head(location, head_object(location))

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
        known = _trusting_written(files, versions, known)
        stale = [c for c, _ in files if known.get(c.url, ("",))[0] != versions[c.url]]
        with translate_errors(location.url, "listing"):
            heads = sync(fs.loop, _heads, fs, [(_bucket(child), _key(child)) for child in stale])
            states = {}
            for child, head in zip(stale, heads, strict=True):
                states[child.url] = state = state_from_head(child, head)
                if not state.details["settled"]:
                    versions[child.url] += _UNSETTLED
        return [
            (
                child,
                states[child.url] if child.url in states else known[child.url][1],
                versions[child.url],
            )
            for child, _ in files
        ]

    def written_version(self, location: Location, state: ObjectState) -> str | None:
        return f"{state.version_token}{_WRITTEN}"  # a listing supplies LastModified

    def put(
        self,
        location: Location,
        source: str,
        metadata: MetadataUpdate,
        *,
        crc32c: str,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
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
                    return self._put(location, source, created, crc32c, None, True, callback)
        # Spilled metadata is two writes (object, then sidecar object): the lease keeps an
        # update from landing between them, for a creation too.
        longer_by = os.path.getsize(source) * _SECONDS_PER_BYTE
        with translate_errors(location.url, "writing"), self._lease(location, longer_by):
            try:
                current: ObjectState | None = state_from_head(
                    location, head_object(location), read_sidecar=not changes.replaces
                )
            except FileNotFoundError:
                current = None
            if if_absent and current is not None:
                raise ConflictError.created_meanwhile(location.url, source)
            if if_matches is not None and (
                current is None
                or current.version_token != if_matches.version_token
                or (changes.replaces and _changed_since(location, if_matches, current))
            ):
                raise ConflictError.content_changed(location.url, source)
            stored = current.metadata if current is not None else None
            new = changes.apply(stored)
            return self._put(location, source, new, crc32c, current, current is None, callback)

    def _put(
        self,
        location: Location,
        source: str,
        metadata: Metadata,
        crc32c: str,
        current: ObjectState | None,
        if_absent: bool,
        callback: Callback,
    ) -> ObjectState:
        """One ``PutObject`` of ``source`` with ``metadata``, if the object is still at
        ``current`` (None: if it is absent, when ``if_absent``; else unconditionally)."""
        foreign = dict(current.details.get("foreign_metadata", {})) if current else {}
        user_metadata, spilled = _user_metadata(location, metadata, crc32c, foreign)
        document = keys_codec.spilled_document(metadata if spilled else None)
        request: dict[str, Any] = {
            "Bucket": _bucket(location),
            "Key": _key(location),
            "Metadata": user_metadata,
            "ContentType": content_type(location.name),
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
                sent_body(fs, source, callback, crc32c, location.url) as body,
            ):
                etag: str = fs.call_s3("put_object", Body=body, **request)["ETag"]
        except (ConflictError, IntegrityError):
            # A PUT that botocore retried after its response was lost fails its own
            # precondition if the first attempt went through (or its body check, if the
            # file changed since): no failure, if the object holds exactly what was written.
            written = self._etag_if_holding(location, size, user_metadata)
            if written is None:
                raise
            etag = written
        keys_codec.write_spilled(location, document, stale=had_sidecar)
        details = {
            "ETag": etag,
            "ContentType": request["ContentType"],
            # PutObject's response carries no LastModified: None is "unknown", and a later
            # conditional write compares the ETag and the metadata.
            "LastModified": None,
            "foreign_metadata": foreign,
            "spilled": spilled,
            "settled": False,
        }
        return ObjectState(size, etag, crc32c, metadata, details)

    @contextmanager
    def _lease(self, location: Location, longer_by: float = 0.0) -> Iterator[None]:
        """Hold the key's lease (see :mod:`octstore.backends.lease`), ``longer_by`` seconds
        more than its time to live if a large upload needs them."""
        bucket, key = _bucket(location), _key(location)
        with lease.held(location, bucket, key, _is_conflict, _is_missing_key, longer_by=longer_by):
            yield

    def _etag_if_holding(
        self, location: Location, size: int, user_metadata: Mapping[str, str]
    ) -> str | None:
        """The object's ETag if it holds ``size`` bytes with exactly ``user_metadata`` (which
        carries the content's CRC32C and the id); None otherwise."""
        try:
            head = head_object(location)
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
            head = head_object(location)
            current = state_from_head(location, head, read_sidecar=not changes.replaces)
            if (
                if_matches is not None
                and changes.replaces
                and _changed_since(location, if_matches, current)
            ):
                raise ConflictError.metadata_changed(location.url)
            new = changes.apply(current.metadata)
            foreign = current.details["foreign_metadata"]
            user_metadata, spilled = _user_metadata(location, new, current.crc32c, foreign)
            document = keys_codec.spilled_document(new if spilled else None)
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
            keys_codec.write_spilled(location, document, stale=current.details["spilled"])
        result = response["CopyObjectResult"]
        etag: str = result["ETag"]
        details = {
            **current.details,
            "ETag": etag,
            "LastModified": _last_modified(result.get("LastModified")),
            "spilled": spilled,
            "settled": False,
        }
        return ObjectState(current.size, etag, current.crc32c, new, details)

    def read_bytes(self, location: Location) -> bytes:
        """One ``GetObject`` (s3fs's ``cat_file`` first sends a HEAD, for parallel ranges)."""
        return bytes(sync(location.fs.loop, _read, location.fs, _bucket(location), _key(location)))

    def download(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        """Stream the object's content at exactly ``state`` (its ETag) to the file ``target``.

        One ``GetObject`` with ``If-Match``, read in chunks of 64 KiB (told to ``callback``);
        a failed read resumes where it stopped, still pinned. ``target`` is removed on failure.

        Raises:
            IntegrityError: If the object changed since ``state`` (S3 answers 412).
            NotFoundError: If the object or its bucket no longer exists.
        """
        sync(location.fs.loop, self.download_async, location, state, target, callback)

    async def download_async(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        changed = IntegrityError(
            f"{location.url} changed while it was downloaded (it is no longer the version "
            "that was read): try again"
        )
        with translate_errors(location.url, "downloading"):
            try:
                with _conflicts_as(changed):
                    version = (_bucket(location), _key(location), state.version_token)
                    await _download(location.fs, version, target, callback)
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
        fs, span = location.fs, f"bytes={start}-{end - 1}"
        with (
            translate_errors(location.url, "reading"),
            _conflicts_as(_changed_while_read(location), missing_key=True),
        ):
            data: bytes = sync(
                fs.loop,
                _read,
                fs,
                _bucket(location),
                _key(location),
                IfMatch=state.version_token,
                Range=span,
            )
        return data

    def delete(self, location: Location) -> None:
        """Delete the object, then its sidecar object if its metadata spilled.

        Raises:
            NotFoundError: If the object or its bucket does not exist.
        """
        fs = location.fs
        with translate_errors(location.url, "deleting"):
            spilled = keys_codec.is_spilled(head_object(location).get("Metadata", {}))
            fs.call_s3("delete_object", Bucket=_bucket(location), Key=_key(location))
            keys_codec.write_spilled(location, None, stale=spilled)
