"""``ObjectState``: what one metadata request tells about a stored file, without its content.

Backends produce it, the cache keys and records entries by it, datafiles keep the last one
they saw to make their writes conditional on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octstore.metadata import Metadata

__all__ = ["ObjectState"]


@dataclass(frozen=True)
class ObjectState:
    """One version of a stored file, as its backend describes it.

    Attributes:
        size: The content's length in bytes.
        version_token: Changes whenever the content changes: the GCS generation, the S3
            ETag, or modification time and size elsewhere.
        crc32c: The content's CRC32C (GCS encoding) when the backend knows it, else None.
        metadata: The octstore metadata stored with the file, or None if there is none.
        details: Whatever else the backend needs to act on this state later (a GCS
            metageneration, an S3 content type, ...). JSON-safe.
    """

    size: int
    version_token: str
    crc32c: str | None = None
    metadata: Metadata | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe document that :meth:`from_json` reads back."""
        return {
            "size": self.size,
            "version_token": self.version_token,
            "crc32c": self.crc32c,
            "metadata": self.metadata.model_dump(mode="json") if self.metadata else None,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ObjectState:
        """The state :meth:`to_json` described."""
        metadata = document.get("metadata")
        return cls(
            size=int(document["size"]),
            version_token=str(document["version_token"]),
            crc32c=document.get("crc32c"),
            metadata=Metadata.model_validate(metadata) if metadata is not None else None,
            details=dict(document.get("details") or {}),
        )
