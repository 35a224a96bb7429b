"""The actions a lookup may name, by the type of the value it tests (octue's set): each action
turns the lookup's value into a test of one attribute value."""

from __future__ import annotations

import contextlib
import numbers
import operator
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timezone
from functools import partial
from typing import Any

from octstore.errors import FilterError

#: A test of one attribute value.
_Test = Callable[[Any], bool]


#: Given the value a lookup compares with, the test of an attribute value.
_Action = Callable[[Any], _Test]


def _negated(action: _Action) -> _Action:
    def negated_action(value: Any) -> _Test:
        test = action(value)
        return lambda item: not test(item)

    return negated_action


def _with_negation(name: str, action: _Action) -> dict[str, _Action]:
    negation = "is_not" if name == "is" else f"not_{name}"
    return {name: action, negation: _negated(action)}


def _pair(value: Any) -> tuple[Any, Any]:
    try:
        low, high = value
    except (TypeError, ValueError):
        raise FilterError(
            f"a range must be a (low, high) pair, not {value!r}; e.g. in_range=(1, 10)"
        ) from None
    return low, high


def _in_range(value: Any) -> _Test:
    low, high = _pair(value)
    return lambda item: bool(low <= item <= high)


def _casefold(value: Any) -> str:
    if not isinstance(value, str):
        raise FilterError(f"a case-insensitive action compares with a str, not {value!r}")
    return value.casefold()


def _iequals(value: Any) -> _Test:
    folded = _casefold(value)
    return lambda item: bool(item.casefold() == folded)


def _str_icontains(value: Any) -> _Test:
    folded = _casefold(value)
    return lambda item: folded in item.casefold()


def _icontains_member(value: Any) -> _Test:
    folded = _casefold(value)
    return lambda item: any(
        isinstance(member, str) and member.casefold() == folded for member in item
    )


def _any_label(method: str) -> _Action:
    def action(value: Any) -> _Test:
        test = operator.methodcaller(method, value)
        return lambda item: any(isinstance(label, str) and test(label) for label in item)

    return action


_EQUALS = _with_negation("equals", lambda value: partial(operator.eq, value))


_IS = _with_negation("is", lambda value: partial(operator.is_, value))


_COMPARISONS: dict[str, _Action] = {
    # The reflected operator (``value > item`` for ``item < value``) is a C call, not a lambda.
    "lt": lambda value: partial(operator.gt, value),
    "lte": lambda value: partial(operator.ge, value),
    "gt": lambda value: partial(operator.lt, value),
    "gte": lambda value: partial(operator.le, value),
    **_with_negation("in_range", _in_range),
}


_CONTAINS = _with_negation("contains", lambda value: lambda item: value in item)


_ANY_ACTIONS = {**_EQUALS, **_IS}


_NUMBER_ACTIONS = {**_ANY_ACTIONS, **_COMPARISONS}


_STR_ACTIONS = {
    **_NUMBER_ACTIONS,
    **_with_negation("iequals", _iequals),
    **_CONTAINS,
    **_with_negation("icontains", _str_icontains),
    **_with_negation("starts_with", lambda value: operator.methodcaller("startswith", value)),
    **_with_negation("ends_with", lambda value: operator.methodcaller("endswith", value)),
}


_MAPPING_ACTIONS = {**_ANY_ACTIONS, **_CONTAINS, **_with_negation("icontains", _icontains_member)}


_COLLECTION_ACTIONS = {
    **_MAPPING_ACTIONS,
    **_with_negation("any_label_contains", _any_label("__contains__")),
    **_with_negation("any_label_starts_with", _any_label("startswith")),
    **_with_negation("any_label_ends_with", _any_label("endswith")),
}


def _as_utc(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive datetime is taken as UTC, as octstore stores it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _utc_value(value: Any) -> Any:
    """A datetime to compare with, from a datetime or an ISO 8601 string (as a shell gives)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    return _as_utc(value) if isinstance(value, datetime) else value


def _moment_compared(compare: Callable[[Any, Any], Any]) -> _Action:
    """An action comparing datetimes; naive ones on either side are taken as UTC."""

    def action(value: Any) -> _Test:
        value = _utc_value(value)
        return lambda item: bool(compare(_as_utc(item), value))

    return action


def _moment_in_range(value: Any) -> _Test:
    low, high = map(_utc_value, _pair(value))
    return lambda item: bool(low <= _as_utc(item) <= high)


def _part_equals(part: Callable[[datetime], Any]) -> _Action:
    return lambda value: lambda item: bool(part(item) == value)


def _part_in(part: Callable[[datetime], Any]) -> _Action:
    return lambda value: lambda item: part(item) in value


def _part_in_range(part: Callable[[datetime], Any]) -> _Action:
    def action(value: Any) -> _Test:
        low, high = _pair(value)
        return lambda item: bool(low <= part(item) <= high)

    return action


_DATETIME_PARTS: dict[str, Callable[[datetime], Any]] = {
    "year": operator.attrgetter("year"),
    "month": operator.attrgetter("month"),
    "day": operator.attrgetter("day"),
    "weekday": datetime.weekday,
    "iso_weekday": datetime.isoweekday,
    "time": datetime.time,
    "hour": operator.attrgetter("hour"),
    "minute": operator.attrgetter("minute"),
    "second": operator.attrgetter("second"),
}


_DATETIME_ACTIONS: dict[str, _Action] = {
    **_with_negation("equals", _moment_compared(operator.eq)),
    **_IS,
    "lt": _moment_compared(operator.lt),
    "lte": _moment_compared(operator.le),
    "gt": _moment_compared(operator.gt),
    "gte": _moment_compared(operator.ge),
    **_with_negation("in_range", _moment_in_range),
    **{f"{name}_equals": _part_equals(part) for name, part in _DATETIME_PARTS.items()},
    **{f"{name}_in": _part_in(part) for name, part in _DATETIME_PARTS.items()},
    "in_date_range": _part_in_range(datetime.date),
    "in_time_range": _part_in_range(datetime.time),
}


#: Every action name, to tell ``a__b__gt=1`` (an action) from ``tags__site="x"`` (a key).
_ACTIONS_BY_TYPE: dict[type, dict[str, _Action]] = {}


_ACTION_NAMES = frozenset().union(
    _STR_ACTIONS, _NUMBER_ACTIONS, _COLLECTION_ACTIONS, _DATETIME_ACTIONS
)


def _actions_for(kind: type) -> dict[str, _Action]:
    """The actions for values of type ``kind``, by type then by interface (remembered)."""
    try:
        return _ACTIONS_BY_TYPE[kind]
    except KeyError:
        actions = _ACTIONS_BY_TYPE[kind] = _find_actions(kind)
        return actions


def _find_actions(kind: type) -> dict[str, _Action]:
    if issubclass(kind, _FUNCTIONS):  # a method named by mistake: nothing to compare
        return {}
    if issubclass(kind, bool) or kind is type(None):
        return _ANY_ACTIONS
    if issubclass(kind, str):
        return _STR_ACTIONS
    if issubclass(kind, datetime):
        return _DATETIME_ACTIONS
    if issubclass(kind, (numbers.Number, date, time)):
        return _NUMBER_ACTIONS
    if issubclass(kind, Mapping):
        return _MAPPING_ACTIONS
    if issubclass(kind, Iterable) and not issubclass(kind, (bytes, bytearray)):
        return _COLLECTION_ACTIONS
    return _ANY_ACTIONS


#: The types of functions and methods, whose values no lookup compares.
_FUNCTIONS = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    partial,
)

_IS_COMPARED: dict[type, bool] = {}


def _is_compared(kind: type) -> bool:
    """Whether values of ``kind`` (str, number, collection...) are compared, not looked into."""
    try:
        return _IS_COMPARED[kind]
    except KeyError:
        actions = _actions_for(kind)
        compared = actions is not _MAPPING_ACTIONS and (
            actions is not _ANY_ACTIONS or issubclass(kind, bool)
        )
        _IS_COMPARED[kind] = compared
        return compared
