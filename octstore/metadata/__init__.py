"""Datafile metadata: labels, tags, a timestamp and an immutable id.

The rules are octue's, so octue data migrates unchanged:

- a label is lowercase ASCII letters, digits and inner hyphens (``raw``, ``wind-speed``);
- a tag name is lowercase ASCII letters, digits and inner underscores (``wind_speed``);
- a tag value is any JSON value: ``str``, ``int``, ``float`` (finite), ``bool``, ``None``,
  and lists and string-keyed dicts of those.

:class:`LabelSet` and :class:`TagDict` check every mutation, so invalid metadata cannot be
built up piecemeal, and the :class:`Metadata` model checks whole documents.

Examples:
    >>> from octstore import Metadata
    >>> meta = Metadata(labels=["raw"], tags={"site": "north"})
    >>> meta.labels.add("wind-speed")
    >>> sorted(meta.labels)
    ['raw', 'wind-speed']
    >>> meta.tags["height_m"] = 80
    >>> meta.metadata_hash_value == Metadata(labels=meta.labels, tags=meta.tags).metadata_hash_value
    True
"""

from octstore.metadata.model import (
    MAX_DOCUMENT_BYTES,
    Metadata,
    check_document_size,
    id_is_stored,
    read_stored,
    under_id_of,
)
from octstore.metadata.values import (
    MAX_TAG_DEPTH,
    JsonValue,
    LabelSet,
    TagDict,
    validate_label,
    validate_tag_name,
    validate_tag_value,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_TAG_DEPTH",
    "JsonValue",
    "LabelSet",
    "Metadata",
    "TagDict",
    "check_document_size",
    "id_is_stored",
    "read_stored",
    "under_id_of",
    "validate_label",
    "validate_tag_name",
    "validate_tag_value",
]
