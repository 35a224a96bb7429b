"""What a store records of an object in its metadata (when it was added, under which names)
and what it reports: :class:`StoredObject` and :class:`GcReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from octstore.location import Location
from octstore.metadata import Metadata, TagDict
from octstore.redaction import redact
from octstore.state import ObjectState

#: How many of the names an object was added under its metadata keeps (the latest).
MAX_NAMES = 100


@dataclass(frozen=True)
class StoredObject:
    """One stored content, as :meth:`Store.info` and :meth:`Store.list` describe it.

    Attributes:
        sha256: The content's SHA-256, in hex: its address.
        size: Its size in bytes.
        created: When it was first stored, or None if octstore did not store it.
        added: When it was last added (stored or found already there), or None.
        names: The names it was added under, oldest first (the last :data:`MAX_NAMES`).
        url: Where it is.
    """

    sha256: str
    size: int
    created: datetime | None
    added: datetime | None
    names: tuple[str, ...]
    url: str

    @property
    def handles(self) -> list[str]:
        """A handle for each name it was added under."""
        return [f"{self.sha256}/{name}" for name in self.names]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "created": self.created.isoformat() if self.created else None,
            "added": self.added.isoformat() if self.added else None,
            "names": list(self.names),
            "url": redact(self.url, mask=None),
        }


@dataclass
class GcReport:
    """What :meth:`Store.gc` did (or, with ``dry_run``, would do).

    Attributes:
        grace: Objects added more recently than this were kept.
        dry_run: Whether nothing was deleted.
        deleted: The objects deleted (with ``dry_run``: that would be).
        kept_referenced: Objects a referenced handle names.
        kept_recent: Objects added within ``grace`` (some found so only when gc looked
            again, just before deleting).
        kept_unknown: Objects with no record of when they were added (not stored by
            octstore, or a store interrupted midway); add their content again to adopt them.
        kept_busy: Objects gc gave up on: another deletion had them, or it took too long.
        missing: Referenced handles whose content is not in the store.
    """

    grace: timedelta
    dry_run: bool = False
    deleted: list[StoredObject] = field(default_factory=list)
    kept_referenced: list[StoredObject] = field(default_factory=list)
    kept_recent: list[StoredObject] = field(default_factory=list)
    kept_unknown: list[StoredObject] = field(default_factory=list)
    kept_busy: list[StoredObject] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def deleted_bytes(self) -> int:
        """The bytes the deleted objects held."""
        return sum(item.size for item in self.deleted)

    @property
    def kept(self) -> int:
        """How many objects were kept, for any reason."""
        return (
            len(self.kept_referenced)
            + len(self.kept_recent)
            + len(self.kept_unknown)
            + len(self.kept_busy)
        )

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        reasons = [
            f"{len(self.kept_referenced)} referenced",
            f"{len(self.kept_recent)} added within {self.grace}",
        ]
        if self.kept_unknown:
            reasons.append(f"{len(self.kept_unknown)} of unknown age")
        if self.kept_busy:
            reasons.append(f"{len(self.kept_busy)} busy")
        text = (
            f"{verb} {_count(len(self.deleted), 'object')} ({self.deleted_bytes} bytes), "
            f"kept {self.kept} ({', '.join(reasons)})"
        )
        if self.missing:
            text += (
                f"; {_count(len(self.missing), 'referenced handle')} with no content in the store"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description."""
        return {
            "grace_seconds": self.grace.total_seconds(),
            "dry_run": self.dry_run,
            "deleted": [item.to_dict() for item in self.deleted],
            "deleted_bytes": self.deleted_bytes,
            "kept_referenced": [item.sha256 for item in self.kept_referenced],
            "kept_recent": [item.sha256 for item in self.kept_recent],
            "kept_unknown": [item.sha256 for item in self.kept_unknown],
            "kept_busy": [item.sha256 for item in self.kept_busy],
            "missing": list(self.missing),
        }


# --- the store ----------------------------------------------------------------------------


_Outcome = Literal["deleted", "recent", "unknown", "busy", "gone"]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _added(metadata: Metadata | None) -> datetime | None:
    """When the object was last added, from its metadata; None if it does not say."""
    value = metadata.tags.get("added") if metadata else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _names(metadata: Metadata | None) -> tuple[str, ...]:
    value = metadata.tags.get("names") if metadata else None
    if not isinstance(value, list):
        return ()
    return tuple(name for name in value if isinstance(name, str))


def touched_metadata(metadata: Metadata | None, filename: str, now: datetime) -> Metadata:
    """``metadata`` recording an add of ``filename`` at ``now``."""
    base = metadata or Metadata(timestamp=now)
    names = list(_names(base))
    if filename not in names:
        names = [*names, filename][-MAX_NAMES:]
    tags = TagDict({**base.tags, "names": names, "added": now.isoformat()})
    return Metadata(id=base.id, timestamp=base.timestamp or now, labels=base.labels, tags=tags)


def stored_object(location: Location, state: ObjectState, digest: str) -> StoredObject:
    return StoredObject(
        sha256=digest,
        size=state.size,
        created=state.metadata.timestamp if state.metadata else None,
        added=_added(state.metadata),
        names=_names(state.metadata),
        url=location.url,
    )
