"""Read-only compatibility with metadata written by octue.

octue keeps local metadata in one ``.octue`` JSON file per directory,
``{"datafiles": {"<file name>": {"id", "timestamp", "tags", "labels", "sdk_version"}}}``, and
GCS metadata in the keys ``octue__id``, ``octue__timestamp``, ``octue__tags``,
``octue__labels`` (each value a JSON string). In both, sets are written as
``{"_type": "set", "items": [...]}`` and datetimes as ``{"_type": "datetime", "value": iso}``.
octstore reads these as if it had written them, and writes only its own format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from octstore.errors import warn
from octstore.location import Location
from octstore.metadata import Metadata, read_stored

__all__ = [
    "DIRECTORY_FILE",
    "dataset_fields",
    "from_directory_file",
    "from_gcs_metadata",
    "stores_id",
]

#: The name of octue's per-directory metadata file.
DIRECTORY_FILE = ".octue"
_GCS_PREFIX = "octue__"


def _decode(value: Any) -> Any:
    """Undo octue's encoding of sets and datetimes, recursively."""
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("_type")
    if kind == "set":
        return {_decode(item) for item in value.get("items", [])}
    if kind == "datetime":
        return datetime.fromisoformat(value["value"])
    return {key: _decode(item) for key, item in value.items()}


#: octue's metadata fields (its documents also hold ``sdk_version``).
_FIELDS = ("id", "timestamp", "labels", "tags")


def _metadata(fields: Mapping[str, Any], location: Location) -> Metadata:
    document = {key: fields[key] for key in _FIELDS if fields.get(key) is not None}
    return read_stored(document, location.derived_id)


#: What reading metadata that is not valid octue metadata raises (InvalidMetadataError is a
#: ValueError).
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, RecursionError)


def from_directory_file(data: bytes, location: Location, where: str) -> Metadata | None:
    """The metadata of ``location`` in the bytes of its folder's ``.octue`` file, if it has
    any; an entry without an id is read under the id derived from ``location``.

    Metadata that is not valid is ignored with a warning naming ``where``.
    """
    try:
        entry = json.loads(data)["datafiles"][location.name]
    except KeyError:
        return None
    except _UNREADABLE as error:
        warn(f"ignoring unreadable octue metadata {where}: {error}", stacklevel=3)
        return None
    try:
        return _metadata(_decode(entry), location)
    except _UNREADABLE as error:
        warn(f"ignoring invalid octue metadata {where}: {error}", stacklevel=3)
        return None


def dataset_fields(data: bytes, where: str) -> dict[str, Any] | None:
    """A dataset's own id, name, labels and tags from the bytes of the ``.octue`` file in its
    directory (its ``"dataset"`` entry), decoded; None if it has none or it is unreadable
    (with a warning naming ``where``)."""
    try:
        entry = json.loads(data).get("dataset")
        if not isinstance(entry, dict):
            return None
        decoded = _decode(entry)
        fields = {key: decoded[key] for key in ("id", "name", "labels", "tags") if key in decoded}
        if isinstance(fields.get("labels"), set):
            fields["labels"] = sorted(fields["labels"])
        return fields
    except _UNREADABLE as error:
        warn(f"ignoring unreadable octue dataset metadata {where}: {error}", stacklevel=3)
        return None


def stores_id(custom: Mapping[str, str | None]) -> bool:
    """Whether GCS custom metadata ``custom`` holds an ``octue__id``, valid or not."""
    return custom.get(_GCS_PREFIX + "id") is not None


def from_gcs_metadata(custom: Mapping[str, str | None], location: Location) -> Metadata | None:
    """The metadata in ``location``'s ``octue__*`` GCS custom metadata keys, if there are
    any; without ``octue__id``, under the id derived from ``location``.

    Metadata that is not valid is ignored with a warning naming the object.
    """
    try:
        fields = {
            key.removeprefix(_GCS_PREFIX): _decode(json.loads(value))
            for key, value in custom.items()
            if key.startswith(_GCS_PREFIX) and value is not None
        }
        return _metadata(fields, location) if any(key in fields for key in _FIELDS) else None
    except _UNREADABLE as error:
        warn(f"ignoring invalid octue metadata of {location.url}: {error}", stacklevel=3)
        return None
