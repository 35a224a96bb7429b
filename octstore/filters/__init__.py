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

from octstore.errors import (
    BrokenSequenceError,
    FilterError,
    MissingAttributeError,
    NoSingleMatchError,
)
from octstore.filters.containers import FilterDict, FilterList, FilterSet
from octstore.filters.lookups import Filterable, compile_filter

__all__ = [
    "BrokenSequenceError",
    "FilterDict",
    "FilterError",
    "FilterList",
    "FilterSet",
    "Filterable",
    "MissingAttributeError",
    "NoSingleMatchError",
    "compile_filter",
]
