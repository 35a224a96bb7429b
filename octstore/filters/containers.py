"""The containers that filter: :class:`FilterSet` and :class:`FilterList`, with ``filter``,
``one`` and ``order_by``."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from octstore.errors import FilterError, NoSingleMatchError
from octstore.filters.lookups import _MISSING, _getter, _split, _step, compile_filter

T = TypeVar("T")


_FS = TypeVar("_FS", bound="FilterSet[Any]")


_FL = TypeVar("_FL", bound="FilterList[Any]")


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
