"""Metadata updates as sets of changes, re-applied to whatever is stored when they are written.

A datafile remembers the metadata it read (its *basis*). When it writes, it sends what the
user changed since — labels added and removed, tags set and removed, the timestamp set — and
the backend applies those changes to the metadata it finds under its lock, lease or
precondition. So two processes that add different labels to one file both keep theirs, and a
content write-back never carries back metadata that someone else changed meanwhile.

A :class:`MetadataChanges` made by :meth:`MetadataChanges.replacing` is the other kind of
write: it puts exactly the metadata given (keeping only the stored id), for copies and
uploads that mean to make the destination hold that metadata.

Examples:
    >>> from octstore.metadata import Metadata
    >>> read = Metadata(labels=["raw"])
    >>> mine = read.model_copy(deep=True)
    >>> mine.labels.add("cleaned")
    >>> changes = MetadataChanges.between(read, mine)
    >>> theirs = read.model_copy(update={"labels": {"raw", "checked"}})
    >>> sorted(changes.apply(theirs).labels)
    ['checked', 'cleaned', 'raw']
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from octstore.hashing import canonical_json
from octstore.metadata import JsonValue, Metadata, id_is_stored
from octstore.redaction import get_logger

__all__ = ["Attempt", "MetadataChanges", "MetadataUpdate", "as_changes", "attempts"]


class _Unchanged:
    """The timestamp was not changed (None means it was removed)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


_UNCHANGED = _Unchanged()


def _same_value(a: JsonValue, b: JsonValue) -> bool:
    """Equal as JSON: ``1`` and ``True`` (equal in Python) are different tag values."""
    return canonical_json(a) == canonical_json(b)


_log = get_logger(__name__)


@dataclass(frozen=True)
class MetadataChanges:
    """What a writer changed, applied to the stored metadata when the write happens.

    Attributes:
        id: The id to store where none is stored yet (a stored id always wins: ids are
            immutable once stored; one derived because none is stored does not).
        labels_added: Labels to add.
        labels_removed: Labels to remove.
        tags_set: Tags to set, by name.
        tags_removed: Tag names to remove.
        timestamp: The timestamp to set (None removes it), or unchanged.
        replaces: Whether the stored labels, tags and timestamp are replaced as a whole by
            these changes applied to nothing (a copy's metadata), rather than changed.
        sets_id: Whether ``id`` replaces a stored id: only for the one case where another id
            wins, the id a file's copy already has at an upload's destination.
        whole: The writer's whole metadata, stored as it is where nothing is stored (the
            changes were made to metadata that is not there any more, or never was).
    """

    id: uuid.UUID
    labels_added: frozenset[str] = frozenset()
    labels_removed: frozenset[str] = frozenset()
    tags_set: Mapping[str, JsonValue] = field(default_factory=dict)
    tags_removed: frozenset[str] = frozenset()
    timestamp: datetime | _Unchanged | None = _UNCHANGED
    replaces: bool = False
    sets_id: bool = False
    whole: Metadata | None = field(default=None, compare=False)

    @classmethod
    def between(cls, before: Metadata | None, after: Metadata) -> MetadataChanges:
        """The changes that turn ``before`` (None: nothing stored) into ``after``."""
        if before is None:  # nothing was stored: everything is an addition
            return cls(
                id=after.id,
                labels_added=frozenset(after.labels),
                tags_set=dict(after.tags),
                timestamp=after.timestamp if after.timestamp is not None else _UNCHANGED,
                whole=after,
            )
        tags_set = {
            name: value
            for name, value in after.tags.items()
            if name not in before.tags or not _same_value(before.tags[name], value)
        }
        return cls(
            id=after.id,
            labels_added=frozenset(after.labels - before.labels),
            labels_removed=frozenset(before.labels - after.labels),
            tags_set=tags_set,
            tags_removed=frozenset(before.tags.keys() - after.tags.keys()),
            timestamp=after.timestamp if after.timestamp != before.timestamp else _UNCHANGED,
            whole=after,
        )

    @classmethod
    def replacing(cls, metadata: Metadata) -> MetadataChanges:
        """A write of exactly ``metadata`` (under the stored id, if there is one)."""
        return cls(
            id=metadata.id,
            labels_added=frozenset(metadata.labels),
            tags_set=dict(metadata.tags),
            timestamp=metadata.timestamp,
            replaces=True,
        )

    @property
    def is_empty(self) -> bool:
        """Whether applying these changes leaves any stored metadata as it is."""
        return not (
            self.replaces
            or self.sets_id
            or self.labels_added
            or self.labels_removed
            or self.tags_set
            or self.tags_removed
            or self.timestamp is not _UNCHANGED
        )

    def apply(self, stored: Metadata | None) -> Metadata:
        """The metadata to store where ``stored`` is stored now (None: nothing)."""
        if stored is None and self.whole is not None:
            return self.whole.model_copy(deep=True, update={"id": self.id})
        base = stored if stored is not None and not self.replaces else None
        labels = set(base.labels) if base is not None else set()
        tags: dict[str, Any] = dict(base.tags) if base is not None else {}
        timestamp = base.timestamp if base is not None else None
        labels = (labels - self.labels_removed) | self.labels_added
        for name in self.tags_removed:
            tags.pop(name, None)
        tags.update(self.tags_set)
        if not isinstance(self.timestamp, _Unchanged):
            timestamp = self.timestamp
        keeps_id = stored is not None and id_is_stored(stored) and not self.sets_id
        return Metadata(
            id=stored.id if keeps_id and stored is not None else self.id,
            labels=labels,
            tags=tags,
            timestamp=timestamp,
        )


#: What a backend's ``put`` and ``write_metadata`` take: changes, or whole metadata to write
#: exactly (taken as :meth:`MetadataChanges.replacing`).
MetadataUpdate = Metadata | MetadataChanges


def as_changes(update: MetadataUpdate) -> MetadataChanges:
    """``update`` as changes: whole metadata replaces what is stored."""
    if isinstance(update, Metadata):
        return MetadataChanges.replacing(update)
    return update


@dataclass(frozen=True)
class Attempt:
    """One try of a write whose precondition may fail because of another writer."""

    number: int
    last: bool


def attempts(count: int = 10) -> Iterator[Attempt]:
    """``count`` tries, with a jittered, growing pause before each but the first, for
    re-applying changes to what another writer just stored."""
    delay = 0.02
    for number in range(count):
        if number:
            _log.debug("another writer changed it meanwhile: try %d of %d", number + 1, count)
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)
        yield Attempt(number, number == count - 1)
