"""Three-way folder synchronisation: what to do with each file, decided before anything moves.

A dataset upload or download compares each file's source and destination with the *basis*:
what the destination's manifest (``.octstore-dataset.json``) recorded when the two were last
synchronised (each file's version token, content hash and metadata; one basis per
destination). Per file:

- both sides already hold the same content and metadata: nothing to do (``same``);
- only the source changed since the basis (or the file is new): copy it (``copy``, or
  ``metadata`` when the content is already there);
- only the destination changed (or was deleted there): leave it, and say so
  (``destination_changed``);
- both changed, or there is no basis and the two sides differ: a ``conflict``, reported and
  not written unless ``overwrite`` is asked for.

:func:`plan` makes these decisions from one listing of the destination plus one read of its
manifest; the transfer engine (:mod:`octstore.dataset.transfer`) only carries them out, with the
state planned as each write's precondition, so changing the engine never changes a decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from octstore.backends import UNSETTLED, backend_for, trusting_unsettled
from octstore.datafile import Datafile, interface
from octstore.dataset.manifest import Manifest, ManifestEntry, read_manifest
from octstore.errors import NotFoundError, OctstoreError
from octstore.location import Location, relative_path
from octstore.metadata import Metadata
from octstore.state import ObjectState

__all__ = [
    "Action",
    "FilePlan",
    "Listing",
    "SyncPlan",
    "destination_listing",
    "holds",
    "plan",
    "resolved_metadata",
    "settled_manifest",
]

Action = Literal["copy", "metadata", "same", "destination_changed", "conflict"]
#: A destination's listing: each file's listing version and state, by URL.
Listing = dict[str, tuple[str, ObjectState]]


@dataclass(frozen=True)
class FilePlan:
    """What to do with one file.

    Attributes:
        source: The datafile to copy.
        destination: Where it goes.
        action: The decision (see the module's docstring).
        existing: The destination's state when planned (None: no file there): every write
            is conditional on it, so a change made after planning is a conflict, never lost.
        metadata: The metadata to write there (the source's, with the id resolved).
        reason: Why, in words, for reports.
    """

    source: Datafile
    destination: Location
    action: Action
    existing: ObjectState | None
    metadata: Metadata
    reason: str


@dataclass
class SyncPlan:
    """Every file's decision, and what the destination held when they were made.

    Attributes:
        root: The destination directory or prefix.
        files: One decision per file.
        refused: Files refused before planning (their path would leave ``root``), by their
            destination's spelling.
        basis: The destination's manifest when planned, or None.
        listed: The destination's listing when planned: each URL's listing version and state.
    """

    root: Location
    files: list[FilePlan]
    refused: dict[str, OctstoreError] = field(default_factory=dict)
    basis: Manifest | None = None
    listed: Listing = field(default_factory=dict)

    def with_action(self, *actions: Action) -> list[FilePlan]:
        """The decisions that are one of ``actions``."""
        return [file for file in self.files if file.action in actions]

    @property
    def writes(self) -> bool:
        """Whether carrying the plan out writes anything at the destination."""
        return bool(self.with_action("copy", "metadata"))


def plan(
    pairs: Sequence[tuple[Datafile, Location]],
    root: Location,
    *,
    overwrite: bool = False,
    refused: dict[str, OctstoreError] | None = None,
) -> SyncPlan:
    """Decide, for each datafile and its destination under ``root``, what a sync does.

    Args:
        pairs: Each datafile with its destination.
        root: The destination directory or prefix: listed once, and its manifest read once.
        overwrite: Resolve conflicts in the source's favour (``copy``) instead of reporting
            them. A file changed only at the destination is left as it is all the same.
        refused: Files already refused (their path would leave ``root``), to report.
    """
    basis = read_manifest(root)
    listed = destination_listing(root, basis, planning=True)
    entries = {root.child(entry.path).url: entry for entry in basis.files} if basis else {}
    files = [
        _decide(datafile, destination, listed, entries.get(destination.url), overwrite)
        for datafile, destination in pairs
    ]
    return SyncPlan(root, files, dict(refused or {}), basis, listed)


def destination_listing(
    root: Location,
    basis: Manifest | None,
    written: Mapping[str, ObjectState] | None = None,
    *,
    planning: bool = False,
) -> Listing:
    """The state of every file under ``root`` now, with its listing version, by URL (none if
    ``root`` does not exist). The manifest spares requests for the files it still describes,
    and so do the states that writes just returned (``written``, by URL).

    ``planning``: the listing decides a sync, whose every write re-checks the file's state
    under its precondition, so an unsettled manifest entry (see
    :data:`octstore.backends.UNSETTLED`) is taken at its word instead of read again; it
    stays marked unsettled in the result.
    """
    backend = backend_for(root)
    known: dict[str, tuple[str, ObjectState]] = dict(basis.known(root)) if basis else {}
    unsettled: set[str] = set()
    if planning:
        known, unsettled = trusting_unsettled(known)
    for url, state in (written or {}).items():
        version = backend.written_version(Location(url, root.storage_options), state)
        if version is not None:
            known[url] = (version, state)
    try:
        listed = backend.list(root, recursive=True, known=known)
    except NotFoundError:
        return {}
    return {
        location.url: (
            version + UNSETTLED
            if location.url in unsettled and known[location.url][0] == version
            else version,
            state,
        )
        for location, state, version in listed
    }


def resolved_metadata(
    datafile: Datafile, destination: Location, existing: ObjectState | None
) -> Metadata:
    """The metadata a copy of ``datafile`` gets at ``destination``: the source's, with the id
    the destination already stores for the file when it is remote (its id wins)."""
    metadata = datafile.metadata()
    if existing is not None and existing.metadata is not None and not destination.is_local:
        metadata.id = existing.metadata.id
    return metadata


def _decide(
    datafile: Datafile,
    destination: Location,
    listed: Listing,
    entry: ManifestEntry | None,
    overwrite: bool,
) -> FilePlan:
    existing = listed[destination.url][1] if destination.url in listed else None
    metadata = resolved_metadata(datafile, destination, existing)

    def decided(action: Action, reason: str) -> FilePlan:
        return FilePlan(datafile, destination, action, existing, metadata, reason)

    holds_content = existing is not None and holds(destination, existing, datafile)
    if holds_content and existing is not None and existing.metadata == metadata:
        return decided("same", "already there")
    write: Action = "metadata" if holds_content else "copy"
    if not _destination_changed(existing, entry):
        return decided(write, "new" if existing is None else "changed at the source")
    if entry is not None and not _source_changed(datafile, entry):
        where = "deleted" if existing is None else "changed"
        return decided("destination_changed", f"{where} at the destination since the last sync")
    if overwrite:
        return decided(write, "a conflict, overwritten as asked")
    if entry is None:
        return decided("conflict", "differs at the destination, which was never synchronised")
    return decided("conflict", "changed at the source and at the destination since the last sync")


def _destination_changed(existing: ObjectState | None, entry: ManifestEntry | None) -> bool:
    """Whether the destination changed since the basis (no basis: whether a file is there)."""
    if entry is None:
        return existing is not None
    if existing is None:
        return True  # deleted since
    return existing.version_token != entry.version_token or existing.metadata != entry.metadata


def _source_changed(datafile: Datafile, entry: ManifestEntry) -> bool:
    """Whether the source's content or metadata (its id aside) differ from the basis; True
    when the basis does not know the content's hash."""
    if entry.hash_value is None or entry.metadata is None:
        return True
    if datafile.size != entry.size or datafile.hash_value != entry.hash_value:
        return True
    return datafile.metadata_hash_value != entry.metadata.metadata_hash_value


def holds(location: Location, state: ObjectState, datafile: Datafile) -> bool:
    """Whether the file at ``location`` (in ``state``) has ``datafile``'s content."""
    if state.size != datafile.size:
        return False
    if location.url == datafile.path:
        return True
    there = interface.assemble(location, state.metadata, state)
    return there.hash_value == datafile.hash_value


def settled_manifest(
    sync: SyncPlan, manifest: Manifest, synced: set[str], after: Listing
) -> Manifest:
    """``manifest`` (the dataset's metadata) with an entry per file under the destination:
    its state ``after`` the sync if it was ``synced`` or not part of the sync, else its basis
    entry (kept, so that the next sync still sees what changed since), if it had one."""
    basis = {entry.path: entry for entry in sync.basis.files} if sync.basis else {}
    planned = {file.destination.url: file for file in sync.files}
    entries: list[ManifestEntry] = []
    for url, (version, state) in sorted(after.items()):
        relative = _relative(Location(url, sync.root.storage_options), sync.root)
        if relative is None:
            continue
        file = planned.get(url)
        if file is not None and url not in synced:
            if relative in basis:
                entries.append(basis[relative])
            continue
        hash_value = state.crc32c
        if hash_value is None and file is not None:
            hash_value = file.source.hash_value  # both sides hold it: it was just synchronised
        entries.append(
            ManifestEntry(
                path=relative,
                size=state.size,
                version_token=state.version_token,
                listing_version=version,
                hash_value=hash_value,
                metadata=state.metadata,
                details=dict(state.details),
            )
        )
    return manifest.model_copy(update={"files": entries})


def _relative(location: Location, root: Location) -> str | None:
    """``location``'s path inside ``root``, if a manifest may hold it."""
    with contextlib.suppress(ValueError):
        return relative_path(location.relative_to(root))
    return None
