"""The metadata attributes that :class:`~octstore.Datafile` and :class:`~octstore.Dataset`
share: an id, labels and tags, kept in a :class:`~octstore.Metadata` and checked as they are
set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from octstore.metadata.model import Metadata
from octstore.metadata.values import LabelSet, TagDict

__all__ = ["MetadataHolder"]


class MetadataHolder:
    """An object whose metadata is a :class:`Metadata` in ``_metadata``."""

    __slots__ = ()  # so that a subclass with slots (Datafile) has no instance dict

    _metadata: Metadata

    @property
    def id(self) -> str:
        """The UUID, as a string; immutable once stored."""
        return str(self._metadata.id)

    @property
    def labels(self) -> LabelSet:
        """The labels; changes are checked at once and stored by ``update_metadata()``."""
        return self._metadata.labels

    @labels.setter
    def labels(self, value: Iterable[str] | str | None) -> None:
        self._metadata.labels = LabelSet(value)

    def add_labels(self, *labels: str) -> None:
        """Add labels (octue's name for ``labels.update``)."""
        self._metadata.labels.update(labels)

    def add_tags(self, tags: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Set tags (octue's name for ``tags.update``)."""
        self._metadata.tags.update(tags or {}, **more)

    @property
    def tags(self) -> TagDict:
        """The tags; changes are checked at once and stored by ``update_metadata()``."""
        return self._metadata.tags

    @tags.setter
    def tags(self, value: Mapping[str, Any] | None) -> None:
        self._metadata.tags = TagDict(value)
