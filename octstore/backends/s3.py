"""Metadata in S3 user metadata: content and metadata written in one ``PutObject``.

An object written by octstore carries the ``octstore-*`` keys of
:mod:`octstore.backends.object_metadata` as user metadata (``x-amz-meta-octstore-id`` ...),
with the content's CRC32C under ``octstore-crc32c`` so that its hash is known without a
download. So:

- ``stat`` is one ``HeadObject`` (two requests when the metadata spilled into the sidecar);
- ``put`` is one ``PutObject`` carrying content and metadata, conditional on ``If-Match``
  (the ETag read) or ``If-None-Match: *`` (create only), so no update is ever lost;
- ``write_metadata`` copies the object onto itself with ``MetadataDirective=REPLACE``:
  S3 rewrites the metadata server-side and no content crosses the wire.

S3 allows 2 KB of user metadata in all. Metadata that does not fit spills into the sidecar
object ``.<name>.octstore.json`` beside the object, and the object keeps only its id, its
hash and ``octstore-sidecar: 1``. User metadata written by other tools counts against the
same limit and is kept by metadata updates and by writes conditional on the state read.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from octstore.backends import MetadataBackend, ObjectState
from octstore.backends import object_metadata as keys_codec
from octstore.errors import ConflictError
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata

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

#: Error codes of a failed precondition: 412, or 409 while another conditional write to the
#: same key is in flight.
_CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


class S3Backend(MetadataBackend):
    """octstore metadata as S3 user metadata, spilling into a sidecar object beyond 2 KB."""

    atomic_metadata = True

    def stat(self, location: Location) -> ObjectState:
        """The object's state from one ``HeadObject`` (plus the sidecar, if it spilled).

        Raises:
            NotFoundError: If the object or its bucket does not exist.
        """
        with translate_errors(location.url, "reading"):
            return self._state(location, self._head(location))

    def put(
        self,
        location: Location,
        source: str,
        metadata: Metadata,
        *,
        crc32c: str,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
    ) -> ObjectState:
        """Upload ``source`` with ``metadata`` in one ``PutObject``; ``source`` is left in place.

        The CRC32C goes with the request (``x-amz-checksum-crc32c``), so S3 refuses content
        that arrives different from what the caller hashed.

        Raises:
            ConflictError: If a precondition does not hold; the object is unchanged and
                ``source`` still holds the new content.
            NotFoundError: If the bucket does not exist.
        """
        foreign = dict(if_matches.details.get("foreign_metadata", {})) if if_matches else {}
        user_metadata, spilled = _user_metadata(metadata, crc32c, foreign)
        request: dict[str, Any] = {
            "Bucket": _bucket(location),
            "Key": _key(location),
            "Metadata": user_metadata,
            "ContentType": _content_type(location.name),
            "ChecksumCRC32C": crc32c,
        }
        if if_absent:
            request["IfNoneMatch"] = "*"
        if if_matches is not None:
            request["IfMatch"] = if_matches.version_token
            conflict = ConflictError.content_changed(location.url, source)
        else:
            conflict = ConflictError.created_meanwhile(location.url, source)
        # A sidecar object may be left from before unless the object was absent, or the state
        # read says that its metadata did not spill.
        if if_matches is not None:
            had_sidecar = bool(if_matches.details.get("spilled", True))
        else:
            had_sidecar = not if_absent
        size = os.path.getsize(source)
        fs = location.fs
        with translate_errors(location.url, "writing"):
            with _conflicts_as(conflict), open(source, "rb") as body:
                response = fs.call_s3("put_object", Body=body, **request)
            keys_codec.write_spilled(location, metadata if spilled else None, stale=had_sidecar)
        details = {
            "ETag": response["ETag"],
            "ContentType": request["ContentType"],
            "foreign_metadata": foreign,
            "spilled": spilled,
        }
        return ObjectState(size, response["ETag"], crc32c, metadata, details)

    def write_metadata(
        self, location: Location, metadata: Metadata, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Replace the object's metadata by copying it onto itself; no content is transferred.

        Raises:
            NotFoundError: If the object or its bucket does not exist.
            ConflictError: If ``if_matches`` is given and the object changed since, or it
                changed between the ``HeadObject`` and the copy; nothing was written.
        """
        fs = location.fs
        with translate_errors(location.url, "writing metadata of"):
            head = self._head(location)
            current = self._state(location, head, read_sidecar=False)
            if if_matches is not None and current.version_token != if_matches.version_token:
                raise ConflictError.metadata_changed(location.url)
            foreign = current.details["foreign_metadata"]
            user_metadata, spilled = _user_metadata(metadata, current.crc32c, foreign)
            kept = {name: head[name] for name in _KEPT_HEADERS if head.get(name)}
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
                location, metadata if spilled else None, stale=current.details["spilled"]
            )
        etag: str = response["CopyObjectResult"]["ETag"]
        details = {**current.details, "ETag": etag, "spilled": spilled}
        return ObjectState(current.size, etag, current.crc32c, metadata, details)

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
        metadata = keys_codec.decode(user_metadata)
        if metadata is not None and spilled and read_sidecar:
            metadata = keys_codec.read_spilled(location, metadata)
        details = {
            "ETag": head["ETag"],
            "ContentType": head.get("ContentType"),
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


def _user_metadata(
    metadata: Metadata, crc32c: str | None, foreign: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """The object's user metadata and whether it spilled; other tools' keys are kept."""
    keys = {**foreign, **keys_codec.encode(metadata, crc32c)}
    if keys_codec.encoded_size(keys) <= METADATA_LIMIT:
        return keys, False
    return {**foreign, **keys_codec.encode_spilled(metadata, crc32c)}, True


def _bucket(location: Location) -> str:
    return location.fs_path.split("/", 1)[0]


def _key(location: Location) -> str:
    return location.fs_path.split("/", 1)[1]


def _content_type(name: str) -> str:
    """The type a browser should see; compressed files (``x.csv.gz``) are not their content."""
    content_type, encoding = mimetypes.guess_type(name, strict=False)
    return content_type if content_type and not encoding else "application/octet-stream"


@contextmanager
def _conflicts_as(conflict: ConflictError) -> Iterator[None]:
    """Raise ``conflict`` for S3's failed-precondition responses (412, or 409 in a race)."""
    try:
        yield
    except OSError as error:
        if not _is_conflict(error):
            raise
        raise conflict from error


def _is_conflict(error: BaseException | None) -> bool:
    """Whether ``error`` (s3fs's translation, or the botocore error it wraps) is a 412/409."""
    while error is not None:
        response = getattr(error, "response", None)
        if isinstance(response, Mapping):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code in _CONFLICT_CODES or status == 412
        error = error.__cause__
    return False
