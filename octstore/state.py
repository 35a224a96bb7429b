"""``ObjectState``: what one metadata request tells about a stored file, without its content.

Backends produce it, the cache keys and records entries by it, datafiles keep the last one
they saw to make their writes conditional on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octstore.metadata import Metadata

__all__ = ["ObjectState", "local_version_token"]


def local_version_token(stat: os.stat_result) -> str:
    """A local file's version token: inode, modification and change times, and size.

    The change time (ctime) moves on every write and cannot be set back by ``utime``, and
    a replaced file has a new inode, so equal tokens mean the same content even on
    filesystems whose modification times are coarse.
    """
    return f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_ctime_ns}-{stat.st_size}"


@dataclass(frozen=True, slots=True)
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


def _getstate(state: ObjectState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in ObjectState.__slots__}


def _setstate(state: ObjectState, pickled: dict[str, Any]) -> None:
    for name, value in pickled.items():
        object.__setattr__(state, name, value)


# Pickled as the attributes by name, as before it had slots (so older pickles load): set
# here, since ``dataclass(slots=True)`` replaces methods of these names on Python 3.10.
ObjectState.__getstate__ = _getstate  # type: ignore[attr-defined]
ObjectState.__setstate__ = _setstate  # type: ignore[attr-defined]
