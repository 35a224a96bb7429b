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

from __future__ import annotations

import math
import numbers
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic_core import core_schema

from octstore.errors import InvalidLabelError, InvalidMetadataError, InvalidTagError
from octstore.hashing import canonical_json, crc32c_bytes

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_TAG_DEPTH",
    "JsonValue",
    "LabelSet",
    "Metadata",
    "TagDict",
    "check_document_size",
    "validate_label",
    "validate_tag_name",
    "validate_tag_value",
]

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"

_LABEL = re.compile(r"[a-z0-9][a-z0-9-]*(?<!-)")
_TAG_NAME = re.compile(r"[a-z0-9][a-z0-9_]*(?<!_)")
_LABEL_SEPARATORS = re.compile(r"[\s,]+")


def _suggestion(text: str, separator: str) -> str:
    """A valid spelling of ``text``, or "" when nothing of it survives."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", separator, folded.lower()).strip(separator)


def _invalid_name_message(kind: str, name: object, rule: str, separator: str) -> str:
    message = f"{kind} {name!r} is invalid: {kind}s are {rule}"
    suggestion = _suggestion(name, separator) if isinstance(name, str) else ""
    return f"{message}; try {suggestion!r}" if suggestion else message


def validate_label(label: object) -> str:
    """Return ``label`` stripped of surrounding white space if it is a valid label.

    Raises:
        InvalidLabelError: If it is not, with a suggested valid spelling.

    Examples:
        >>> validate_label(" raw ")
        'raw'
    """
    if isinstance(label, str):
        stripped = label.strip()
        if _LABEL.fullmatch(stripped):
            return stripped
    rule = "lowercase letters, digits and '-', starting and ending with a letter or digit"
    raise InvalidLabelError(_invalid_name_message("label", label, rule, "-"))


def validate_tag_name(name: object) -> str:
    """Return ``name`` if it is a valid tag name.

    Raises:
        InvalidTagError: If it is not, with a suggested valid spelling.
    """
    if isinstance(name, str) and _TAG_NAME.fullmatch(name):
        return name
    rule = "lowercase letters, digits and '_', starting and ending with a letter or digit"
    raise InvalidTagError(_invalid_name_message("tag name", name, rule, "_"))


def validate_tag_value(value: object, name: str = "?") -> JsonValue:
    """Return a fresh JSON-safe copy of ``value`` (tuples become lists).

    Raises:
        InvalidTagError: If ``value`` holds anything JSON cannot represent exactly: NaN or
            an infinity, a dict key that is not a string, or a non-JSON type such as a set;
            or if it nests lists and dicts deeper than :data:`MAX_TAG_DEPTH` (or holds itself).
    """
    return _json_value(value, name, where="")


#: How deeply lists and dicts may nest in a tag value: far beyond any real use, well within
#: what every JSON parser reading it back accepts.
MAX_TAG_DEPTH = 64


def _json_value(value: object, name: str, where: str, depth: int = 0) -> JsonValue:
    if depth > MAX_TAG_DEPTH:
        raise InvalidTagError(
            f"tag {name!r} nests lists or dicts more than {MAX_TAG_DEPTH} deep (or holds "
            "itself): flatten it"
        )
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidTagError(
                f"tag {name!r}{where} is {number}: JSON cannot store NaN or infinities; "
                "use None for a missing number"
            )
        return number
    if isinstance(value, (list, tuple)):
        return [_json_value(item, name, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        result: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidTagError(
                    f"tag {name!r}{where} has the key {key!r}: JSON object keys are "
                    f"strings; try {str(key)!r}"
                )
            result[key] = _json_value(item, name, f"{where}[{key!r}]", depth + 1)
        return result
    raise InvalidTagError(
        f"tag {name!r}{where} is a {type(value).__name__}, which is not a JSON value: "
        "use str, int, float, bool, None, or lists and dicts of those"
    )


def _labels_from(labels: Iterable[str] | str | None) -> Iterator[str]:
    if labels is None:
        return iter(())
    if isinstance(labels, str):
        # A label holds no white space or commas, so a string is an unambiguous list.
        return iter(part for part in _LABEL_SEPARATORS.split(labels) if part)
    return iter(labels)


def _plain_schema(
    cls: type[Any], serialize: Callable[[Any], Any], json_input: core_schema.CoreSchema
) -> core_schema.CoreSchema:
    """A pydantic schema that builds ``cls`` from any input and serialises it plainly."""
    return core_schema.no_info_plain_validator_function(
        cls,
        json_schema_input_schema=json_input,
        serialization=core_schema.plain_serializer_function_ser_schema(
            serialize, return_schema=json_input
        ),
    )


class LabelSet(set[str]):
    """A set of labels that refuses an invalid label on every way in.

    A string is read as labels separated by white space or commas, as octue reads it.

    Examples:
        >>> labels = LabelSet("raw, wind-speed")
        >>> labels.add("Processed")
        Traceback (most recent call last):
        ...
        octstore.errors.InvalidLabelError: label 'Processed' is invalid: labels are \
lowercase letters, digits and '-', starting and ending with a letter or digit; try 'processed'
    """

    def __init__(self, labels: Iterable[str] | str | None = None) -> None:
        super().__init__()
        self.update(labels)

    def add(self, label: str) -> None:
        """Add one label, stripped of surrounding white space."""
        super().add(validate_label(label))

    def update(self, *others: Iterable[str] | str | None) -> None:
        """Add every label of each of ``others``; nothing is added if any is invalid."""
        super().update([validate_label(label) for other in others for label in _labels_from(other)])

    def symmetric_difference_update(self, other: Iterable[str]) -> None:
        """Keep the labels in exactly one of this set and ``other``."""
        super().symmetric_difference_update(LabelSet(other))

    def __ior__(self, other: Iterable[str]) -> LabelSet:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __ixor__(self, other: Iterable[str]) -> LabelSet:  # type: ignore[override,misc]
        self.symmetric_difference_update(other)
        return self

    def copy(self) -> LabelSet:
        """A shallow copy that is still a LabelSet."""
        return LabelSet(self)

    def any_label_starts_with(self, prefix: str) -> bool:
        """Whether any label starts with ``prefix``."""
        return any(label.startswith(prefix) for label in self)

    def any_label_ends_with(self, suffix: str) -> bool:
        """Whether any label ends with ``suffix``."""
        return any(label.endswith(suffix) for label in self)

    def any_label_contains(self, text: str) -> bool:
        """Whether any label contains ``text``."""
        return any(text in label for label in self)

    def __repr__(self) -> str:
        return f"LabelSet({sorted(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _plain_schema(cls, sorted, core_schema.list_schema(core_schema.str_schema()))


class TagDict(dict[str, JsonValue]):
    """A dict of tags that refuses an invalid name or a non-JSON value on every way in.

    Values are stored as fresh JSON-safe copies, so later changes to the object that was
    passed in do not reach the tags unchecked.

    Examples:
        >>> tags = TagDict(site="north")
        >>> tags["height_m"] = 80.5
        >>> tags["wind speed"] = 1
        Traceback (most recent call last):
        ...
        octstore.errors.InvalidTagError: tag name 'wind speed' is invalid: tag names are \
lowercase letters, digits and '_', starting and ending with a letter or digit; try 'wind_speed'
    """

    def __init__(
        self, tags: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None, /, **kwargs: Any
    ) -> None:
        super().__init__()
        self.update(tags or {}, **kwargs)

    @staticmethod
    def _checked(items: Iterable[tuple[Any, Any]]) -> dict[str, JsonValue]:
        checked: dict[str, JsonValue] = {}
        for name, value in items:
            checked[validate_tag_name(name)] = validate_tag_value(value, name)
        return checked

    def __setitem__(self, name: str, value: Any) -> None:
        super().update(self._checked([(name, value)]))

    def update(  # type: ignore[override]
        self, tags: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /, **kwargs: Any
    ) -> None:
        """Set several tags; nothing is set if any name or value is invalid."""
        pairs = tags.items() if isinstance(tags, Mapping) else tags
        super().update(self._checked([*pairs, *kwargs.items()]))

    def setdefault(self, name: str, default: Any = None) -> JsonValue:  # type: ignore[override]
        """Return the tag ``name``, setting it to ``default`` first if it is missing."""
        if name not in self:
            self[name] = default
        return self[name]

    def __ior__(self, other: Any) -> TagDict:  # type: ignore[override]
        self.update(other)
        return self

    def __or__(self, other: Any) -> TagDict:  # type: ignore[override]
        merged = self.copy()
        merged.update(other)
        return merged

    def copy(self) -> TagDict:
        """A shallow copy that is still a TagDict."""
        return TagDict(self)

    @classmethod
    def fromkeys(cls, names: Iterable[str], value: Any = None) -> TagDict:  # type: ignore[override]
        """A TagDict with each of ``names`` set to ``value``."""
        return cls((name, value) for name in names)

    def __repr__(self) -> str:
        return f"TagDict({dict(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _plain_schema(
            cls, dict, core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())
        )


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
