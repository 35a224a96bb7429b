"""Ordering objects by an attribute, with octue's checks that the ordered values form a
sequence: ``check_start_value`` and ``check_constant_increment``."""

from __future__ import annotations

import itertools
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from octstore.errors import BrokenSequenceError, FilterError, MissingAttributeError
from octstore.filters.lookups import _MISSING, _getter, _split, _step

_Entry = TypeVar("_Entry")


def ordered(
    entries: Iterable[_Entry],
    attribute: str,
    reverse: bool,
    check_start_value: Any,
    check_constant_increment: Any,
    *,
    value_of: Callable[[_Entry], Any] | None = None,
    describe: Callable[[_Entry], str] = repr,
) -> list[_Entry]:
    """``entries`` sorted by ``attribute`` of each (or of ``value_of(entry)``), ``None`` last.

    Raises:
        MissingAttributeError: If entries have no such attribute or key; they are named, by
            ``describe`` (the first few), and listed in its ``missing``.
        BrokenSequenceError: If a check is asked for and the sequence breaks it.
        FilterError: If the values do not compare, or ``reverse`` is not a bool.
    """
    if not isinstance(reverse, bool):
        raise FilterError(
            f"order_by({attribute!r}, {reverse!r}): reverse must be True or False, not "
            f"{reverse!r}; pass check_start_value= and check_constant_increment= by keyword"
        )
    path = tuple(_split(attribute.replace(".", "__")))
    get = _getter(path)
    keyed: list[tuple[Any, _Entry]] = []
    without_value: list[tuple[Any, _Entry]] = []
    lacking: list[tuple[Any, _Entry]] = []
    for entry in entries:
        obj = entry if value_of is None else value_of(entry)
        value = get(obj)
        if value is _MISSING and not _passes_none(obj, path):
            lacking.append((obj, entry))
        elif value is None or value is _MISSING:
            without_value.append((None, entry))
        else:
            keyed.append((value, entry))
    if lacking:
        total = len(keyed) + len(without_value) + len(lacking)
        raise _missing_error(path, lacking, total, describe)
    try:
        keyed.sort(key=operator.itemgetter(0), reverse=reverse)
    except TypeError as error:
        kinds = sorted({type(value).__name__ for value, _ in keyed})
        raise FilterError(
            f"cannot order by {attribute!r}: its values are of types that do not compare "
            f"({', '.join(kinds)}: {error}); filter to one type first, e.g. "
            f"with a callable predicate"
        ) from error
    pairs = keyed + without_value
    if check_start_value is not None:
        _check_start(attribute, pairs, check_start_value, describe)
    if check_constant_increment is not None:
        _check_increment(attribute, pairs, check_constant_increment, describe)
    return [entry for _, entry in pairs]


def _check_start(
    attribute: str, pairs: list[tuple[Any, _Entry]], start: Any, describe: Callable[[_Entry], str]
) -> None:
    call = f"order_by({attribute!r}, check_start_value={start!r})"
    if not pairs:
        raise BrokenSequenceError(
            f"{call}: there are no objects, so no sequence starting at {start!r}; check that "
            "the filters before order_by kept the objects you meant",
            attribute=attribute,
            expected=start,
            found=None,
        )
    value, entry = pairs[0]
    if not _same(value, start):
        raise BrokenSequenceError(
            f"{call}: the ordered values of {attribute!r} should start at {start!r}, but "
            f"{describe(entry)} has {value!r}, the first in order; find the objects missing "
            "from its start, or give the start value the sequence should have",
            attribute=attribute,
            expected=start,
            found=value,
        )


def _check_increment(
    attribute: str,
    pairs: list[tuple[Any, _Entry]],
    increment: Any,
    describe: Callable[[_Entry], str],
) -> None:
    call = f"order_by({attribute!r}, check_constant_increment={increment!r})"
    for (previous, previous_entry), (value, entry) in itertools.pairwise(pairs):
        try:
            expected = previous + increment
        except TypeError as error:
            raise FilterError(
                f"{call}: cannot check the increment: {previous!r} "
                f"({type(previous).__name__}) and the increment {increment!r} "
                f"({type(increment).__name__}) do not add ({error}); give an increment of "
                "a type that adds to the values (a timedelta for datetimes)"
            ) from error
        if not _same(value, expected):
            raise BrokenSequenceError(
                f"{call}: the ordered values of {attribute!r} should increase by "
                f"{increment!r} (a reversed order needs a negative increment), but "
                f"{describe(previous_entry)} has {previous!r}, so the next should have "
                f"{expected!r}, and {describe(entry)} has {value!r}; find the objects "
                "missing from the sequence or repeated in it",
                attribute=attribute,
                expected=expected,
                found=value,
            )


def _same(value: Any, expected: Any) -> bool:
    """Equal, or for floats equal but for rounding (``0.1 * 3`` and ``0.3``)."""
    either_float = isinstance(value, float) or isinstance(expected, float)
    if either_float and isinstance(value, numbers.Real) and isinstance(expected, numbers.Real):
        return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12)
    return bool(value == expected)


def _passes_none(obj: Any, path: tuple[str, ...]) -> bool:
    """Whether ``path`` runs into a ``None`` in ``obj`` (a value missing, not a typo)."""
    for name in path:
        if obj is None:
            return True
        obj = _step(obj, name)
        if obj is _MISSING:
            return False
    return False


#: How many of the objects lacking what ``order_by`` names its error describes.
_NAMED = 5


def _missing_error(
    path: tuple[str, ...],
    lacking: list[tuple[Any, _Entry]],
    total: int,
    describe: Callable[[_Entry], str],
) -> MissingAttributeError:
    """The error for ordering by ``path`` when the ``lacking`` entries (with the object of
    each) have no such attribute or key, naming the first few; what it says is missing
    (a key, or the attribute) is what the first of them lacks."""
    attribute = "__".join(path)
    named = ", ".join(describe(entry) for _, entry in lacking[:_NAMED])
    if len(lacking) > _NAMED:
        named += f", and {len(lacking) - _NAMED} more"
    named += f" {'has' if len(lacking) == 1 else 'have'}"
    count = f"{len(lacking)} of {total} objects"
    entries = [entry for _, entry in lacking]
    parent: Any = lacking[0][0]
    for depth, name in enumerate(path):
        if _step(parent, name) is _MISSING:
            where = "__".join(path[:depth])
            if isinstance(parent, Mapping):
                keep = {f"{where}__contains": name}
                return MissingAttributeError(
                    f"cannot order by {attribute!r}: {named} no key {name!r} in {where!r} "
                    f"({count}); keep the objects that have it first, e.g. "
                    f".filter({where}__contains={name!r}).order_by({attribute!r})",
                    missing=entries,
                    keep=keep,
                )
            break
        parent = _step(parent, name)
    return MissingAttributeError(
        f"cannot order by {attribute!r}: {named} no attribute {attribute!r} ({count}); keep "
        "the objects that have it first, e.g. with .filter(lambda obj: ...)",
        missing=entries,
    )
