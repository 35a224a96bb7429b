"""A dataset as a JSON-safe dict and back (``Dataset.to_dict`` / ``from_dict``): its own
metadata, its root, and each file's ``Datafile.to_dict``, with credentials redacted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from octstore.location import Location
from octstore.redaction import redact

if TYPE_CHECKING:
    from octstore.dataset.dataset import Dataset

__all__ = ["from_dict", "own_fields", "to_dict"]


def own_fields(dataset: Dataset) -> dict[str, Any]:
    """The dataset's id, name, root path, labels and tags, JSON-safe and redacted: what
    ``to_dict`` and octue's ``to_primitive`` both start from."""
    metadata = dataset._metadata.model_dump(mode="json")
    return {
        "id": metadata["id"],
        "name": redact(dataset.name) if dataset.name else dataset.name,
        "path": redact(dataset.path, mask=None) if dataset.path else None,
        "labels": metadata["labels"],
        "tags": metadata["tags"],
    }


def to_dict(dataset: Dataset) -> dict[str, Any]:
    """Carry out :meth:`Dataset.to_dict`."""
    return own_fields(dataset) | {"files": [datafile.to_dict() for datafile in dataset]}


def from_dict(cls: type[Dataset], data: Mapping[str, Any]) -> Dataset:
    """Carry out :meth:`Dataset.from_dict`."""
    dataset = cls(
        files=data.get("files", ()),
        name=data.get("name"),
        id=data.get("id"),
        labels=data.get("labels"),
        tags=data.get("tags"),
    )
    dataset._location = Location(data["path"]) if data.get("path") else None
    return dataset
