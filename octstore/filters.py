"""Filtering collections of objects with octue's lookup syntax.

A lookup is a keyword argument ``<attribute>__<action>=<value>``. The attribute may be
nested with ``__`` (a dict is indexed by key, any other object by attribute), and a lookup
without an action means ``equals``::

    files.filter(labels__contains="raw", tags__manufacturer="Vestas", size__gt=1024)

The actions available depend on the type of the attribute's value, as in octue:

- any value: ``equals``, ``not_equals``, ``is``, ``is_not`` (``is`` is identity, as in
  Python);
- numbers, dates and times: those, ``lt``, ``lte``, ``gt``, ``gte``, ``in_range``,
  ``not_in_range``;
- ``str``: the number ones, ``iequals``, ``contains``, ``icontains``, ``starts_with``,
  ``ends_with`` and their ``not_`` forms;
- ``datetime``: the number ones, ``year_equals``, ``year_in``, and likewise ``month_``,
  ``day_``, ``weekday_``, ``iso_weekday_``, ``time_``, ``hour_``, ``minute_``, ``second_``,
  then ``in_date_range`` and ``in_time_range``; a naive datetime on either side is UTC,
  and the comparisons take an ISO 8601 string too (``timestamp__gt="2024-05-01"``);
- dicts (``TagDict``): ``equals``, ``is``, ``contains`` and ``icontains`` (a key) and their
  negations;
- other collections (``LabelSet``, sets, lists): ``equals``, ``is``, ``contains``,
  ``icontains`` (a member), ``any_label_contains``, ``any_label_starts_with``,
  ``any_label_ends_with`` and their negations.

An attribute that is ``None`` matches only ``equals``, ``not_equals``, ``is`` and ``is_not``;
any other action is false for it.

Each lookup is compiled once into a predicate; filtering then applies the predicates to each
object with no parsing, so large collections filter quickly.

Examples:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Turbine:
    ...     name: str
    ...     height: int
    >>> turbines = FilterSet([Turbine("a1", 80), Turbine("b2", 120), Turbine("b3", 95)])
    >>> sorted(t.name for t in turbines.filter(name__starts_with="b", height__lt=100))
    ['b3']
    >>> [t.name for t in turbines.order_by("height", reverse=True)]
    ['b2', 'b3', 'a1']
"""

from __future__ import annotations

import contextlib
import difflib
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timezone
from functools import partial
from typing import Any, TypeVar

from octstore.errors import OctstoreError

__all__ = [
    "FilterError",
    "FilterList",
    "FilterSet",
    "NoSingleMatchError",
    "compile_filter",
]

T = TypeVar("T")
_FS = TypeVar("_FS", bound="FilterSet[Any]")
_FL = TypeVar("_FL", bound="FilterList[Any]")

#: A test of one attribute value.
_Test = Callable[[Any], bool]
#: Given the value a lookup compares with, the test of an attribute value.
_Action = Callable[[Any], _Test]


class FilterError(OctstoreError, ValueError):
    """A lookup that cannot be applied: an unknown action, a malformed name or a bad value."""


class NoSingleMatchError(FilterError, LookupError):
    """``one()`` found no object, or more than one, matching the lookups.

    Attributes:
        count: How many objects matched.
    """

    def __init__(self, message: str, *, count: int) -> None:
        super().__init__(message)
        self.count = count

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_no_single_match, (str(self), self.count))


def _rebuild_no_single_match(message: str, count: int) -> NoSingleMatchError:
    return NoSingleMatchError(message, count=count)


class _Missing:
    """The marker for an attribute or key that an object does not have."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


# --- Actions -------------------------------------------------------------------------------
# Each action takes the lookup's value once and returns the test applied to every object, so
# work that depends only on the value (case folding, time zones) is done once per filter.


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


# --- Compiling lookups ---------------------------------------------------------------------


_IS_MAPPING: dict[type, bool] = {}


def _is_mapping(kind: type) -> bool:
    is_mapping = _IS_MAPPING[kind] = issubclass(kind, Mapping)
    return is_mapping


def _step(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise; ``_MISSING`` if there is none."""
    is_mapping = _IS_MAPPING.get(type(obj))
    if is_mapping is None:
        is_mapping = _is_mapping(type(obj))
    return obj.get(name, _MISSING) if is_mapping else getattr(obj, name, _MISSING)


def _getter(path: tuple[str, ...]) -> Callable[[Any], Any]:
    """A function returning the value at ``path`` in an object, or ``_MISSING``."""
    if len(path) == 1:
        (name,) = path
        return partial(_step, name=name)

    def get(obj: Any) -> Any:
        for name in path:
            obj = _step(obj, name)
            if obj is _MISSING:
                break
        return obj

    return get


def _split(key: str) -> list[str]:
    parts = key.split("__")
    if not all(parts):
        raise FilterError(
            f"lookup {key!r} is malformed: write <attribute>[__<key or attribute>...][__<action>], "
            "e.g. tags__manufacturer__equals or size__gt"
        )
    return parts


class _Lookup:
    """One keyword lookup, compiled: the path to the attribute, the action and its value."""

    def __init__(self, key: str, value: Any, strict: bool) -> None:
        parts = _split(key)
        self.key = key
        self.value = value
        self.strict = strict
        # ``tags__site="x"`` names the tag "site", not an action called "site": the last part
        # is an action only if one is called that, else the lookup is a shorthand for equals.
        self.shorthand = len(parts) == 1 or parts[-1] not in _ACTION_NAMES
        self.action = "equals" if self.shorthand else parts[-1]
        self.path = tuple(parts if self.shorthand else parts[:-1])
        self.attribute = "__".join(self.path)
        self._tests: dict[type, _Test] = {}
        if len(parts) == 1 or not self.shorthand:
            self.get = _getter(self.path)
        else:
            self._get_parent = _getter(self.path[:-1])
            self.get = self._get_last

    def _get_last(self, obj: Any) -> Any:
        """The value of a shorthand lookup, refusing a mistyped action as ``name__startswith``."""
        parent = self._get_parent(obj)
        if parent is _MISSING or parent is None:
            return _MISSING
        value = _step(parent, self.path[-1])
        # A str, number, datetime or collection is compared, not looked into, unless the name
        # is a data attribute of it (``timestamp__year=2024``); a method is not.
        if _is_compared(type(parent)) and (value is _MISSING or callable(value)):
            raise self._unknown_action(self.path[-1], "__".join(self.path[:-1]), parent, obj)
        return value

    def _unknown_action(self, action: str, attribute: str, value: Any, obj: Any) -> FilterError:
        kind = type(value).__name__
        valid = sorted(_actions_for(type(value)))
        close = difflib.get_close_matches(action, valid, n=1)
        hint = f"; did you mean {attribute}__{close[0]}?" if close else ""
        return FilterError(
            f"lookup {self.key!r}: there is no action {action!r} for {attribute!r}, whose value "
            f"on {obj!r} is the {kind} {value!r}; the actions for {kind} values are: "
            f"{', '.join(valid)}{hint}"
        )

    def _test_for(self, value: Any, obj: Any) -> _Test:
        kind = type(value)
        actions = _actions_for(kind)
        action = actions.get(self.action)
        if action is None:
            if value is None:
                # A missing value (a datafile without a timestamp) matches no comparison.
                test: _Test = _never
            else:
                raise self._unknown_action(self.action, self.attribute, value, obj)
        else:
            test = action(self.value)
        self._tests[kind] = test
        return test

    def compile(self) -> Callable[[Any], bool]:
        """The test of one object, with everything it uses bound to local names."""
        get, tests, test_for, strict = self.get, self._tests, self._test_for, self.strict

        def matches(obj: Any) -> bool:
            value = get(obj)
            if value is _MISSING:
                if strict:
                    raise self._missing(obj)
                return False
            test = tests.get(type(value)) or test_for(value, obj)
            try:
                return test(value)
            except (TypeError, AttributeError) as error:
                raise self._inapplicable(value, obj, error) from error

        return matches

    def _missing(self, obj: Any) -> FilterError:
        return FilterError(
            f"lookup {self.key!r}: {obj!r} has no attribute or key {self.attribute!r}; "
            "leave out ignore_items_without_attribute=False to skip such objects"
        )

    def _inapplicable(self, value: Any, obj: Any, error: Exception) -> FilterError:
        return FilterError(
            f"lookup {self.key}={self.value!r} cannot be applied to {self.attribute!r} = "
            f"{value!r} ({type(value).__name__}) on {obj!r}: {error}; compare with a value "
            "of the same type, or pass a callable predicate"
        )


def _never(_: Any) -> bool:
    return False


def compile_filter(
    predicate: Callable[[Any], Any] | None = None,
    /,
    *,
    ignore_items_without_attribute: bool = True,
    **lookups: Any,
) -> Callable[[Any], bool]:
    """Compile a predicate and lookups into one function telling whether an object matches.

    This is what :meth:`FilterSet.filter` applies to each object; use it to filter any
    iterable, or to test objects one by one.

    Args:
        predicate: A callable taking an object and returning whether it matches.
        ignore_items_without_attribute: As in octue: if True, an object without an attribute
            or key that a lookup names does not match; if False, it raises
            :class:`FilterError`.
        **lookups: ``<attribute>[__<nested>...]__<action>=<value>``, all of which must hold.

    Returns:
        A function of one object, true when the predicate and every lookup hold.

    Raises:
        FilterError: At once for a malformed lookup name; when applied, for an action that
            the attribute's type does not have (the message lists those it has).

    Examples:
        >>> is_big_csv = compile_filter(name__ends_with=".csv", size__gte=1_000_000)
        >>> from types import SimpleNamespace
        >>> is_big_csv(SimpleNamespace(name="wind.csv", size=2_000_000))
        True
    """
    tests: list[Callable[[Any], Any]] = [
        _Lookup(key, value, strict=not ignore_items_without_attribute).compile()
        for key, value in lookups.items()
    ]
    if predicate is not None:
        if not callable(predicate):
            raise FilterError(
                f"the positional argument to filter must be a callable, not {predicate!r}; "
                "pass lookups as keywords, e.g. filter(name__ends_with='.csv')"
            )
        tests.append(predicate)
    if not tests:
        return lambda obj: True
    if len(tests) == 1:
        (only,) = tests
        return lambda obj: bool(only(obj))

    def matches(obj: Any) -> bool:
        for test in tests:  # noqa: SIM110 - a loop is much faster than all() on a generator
            if not test(obj):
                return False
        return True

    return matches


def _describe(predicate: Callable[[Any], Any] | None, lookups: Mapping[str, Any]) -> str:
    described = [f"{key}={value!r}" for key, value in lookups.items()]
    if predicate is not None:
        described.insert(0, getattr(predicate, "__qualname__", repr(predicate)))
    return ", ".join(described) or "no lookups"


def _one(
    matches: list[T], total: int, predicate: Callable[[Any], Any] | None, lookups: dict[str, Any]
) -> T:
    if len(matches) == 1:
        return matches[0]
    described = _describe(predicate, lookups)
    if not matches:
        message = f"no object of {total} matches {described}; loosen the lookups"
    else:
        shown = ", ".join(repr(match) for match in matches[:3])
        more = ", ..." if len(matches) > 3 else ""
        message = (
            f"{len(matches)} objects of {total} match {described} ({shown}{more}); "
            "add lookups until one object matches, or use filter() to get them all"
        )
    raise NoSingleMatchError(message, count=len(matches))


def _ordered(items: Iterable[T], attribute: str, reverse: bool) -> list[T]:
    path = tuple(_split(attribute.replace(".", "__")))
    get = _getter(path)
    keyed: list[tuple[Any, T]] = []
    without_value: list[T] = []
    for item in items:
        value = get(item)
        if value is _MISSING:
            raise FilterError(_missing_message(item, path))
        if value is None:
            without_value.append(item)
        else:
            keyed.append((value, item))
    try:
        keyed.sort(key=operator.itemgetter(0), reverse=reverse)
    except TypeError as error:
        kinds = sorted({type(value).__name__ for value, _ in keyed})
        raise FilterError(
            f"cannot order by {attribute!r}: its values are of types that do not compare "
            f"({', '.join(kinds)}: {error}); filter to one type first, e.g. "
            f"with a callable predicate"
        ) from error
    return [item for _, item in keyed] + without_value


def _missing_message(item: Any, path: tuple[str, ...]) -> str:
    attribute = "__".join(path)
    parent: Any = item
    for depth, name in enumerate(path):
        if _step(parent, name) is _MISSING:
            where = "__".join(path[:depth])
            if isinstance(parent, Mapping):
                fix = (
                    f"keep the objects that have it first, e.g. "
                    f".filter({where}__contains={name!r}).order_by({attribute!r})"
                )
                return (
                    f"cannot order by {attribute!r}: {where!r} of {item!r} has no key "
                    f"{name!r}; {fix}"
                )
            break
        parent = _step(parent, name)
    return (
        f"cannot order by {attribute!r}: {item!r} has no attribute {attribute!r}; keep the "
        "objects that have it first, e.g. with .filter(lambda obj: ...)"
    )


# --- Containers ----------------------------------------------------------------------------


class FilterSet(frozenset[T]):
    """An immutable set of objects that filters itself with octue's lookups.

    Like octue's ``FilterSet`` it is a set: unordered, without duplicates, equal to a plain set
    of the same objects, and combinable with ``|``, ``&``, ``-`` and ``^`` (which keep it a
    ``FilterSet``, so ``a.filter(x=1) | a.filter(y=2)`` is an "or"). Unlike octue's it is
    frozen, so a result can be shared without being changed behind one's back. Its members
    must be hashable; keep unhashable objects in a :class:`FilterList`.

    Examples:
        >>> from collections import namedtuple
        >>> File = namedtuple("File", "name size")
        >>> files = FilterSet([File("a.csv", 10), File("b.csv", 20), File("c.txt", 30)])
        >>> files.filter(name__ends_with=".csv") | files.filter(size__gt=25) == files
        True
        >>> files.one(size__lt=15).name
        'a.csv'
    """

    __slots__ = ()

    def filter(
        self: _FS,
        predicate: Callable[[T], Any] | None = None,
        /,
        *,
        ignore_items_without_attribute: bool = True,
        **lookups: Any,
    ) -> _FS:
        """The members matching a predicate and every lookup, as a new set of this kind.

        Args:
            predicate: A callable taking a member and returning whether it matches.
            ignore_items_without_attribute: If True (the default, as in octue), a member
                without an attribute or key that a lookup names does not match; if False, it
                raises :class:`FilterError`.
            **lookups: ``<attribute>[__<nested>...][__<action>]=<value>``; without an action,
                ``equals``. A ``None`` value matches only ``equals``, ``not_equals``, ``is``
                and ``is_not``, so ``timestamp__gt=...`` skips members without a timestamp.

        Raises:
            FilterError: For a malformed lookup, an action the attribute's type does not
                have (the message lists those it has), or a value of a type that cannot be
                compared with the attribute.

        Examples:
            >>> from collections import namedtuple
            >>> Obj = namedtuple("Obj", "size")
            >>> sizes = FilterSet([Obj(1), Obj(5), Obj(9)])
            >>> sorted(obj.size for obj in sizes.filter(size__in_range=(2, 9)))
            [5, 9]
            >>> sorted(obj.size for obj in sizes.filter(lambda obj: obj.size % 3 == 0))
            [9]
        """
        matches = compile_filter(
            predicate, ignore_items_without_attribute=ignore_items_without_attribute, **lookups
        )
        return type(self)(item for item in self if matches(item))

    def one(self, predicate: Callable[[T], Any] | None = None, /, **lookups: Any) -> T:
        """The only member matching a predicate and the lookups.

        Raises:
            NoSingleMatchError: If none or several match; the message says how many.

        Examples:
            >>> from datetime import date
            >>> FilterSet([date(2023, 5, 1), date(2024, 5, 1)]).one(year__gt=2023)
            datetime.date(2024, 5, 1)
        """
        matches = compile_filter(predicate, **lookups)
        return _one([item for item in self if matches(item)], len(self), predicate, lookups)

    def order_by(self, attribute: str, reverse: bool = False) -> FilterList[T]:
        """The members sorted by an attribute, nested with ``__`` (``"tags__height"``).

        Members whose value is ``None`` come last, in either direction.

        Raises:
            FilterError: If a member has no such attribute or key, or values do not compare.

        Examples:
            >>> from datetime import date
            >>> days = FilterSet([date(2024, 3, 9), date(2023, 7, 1), date(2024, 1, 5)])
            >>> [day.isoformat() for day in days.order_by("month", reverse=True)]
            ['2023-07-01', '2024-03-09', '2024-01-05']
        """
        return FilterList(_ordered(self, attribute, reverse))

    def __or__(self, other: Iterable[Any]) -> FilterSet[Any]:
        return FilterSet(frozenset.__or__(self, frozenset(other)))

    def __and__(self, other: Iterable[Any]) -> FilterSet[T]:
        return FilterSet(frozenset.__and__(self, frozenset(other)))

    def __sub__(self, other: Iterable[Any]) -> FilterSet[T]:
        return FilterSet(frozenset.__sub__(self, frozenset(other)))

    def __xor__(self, other: Iterable[Any]) -> FilterSet[Any]:
        return FilterSet(frozenset.__xor__(self, frozenset(other)))

    def union(self, *others: Iterable[Any]) -> FilterSet[Any]:
        """The members of this set and of all ``others``, as a FilterSet."""
        return FilterSet(frozenset.union(self, *others))

    def intersection(self, *others: Iterable[Any]) -> FilterSet[T]:
        """The members of this set that are in all ``others``, as a FilterSet."""
        return FilterSet(frozenset.intersection(self, *others))

    def difference(self, *others: Iterable[Any]) -> FilterSet[T]:
        """The members of this set that are in none of ``others``, as a FilterSet."""
        return FilterSet(frozenset.difference(self, *others))

    def symmetric_difference(self, other: Iterable[Any]) -> FilterSet[Any]:
        """The members of exactly one of this set and ``other``, as a FilterSet."""
        return FilterSet(frozenset.symmetric_difference(self, other))


class FilterList(list[T]):
    """A list of objects that filters itself with octue's lookups, keeping its order.

    ``order_by`` returns one; it is also the container for objects that are not hashable.

    Examples:
        >>> from types import SimpleNamespace as Obj
        >>> ordered = FilterList([Obj(size=3), Obj(size=1), Obj(size=2)]).order_by("size")
        >>> [obj.size for obj in ordered.filter(size__gte=2)]
        [2, 3]
    """

    def filter(
        self: _FL,
        predicate: Callable[[T], Any] | None = None,
        /,
        *,
        ignore_items_without_attribute: bool = True,
        **lookups: Any,
    ) -> _FL:
        """The items matching a predicate and every lookup, in order; see
        :meth:`FilterSet.filter`."""
        matches = compile_filter(
            predicate, ignore_items_without_attribute=ignore_items_without_attribute, **lookups
        )
        return type(self)(item for item in self if matches(item))

    def one(self, predicate: Callable[[T], Any] | None = None, /, **lookups: Any) -> T:
        """The only item matching a predicate and the lookups; see :meth:`FilterSet.one`."""
        matches = compile_filter(predicate, **lookups)
        return _one([item for item in self if matches(item)], len(self), predicate, lookups)

    def order_by(self, attribute: str, reverse: bool = False) -> FilterList[T]:
        """The items sorted by an attribute; see :meth:`FilterSet.order_by`."""
        return FilterList(_ordered(self, attribute, reverse))
