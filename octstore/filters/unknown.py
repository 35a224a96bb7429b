"""Telling a typo from data: a lookup naming what no object of a collection has.

A filter that matched nothing is checked here (a filter that matched something named only
what exists, so costs nothing more). A lookup whose attribute no object has is a typo,
``name_icontains`` for ``name__icontains`` or ``nmae`` for ``name``: it raises
:class:`MissingAttributeError`, suggesting the closest lookup and listing the actions for its
type. A dict key no object has may be data (no file has the tag yet), so it warns instead,
unless it reads as a mistyped action (``tags__contain``) or a lookup with one underscore
(``tags__height_gt``), which raise.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import types
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from octstore.errors import FilterError, MissingAttributeError, warn
from octstore.filters.actions import _ACTION_NAMES, _actions_for
from octstore.filters.lookups import _MISSING, _Lookup, _step

#: At most this many attribute or key names are listed in a message.
_LISTED = 20


def check_known(lookups: Sequence[_Lookup], objects: Collection[Any], stacklevel: int) -> None:
    """Raise or warn for a lookup that names what none of ``objects`` has.

    Call it only when a filter matched nothing: a lookup naming a missing attribute is then
    the likely reason.

    Args:
        lookups: The compiled lookups of the filter.
        objects: The objects filtered.
        stacklevel: For a warning, as for :func:`warnings.warn`, counted from the caller.
    """
    if not objects:
        return
    for lookup in lookups:
        absences = _absences(lookup.path, objects)
        if absences:
            _explain(lookup, absences, len(objects), stacklevel + 2)


def _absences(path: tuple[str, ...], objects: Iterable[Any]) -> list[tuple[int, Any]]:
    """Where ``path`` breaks off in each object, as (depth, parent); empty if any object has
    it (or reaches a ``None`` on the way, which is a value, not a typo)."""
    absences = []
    for obj in objects:
        parent = obj
        for depth, name in enumerate(path):
            if parent is None:
                return []
            value = _step(parent, name)
            if value is _MISSING:
                absences.append((depth, parent))
                break
            parent = value
        else:
            return []
    return absences


@dataclass
class _Absence:
    """A lookup's name that none of the objects has, and where it breaks off in them."""

    lookup: _Lookup
    depth: int
    parents: list[Any]
    total: int

    @property
    def name(self) -> str:
        return self.lookup.path[self.depth]

    @property
    def before(self) -> tuple[str, ...]:
        return self.lookup.path[: self.depth]

    @property
    def is_key(self) -> bool:
        return isinstance(self.parents[0], Mapping)

    @property
    def is_last_of_shorthand(self) -> bool:
        return self.depth == len(self.lookup.path) - 1 and self.lookup.shorthand

    def names(self) -> list[str]:
        """The keys the objects have there, or the attributes of the first."""
        return _key_names(self.parents) if self.is_key else _attribute_names(self.parents[0])

    def found(self) -> str:
        what = f"the key {self.name!r}" if self.is_key else f"an attribute {self.name!r}"
        where = f" in {'__'.join(self.before)!r}" if self.before else ""
        return f"lookup {self.lookup.key!r}: none of the {self.total} objects has {what}{where}"

    def renamed(self, name: str) -> str:
        """The lookup with the missing name replaced by ``name``."""
        lookup = self.lookup
        rest = lookup.path[self.depth + 1 :] + (() if lookup.shorthand else (lookup.action,))
        return "__".join((*self.before, name, *rest))


def _explain(lookup: _Lookup, absences: list[tuple[int, Any]], total: int, stacklevel: int) -> None:
    parents = [parent for _, parent in absences]
    absence = _Absence(lookup, absences[0][0], parents, total)
    names = absence.names()
    if absence.is_last_of_shorthand:
        _raise_if_mistyped_action(absence, names)
    close = difflib.get_close_matches(absence.name, names, n=1)
    hint = f"; did you mean {absence.renamed(close[0])}?" if close else ""
    listed = ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
    if absence.is_key:
        keys = f" The keys they have there are: {listed}" if names else ""
        warn(f"{absence.found()}, so nothing matched{hint}{keys}", stacklevel=stacklevel)
        return
    if close:
        raise MissingAttributeError(
            f"{absence.found()}{hint}{_actions_text(_value_type(parents, close[0]))}"
        )
    raise MissingAttributeError(
        f"{absence.found()}; the objects' attributes are: {listed or 'none'}; a lookup is "
        "<attribute>[__<key or attribute>...][__<action>]"
    )


def _raise_if_mistyped_action(absence: _Absence, names: list[str]) -> None:
    """Raise for ``height_gt`` (one underscore) or, in a dict, ``tags__contain``."""
    split = _split_action(absence.name, names, absence.parents)
    if split is not None:
        attribute, action, kind = split
        raise MissingAttributeError(
            f"Invalid filter name {absence.lookup.key!r}. Filter names should be in the form "
            f"<attribute>__<action>: {absence.found()}; did you mean "
            f"{'__'.join((*absence.before, attribute, action))}?{_actions_text(kind)}"
        )
    if not absence.is_key or difflib.get_close_matches(absence.name, names, n=1):
        return
    kind = type(absence.parents[0])
    actions = sorted(_actions_for(kind))
    close = difflib.get_close_matches(absence.name, actions, n=1)
    if close:
        raise FilterError(
            f"{absence.found()}, and there is no action {absence.name!r} for "
            f"{'__'.join(absence.before)!r}; did you mean {absence.renamed(close[0])}?"
            f"{_actions_text(kind)}"
        )


def _split_action(
    name: str, names: list[str], parents: list[Any]
) -> tuple[str, str, type | None] | None:
    """``("height", "gt", int)`` for ``height_gt``, and ``("name", "ends_with", str)`` for
    ``name_endswith``: an attribute and (nearly) one of its actions, joined by one underscore."""
    for index, character in enumerate(name):
        attribute, action = name[:index], name[index + 1 :]
        if character != "_" or attribute not in names:
            continue
        kind = _value_type(parents, attribute)
        actions = sorted(_ACTION_NAMES if kind is None else _actions_for(kind))
        close = (
            [action] if action in actions else difflib.get_close_matches(action, actions, 1, 0.8)
        )
        if close:
            return attribute, close[0], kind
    return None


def _actions_text(kind: type | None) -> str:
    if kind is None:
        return ""
    return f" The actions for {kind.__name__} values are: {', '.join(sorted(_actions_for(kind)))}"


def _key_names(parents: list[Any]) -> list[str]:
    keys: set[str] = set()
    for parent in parents:
        if isinstance(parent, Mapping):
            keys.update(key for key in parent if isinstance(key, str))
    return sorted(keys)


def _attribute_names(obj: Any) -> list[str]:
    """The public data attributes and properties of ``obj``, read without running any."""
    names = []
    for name in dir(obj):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(obj, name, None)
        if isinstance(static, (classmethod, staticmethod)) or inspect.isroutine(static):
            continue
        names.append(name)
    return names


def _value_type(parents: list[Any], name: str) -> type | None:
    """The type of the first of ``parents`` with an attribute or key ``name``; a property is
    not run (it may download a file) but read from its return annotation."""
    for parent in parents:
        kind = _own_value_type(parent, name)
        if kind is not None:
            return kind
    return None


def _own_value_type(parent: Any, name: str) -> type | None:
    if isinstance(parent, Mapping):
        value = parent.get(name, _MISSING)
        return None if value is _MISSING else type(value)
    static = inspect.getattr_static(parent, name, _MISSING)
    if isinstance(static, property):
        return _annotated_type(static.fget)
    if isinstance(static, functools.cached_property):
        return _annotated_type(static.func)
    value = getattr(parent, name, _MISSING)
    return None if value is _MISSING else type(value)


def _annotated_type(function: Any) -> type | None:
    try:
        hint = typing.get_type_hints(function).get("return")
    except Exception:  # an annotation that does not resolve just goes unused
        return None
    return _plain_type(hint)


def _plain_type(hint: Any) -> type | None:
    """``datetime`` for ``datetime | None``; ``dict`` for ``dict[str, Any]``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _plain_type(kinds[0]) if len(kinds) == 1 else None
    if isinstance(origin, type):
        return origin
    return hint if isinstance(hint, type) else None
