"""Lookups compiled into predicates: ``<attribute>__<action>=<value>`` keywords, parsed once,
with errors that name the lookup and what would work instead."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from octstore.errors import FilterError, MissingAttributeError
from octstore.filters.actions import _ACTION_NAMES, _actions_for, _is_compared, _Test


class _Missing:
    """The marker for an attribute or key that an object does not have."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


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
        if not valid:
            return FilterError(
                f"lookup {self.key!r}: {attribute!r} of {obj!r} is a {kind}, which no lookup "
                "compares: name an attribute that holds a value"
            )
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

    def _missing(self, obj: Any) -> MissingAttributeError:
        return MissingAttributeError(
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
            :class:`MissingAttributeError`.
        **lookups: ``<attribute>[__<nested>...]__<action>=<value>``, all of which must hold.

    Testing one object at a time, it cannot tell a typo from an object that lacks the
    attribute; the containers' ``filter`` can, and raise for a lookup no object has.

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
    matches, _ = _compile(predicate, not ignore_items_without_attribute, lookups)
    return matches


def _compile(
    predicate: Callable[[Any], Any] | None, strict: bool, lookups: dict[str, Any]
) -> tuple[Callable[[Any], bool], list[_Lookup]]:
    """The test of one object, and the compiled lookups it applies (to explain a typo)."""
    compiled = [_Lookup(key, value, strict=strict) for key, value in lookups.items()]
    tests: list[Callable[[Any], Any]] = [lookup.compile() for lookup in compiled]
    if predicate is not None:
        if not callable(predicate):
            raise FilterError(
                f"the positional argument to filter must be a callable, not {predicate!r}; "
                "pass lookups as keywords, e.g. filter(name__ends_with='.csv')"
            )
        tests.append(predicate)
    if not tests:
        return (lambda obj: True), compiled
    if len(tests) == 1:
        (only,) = tests
        return (lambda obj: bool(only(obj))), compiled

    def matches(obj: Any) -> bool:
        for test in tests:  # noqa: SIM110 - a loop is much faster than all() on a generator
            if not test(obj):
                return False
        return True

    return matches, compiled


class Filterable:
    """A mixin that lets an object test itself against one lookup, as octue's ``Filterable``
    does: ``thing.satisfies(name__icontains="m")``. octstore's containers filter any object;
    this is for octue code that calls ``satisfies`` on its own classes.
    """

    __slots__ = ()

    def satisfies(self, raise_error_if_filter_is_invalid: bool = True, **lookup: Any) -> bool:
        """Whether this object meets the one lookup given (``<attribute>__<action>=value``).

        Args:
            raise_error_if_filter_is_invalid: If False, an object without the attribute the
                lookup names does not satisfy it; if True (octue's default), that raises.

        Raises:
            FilterError: For a malformed lookup, an action the attribute's type does not have,
                or other than exactly one lookup.
            MissingAttributeError: For an attribute the object does not have (also an
                ``AttributeError``), when ``raise_error_if_filter_is_invalid``.
        """
        if len(lookup) != 1:
            raise FilterError(
                f"satisfies() takes exactly one lookup, not {len(lookup)} ({', '.join(lookup)}): "
                "call it once per lookup, or use FilterSet(...).filter(**lookups)"
            )
        test = compile_filter(
            ignore_items_without_attribute=not raise_error_if_filter_is_invalid, **lookup
        )
        return test(self)
