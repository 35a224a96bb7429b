"""The containers that filter: :class:`FilterSet`, :class:`FilterList` and
:class:`FilterDict`, with octue's ``filter``, ``one`` and ``order_by``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from octstore.errors import NoSingleMatchError
from octstore.filters.lookups import _compile
from octstore.filters.ordering import ordered
from octstore.filters.unknown import check_known

T = TypeVar("T")


K = TypeVar("K")


V = TypeVar("V")


_E = TypeVar("_E")


_FS = TypeVar("_FS", bound="FilterSet[Any]")


_FL = TypeVar("_FL", bound="FilterList[Any]")


_FD = TypeVar("_FD", bound="FilterDict[Any, Any]")


def _describe(predicate: Callable[[Any], Any] | None, lookups: dict[str, Any]) -> str:
    """The filters as octue's messages show them: ``{'labels__contains': 'raw'}``."""
    if predicate is None:
        return repr(lookups)
    named = getattr(predicate, "__qualname__", repr(predicate))
    return f"{named} and {lookups!r}" if lookups else named


def _one(
    matches: list[T], total: int, predicate: Callable[[Any], Any] | None, lookups: dict[str, Any]
) -> T:
    if len(matches) == 1:
        return matches[0]
    described = _describe(predicate, lookups)
    if not matches:
        message = (
            f"No results found for filters {described}: none of the {total} objects matches; "
            "loosen the lookups"
        )
    else:
        shown = ", ".join(repr(match) for match in matches[:3])
        more = ", ..." if len(matches) > 3 else ""
        message = (
            f"More than one result found for filters {described}: {len(matches)} of the "
            f"{total} objects match ({shown}{more}); add lookups until one object matches, "
            "or use filter() to get them all"
        )
    raise NoSingleMatchError(message, count=len(matches))


def _matching(
    entries: Collection[_E],
    predicate: Callable[[Any], Any] | None,
    ignore_items_without_attribute: bool,
    lookups: dict[str, Any],
    value_of: Callable[[_E], Any] | None = None,
) -> list[_E]:
    """The entries whose object (``value_of(entry)``, or the entry) matches; if none does, a
    lookup naming what no object has raises (or warns), so a typo never just matches nothing.
    """
    matches, compiled = _compile(predicate, not ignore_items_without_attribute, lookups)
    if value_of is None:
        kept = [entry for entry in entries if matches(entry)]
    else:
        kept = [entry for entry in entries if matches(value_of(entry))]
    if not kept and compiled:
        objects = entries if value_of is None else [value_of(entry) for entry in entries]
        check_known(compiled, objects, stacklevel=3)
    return kept


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
                raises :class:`MissingAttributeError`.
            **lookups: ``<attribute>[__<nested>...][__<action>]=<value>``; without an action,
                ``equals``. A ``None`` value matches only ``equals``, ``not_equals``, ``is``
                and ``is_not``, so ``timestamp__gt=...`` skips members without a timestamp.

        Raises:
            FilterError: For a malformed lookup, an action the attribute's type does not
                have (the message lists those it has), or a value of a type that cannot be
                compared with the attribute.
            MissingAttributeError: For a lookup naming an attribute that no member has (a
                typo such as ``name_icontains``); the message suggests the closest lookup.
                A dict key that no member has (a tag) warns with :class:`OctstoreWarning`
                instead, since it may be data rather than a typo.

        Examples:
            >>> from collections import namedtuple
            >>> Obj = namedtuple("Obj", "size")
            >>> sizes = FilterSet([Obj(1), Obj(5), Obj(9)])
            >>> sorted(obj.size for obj in sizes.filter(size__in_range=(2, 9)))
            [5, 9]
            >>> sorted(obj.size for obj in sizes.filter(lambda obj: obj.size % 3 == 0))
            [9]
        """
        return type(self)(_matching(self, predicate, ignore_items_without_attribute, lookups))

    def one(self, predicate: Callable[[T], Any] | None = None, /, **lookups: Any) -> T:
        """The only member matching a predicate and the lookups.

        Raises:
            NoSingleMatchError: If none or several match; the message says which, as octue's
                ("No results found for filters ...", "More than one result found ...").

        Examples:
            >>> from datetime import date
            >>> FilterSet([date(2023, 5, 1), date(2024, 5, 1)]).one(year__gt=2023)
            datetime.date(2024, 5, 1)
        """
        return _one(_matching(self, predicate, True, lookups), len(self), predicate, lookups)

    def order_by(
        self,
        attribute: str,
        reverse: bool = False,
        *,
        check_start_value: Any = None,
        check_constant_increment: Any = None,
    ) -> FilterList[T]:
        """The members sorted by an attribute, nested with ``__`` (``"tags__height"``).

        Members whose value is ``None`` come last, in either direction.

        Args:
            attribute: The attribute to order by; ``__`` or ``.`` between nested names.
            reverse: If True, largest first.
            check_start_value: If given, the first value in the returned order must equal it.
            check_constant_increment: If given, each value in the returned order must be the
                one before plus this (``1``; ``-1`` with ``reverse=True``; a ``timedelta`` for
                datetimes); floats are compared allowing for rounding.

        Raises:
            MissingAttributeError: If a member has no such attribute or key; it is named.
            BrokenSequenceError: If the values do not start at ``check_start_value`` or do not
                go up by ``check_constant_increment``; the attribute, the value expected and
                the value found are named.
            FilterError: If values do not compare, or ``reverse`` is not a bool.

        Examples:
            >>> from datetime import date
            >>> days = FilterSet([date(2024, 3, 9), date(2023, 7, 1), date(2024, 1, 5)])
            >>> [day.isoformat() for day in days.order_by("month", reverse=True)]
            ['2023-07-01', '2024-03-09', '2024-01-05']
        """
        return FilterList(
            ordered(self, attribute, reverse, check_start_value, check_constant_increment)
        )

    def __repr__(self) -> str:
        members = ", ".join(map(repr, self))
        return f"<{type(self).__name__}({{{members}}})>" if self else f"<{type(self).__name__}()>"

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
        return type(self)(_matching(self, predicate, ignore_items_without_attribute, lookups))

    def one(self, predicate: Callable[[T], Any] | None = None, /, **lookups: Any) -> T:
        """The only item matching a predicate and the lookups; see :meth:`FilterSet.one`."""
        return _one(_matching(self, predicate, True, lookups), len(self), predicate, lookups)

    def order_by(
        self,
        attribute: str,
        reverse: bool = False,
        *,
        check_start_value: Any = None,
        check_constant_increment: Any = None,
    ) -> FilterList[T]:
        """The items sorted by an attribute; see :meth:`FilterSet.order_by`."""
        return FilterList(
            ordered(self, attribute, reverse, check_start_value, check_constant_increment)
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({list.__repr__(self)})>"


def _value(entry: tuple[Any, V]) -> V:
    return entry[1]


def _describe_entry(entry: tuple[Any, Any]) -> str:
    return f"{entry[1]!r} (key {entry[0]!r})"


class FilterDict(dict[K, V]):
    """A dict that filters itself by its values with octue's lookups, keeping their keys.

    As octue's ``FilterDict``: ``filter`` returns a ``FilterDict``, ``one`` returns the only
    matching ``(key, value)`` pair, and ``order_by`` returns the pairs as a
    :class:`FilterList`, ordered by an attribute of the values.

    Examples:
        >>> from types import SimpleNamespace as Obj
        >>> turbines = FilterDict(north=Obj(height=80), south=Obj(height=120))
        >>> list(turbines.filter(height__gt=100))
        ['south']
        >>> turbines.one(height=80)[0]
        'north'
        >>> [key for key, _ in turbines.order_by("height", reverse=True)]
        ['south', 'north']
    """

    def filter(
        self: _FD,
        predicate: Callable[[V], Any] | None = None,
        /,
        *,
        ignore_items_without_attribute: bool = True,
        **lookups: Any,
    ) -> _FD:
        """The items whose value matches a predicate and every lookup, as a new dict of this
        kind; see :meth:`FilterSet.filter`."""
        return type(self)(
            _matching(
                list(self.items()), predicate, ignore_items_without_attribute, lookups, _value
            )
        )

    def one(self, predicate: Callable[[V], Any] | None = None, /, **lookups: Any) -> tuple[K, V]:
        """The only ``(key, value)`` pair whose value matches; see :meth:`FilterSet.one`."""
        matches = _matching(list(self.items()), predicate, True, lookups, _value)
        return _one(matches, len(self), predicate, lookups)

    def order_by(
        self,
        attribute: str,
        reverse: bool = False,
        *,
        check_start_value: Any = None,
        check_constant_increment: Any = None,
    ) -> FilterList[tuple[K, V]]:
        """The ``(key, value)`` pairs sorted by an attribute of the values; see
        :meth:`FilterSet.order_by`."""
        return FilterList(
            ordered(
                self.items(),
                attribute,
                reverse,
                check_start_value,
                check_constant_increment,
                value_of=_value,
                describe=_describe_entry,
            )
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({dict.__repr__(self)})>"
