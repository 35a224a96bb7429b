"""The :class:`Metadata` model: a whole document of labels, tags, a timestamp and an id, checked
as one, with the hash and size bound every backend uses."""

from __future__ import annotations

import math
import numbers
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from octstore.errors import InvalidMetadataError
from octstore.hashing import canonical_json, crc32c_bytes
from octstore.metadata.values import JsonValue, LabelSet, TagDict


@contextmanager
def _as_octstore_errors() -> Iterator[None]:
    """Re-raise a pydantic ValidationError as the octstore error behind it."""
    try:
        yield
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, InvalidMetadataError):
            raise cause from None
        field = ".".join(str(part) for part in first["loc"]) or "metadata"
        raise InvalidMetadataError(
            f"{field} {first.get('input')!r} is invalid: {first['msg']}"
        ) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _from_posix_seconds(value: Any) -> Any:
    """``value`` as a UTC datetime if it is a number of POSIX seconds (or a string of one),
    else ``value`` unchanged.

    Raises:
        InvalidMetadataError: If the number is not finite or falls outside the years 1-9999.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        return value
    try:
        seconds = float(value)
    except ValueError:  # a string that is not a number: an ISO 8601 date, say
        return value
    except OverflowError:  # an int beyond any float
        seconds = math.inf
    try:
        if not math.isfinite(seconds):
            raise OverflowError
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidMetadataError(
            f"timestamp {value!r} is out of range: a number is POSIX seconds, and this one "
            "falls outside the years 1 to 9999; use seconds since 1970 (not milliseconds) "
            "or an ISO 8601 string"
        ) from None


class Metadata(BaseModel):
    """The metadata of one datafile.

    Attributes:
        id: A UUID, immutable once the datafile's metadata is stored.
        timestamp: A timezone-aware datetime, kept in UTC (a naive one is taken as UTC), or
            None.
        labels: The datafile's labels.
        tags: The datafile's tags.
    """

    model_config = ConfigDict(validate_assignment=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    timestamp: datetime | None = None
    labels: LabelSet = Field(default_factory=LabelSet)
    tags: TagDict = Field(default_factory=TagDict)

    #: The fields that ``metadata_hash_value`` covers: everything but the id.
    hashed_fields: ClassVar[tuple[str, ...]] = ("labels", "tags", "timestamp")

    def __init__(self, **data: Any) -> None:
        with _as_octstore_errors():
            super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        with _as_octstore_errors():
            super().__setattr__(name, value)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Metadata:
        with _as_octstore_errors():
            return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Metadata:
        with _as_octstore_errors():
            return super().model_validate_json(json_data, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Metadata:
        """A copy that shares nothing mutable (``model_copy(deep=True)``), made from values
        known to be valid without validating them again, nor walking them generically as
        ``copy.deepcopy`` does: every datafile of a loaded dataset makes one."""
        labels = LabelSet.__new__(LabelSet)
        set.update(labels, self.labels)
        tags = TagDict.__new__(TagDict)
        dict.update(tags, {name: _json_copy(value) for name, value in self.tags.items()})
        return self.model_construct(
            _fields_set=set(self.model_fields_set),
            id=self.id,
            timestamp=self.timestamp,
            labels=labels,
            tags=tags,
        )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _posix_seconds(cls, value: Any) -> Any:
        """A number, or a string holding one, is POSIX seconds, whatever its size (pydantic
        alone would read one above 2e10 as milliseconds)."""
        return _from_posix_seconds(value)

    @field_validator("timestamp", mode="after")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=timezone.utc)
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise InvalidMetadataError(
                f"timestamp {value.isoformat()!r} is out of range: in UTC it falls outside "
                "the years 1 to 9999; use a timestamp within them"
            ) from None

    @field_serializer("timestamp", when_used="json")
    def _isoformat(self, value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    def hashed_json(self) -> str:
        """The canonical JSON that ``metadata_hash_value`` is computed over."""
        document = self.model_dump(mode="json", include=set(self.hashed_fields))
        return canonical_json(document)

    @property
    def metadata_hash_value(self) -> str:
        """The CRC32C (GCS encoding) of the canonical JSON of labels, tags and timestamp."""
        return crc32c_bytes(self.hashed_json().encode("utf-8"))


def _json_copy(value: JsonValue) -> JsonValue:
    """A copy of a valid tag value: its lists and dicts new, the rest immutable."""
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    return value


def read_stored(document: Mapping[str, Any], derived_id: Callable[[], uuid.UUID]) -> Metadata:
    """The metadata in a stored ``document`` (a sidecar's, an object's keys, octue's).

    Where the document has no id (another tool stored only labels, tags and a timestamp),
    the id is the file's ``derived_id()`` (never a random one, so that every read agrees),
    and :func:`id_is_stored` says it is not stored: the next write stores it.

    Raises:
        InvalidMetadataError: If the document is not valid metadata (a malformed id too).
    """
    if document.get("id") is not None:
        return Metadata.model_validate(document)
    metadata = Metadata.model_validate({**document, "id": derived_id()})
    metadata.model_fields_set.discard("id")
    return metadata


def id_is_stored(metadata: Metadata) -> bool:
    """Whether stored ``metadata`` (a backend's reading) has its id from storage, rather than
    derived by :func:`read_stored` because none was stored."""
    return "id" in metadata.model_fields_set


def under_id_of(metadata: Metadata, owner: Metadata) -> Metadata:
    """``metadata`` under ``owner``'s id, stored or not as ``owner``'s is."""
    moved = metadata.model_copy(update={"id": owner.id})
    if not id_is_stored(owner):
        moved.model_fields_set.discard("id")
    return moved


#: The largest metadata document (as JSON) octstore writes, and reads back: far beyond any
#: real use, small enough that a hostile metadata file cannot exhaust a reader's memory.
MAX_DOCUMENT_BYTES = 2**20


def check_document_size(metadata: Metadata, where: str) -> None:
    """Refuse metadata too large to be read back, before anything is written.

    Raises:
        InvalidMetadataError: If its JSON document exceeds :data:`MAX_DOCUMENT_BYTES`.
    """
    size = len(metadata.model_dump_json().encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES - 4096:  # room for the sidecar's indentation
        raise InvalidMetadataError(
            f"the metadata of {where} is {size} bytes as JSON, more than octstore reads back "
            f"({MAX_DOCUMENT_BYTES} bytes): keep large data in files, not in tags"
        )
