"""octstore metadata as cloud object metadata: the ``octstore-*`` keys, and spilling.

GCS custom metadata and S3 user metadata hold string values under these keys::

    octstore-id         the UUID
    octstore-timestamp  ISO 8601, absent when there is no timestamp
    octstore-labels     a JSON array, sorted
    octstore-tags       a JSON object, ASCII-escaped (S3 accepts only ASCII values)
    octstore-crc32c     the content's CRC32C (S3 only; GCS reports its own)
    octstore-sidecar    "1" when labels, tags and timestamp live in the sidecar object

When the keys would exceed the backend's limit (S3: 2 KB for all user metadata, counted as
the UTF-8 bytes of every key and value), labels, tags and timestamp spill into the sidecar
object ``.<name>.octstore.json`` beside the object, and the object keeps its id and hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress

from octstore.backends.sidecar_files import (
    dump_sidecar,
    load_sidecar,
    read_metadata_file,
    sidecar_name,
)
from octstore.errors import warn
from octstore.location import Location
from octstore.metadata import Metadata, read_stored, under_id_of
from octstore.state import ObjectState

__all__ = [
    "CRC32C",
    "ID",
    "LABELS",
    "SIDECAR",
    "TAGS",
    "TIMESTAMP",
    "decode",
    "describe_location",
    "encode",
    "encode_spilled",
    "encoded_size",
    "is_spilled",
    "octstore_keys",
    "read_spilled",
    "spilled_document",
    "stores_id",
    "write_spilled",
]

ID = "octstore-id"
TIMESTAMP = "octstore-timestamp"
LABELS = "octstore-labels"
TAGS = "octstore-tags"
CRC32C = "octstore-crc32c"
SIDECAR = "octstore-sidecar"
octstore_keys = (ID, TIMESTAMP, LABELS, TAGS, CRC32C, SIDECAR)


def encode(metadata: Metadata, crc32c: str | None = None) -> dict[str, str]:
    """The ``octstore-*`` keys for ``metadata`` (and the content hash, if given)."""
    document = metadata.model_dump(mode="json")
    keys = {
        ID: document["id"],
        LABELS: json.dumps(document["labels"], ensure_ascii=True, separators=(",", ":")),
        TAGS: json.dumps(
            document["tags"],
            ensure_ascii=True,
            sort_keys=True,
            separators=(",", ":"),
            allow_nan=False,
        ),
    }
    if document["timestamp"] is not None:
        keys[TIMESTAMP] = document["timestamp"]
    if crc32c is not None:
        keys[CRC32C] = crc32c
    return keys


def encode_spilled(metadata: Metadata, crc32c: str | None = None) -> dict[str, str]:
    """The keys an object keeps when its labels, tags and timestamp live in its sidecar."""
    keys = {ID: str(metadata.id), SIDECAR: "1"}
    if crc32c is not None:
        keys[CRC32C] = crc32c
    return keys


def encoded_size(keys: Mapping[str, str]) -> int:
    """The size S3 (2 KB) and GCS (8 KiB) count against their limits: UTF-8 bytes of every
    key and value."""
    return sum(len(key.encode("utf-8")) + len(value.encode("utf-8")) for key, value in keys.items())


def is_spilled(keys: Mapping[str, str | None]) -> bool:
    """Whether the object's labels, tags and timestamp live in its sidecar object."""
    return keys.get(SIDECAR) == "1"


def stores_id(keys: Mapping[str, str | None]) -> bool:
    """Whether ``keys`` (any case) hold an ``octstore-id``, valid or not."""
    return any(key.lower() == ID and value is not None for key, value in keys.items())


def decode(keys: Mapping[str, str | None], location: Location) -> Metadata | None:
    """The metadata in ``location``'s ``octstore-*`` keys, or None if there is none.

    Keys may come lower-cased (s3fs lower-cases them); values of None are absent. Labels,
    tags or a timestamp without an ``octstore-id`` (another tool wrote them) are read under
    the id derived from ``location``, not stored (the next write stores it). Keys that are
    not valid (not JSON, invalid labels, ...; written by something else) are ignored with a
    warning naming the object: the id alone is kept if it is valid. A malformed id is not a
    missing one: nothing is read then.
    """
    lowered = {key.lower(): value for key, value in keys.items() if value is not None}
    if not any(key in lowered for key in (ID, TIMESTAMP, LABELS, TAGS)):
        return None
    try:
        return read_stored(
            {
                "id": lowered.get(ID),
                "timestamp": lowered.get(TIMESTAMP),
                "labels": json.loads(lowered.get(LABELS, "[]")),
                "tags": json.loads(lowered.get(TAGS, "{}")),
            },
            location.derived_id,
        )
    except (ValueError, RecursionError) as error:  # InvalidMetadataError is a ValueError
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        warn(
            f"ignoring invalid octstore metadata of {location.url} ({problem}): set it again "
            "and update_metadata()",
            stacklevel=4,
        )
    try:
        return Metadata(id=lowered[ID]) if ID in lowered else None
    except ValueError:
        return None


def describe_location(location: Location, state: ObjectState) -> str:
    """Where an object's metadata is: its own ``octstore-*`` keys, and the sidecar object
    if it spilled there."""
    if state.details.get("spilled"):
        return f"object metadata, spilled into {_sidecar(location).url}"
    return "object metadata (octstore-* keys)"


def _sidecar(location: Location) -> Location:
    return location.sibling(sidecar_name(location.name))


def read_spilled(location: Location, in_object: Metadata) -> Metadata:
    """The metadata spilled into ``location``'s sidecar object, under the object's own id.

    The object is the authority on its id. If the sidecar is missing, a warning says so
    and only what the object itself holds is returned.
    """
    sidecar = _sidecar(location)
    data = read_metadata_file(sidecar)
    if data is None:
        warn(
            f"{location.url} keeps its labels, tags and timestamp in {sidecar.url}, which "
            "does not exist or cannot be read: reading its id only; set them again and "
            "update_metadata()",
            stacklevel=4,
        )
        return in_object
    spilled = load_sidecar(data, sidecar.url, location)
    return in_object if spilled is None else under_id_of(spilled, in_object)


def spilled_document(metadata: Metadata | None) -> bytes | None:
    """The sidecar object's document for spilled ``metadata`` (None: it did not spill).

    Make it before the object is written, so that metadata too large to be read back is
    refused before anything is written.

    Raises:
        InvalidMetadataError: If the document is larger than octstore reads back.
    """
    return dump_sidecar(metadata) if metadata is not None else None


def write_spilled(location: Location, document: bytes | None, *, stale: bool) -> None:
    """Write ``document`` (from :func:`spilled_document`) to ``location``'s sidecar object,
    or, if None, delete a ``stale`` one.

    Call it only after the object itself was written, so that a failed conditional write
    leaves the sidecar as it was.
    """
    sidecar = _sidecar(location)
    fs = location.fs
    if document is not None:
        fs.pipe_file(sidecar.fs_path, document)
    elif stale:
        with suppress(FileNotFoundError):
            fs.rm_file(sidecar.fs_path)
    fs.invalidate_cache(location.fs_path)
    fs.invalidate_cache(sidecar.fs_path)
