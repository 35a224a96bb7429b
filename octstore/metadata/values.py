"""Labels and tags: the rules a label, a tag name and a tag value follow (octue's, so octue data
migrates unchanged), and the :class:`LabelSet` and :class:`TagDict` that check every mutation."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from pydantic import (
    GetCoreSchemaHandler,
)
from pydantic_core import core_schema

from octstore.errors import InvalidLabelError, InvalidTagError

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


#: One copy of each label and tag name seen (up to a bound): the many datafiles of a loaded
#: dataset mostly share a few, and would otherwise each hold their own copies.
_names: dict[str, str] = {}
_NAMES_LIMIT = 100_000


def _shared(name: str) -> str:
    """``name``, as the one copy of it kept in :data:`_names` if there is room."""
    if len(_names) < _NAMES_LIMIT:
        return _names.setdefault(name, name)
    return _names.get(name, name)


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
            return _shared(stripped)
    rule = "lowercase letters, digits and '-', starting and ending with a letter or digit"
    raise InvalidLabelError(_invalid_name_message("label", label, rule, "-"))


def validate_tag_name(name: object) -> str:
    """Return ``name`` if it is a valid tag name.

    Raises:
        InvalidTagError: If it is not, with a suggested valid spelling.
    """
    if isinstance(name, str) and _TAG_NAME.fullmatch(name):
        return _shared(name)
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
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the most common: fast
        return value  # type: ignore[return-value]  # (mypy cannot narrow by type())
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if isinstance(value, (bool, str)):
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
