"""Copying many datafiles at once, concurrently: what ``Dataset.upload`` and ``download`` do.

Each file goes in one request that carries its content and its metadata, with the same
preconditions as any write (a file changed at the destination meanwhile is a conflict, never
overwritten). fsspec's batch calls (``put``, ``get``) take one set of arguments for all files,
so they cannot carry each file's metadata or precondition; the files' own transfers run
concurrently instead, on fsspec's event loop, :data:`DEFAULT_CONCURRENCY` at a time. A file
whose content is already at the destination (same size and CRC32C) is not transferred: only
its metadata is written, and only if it differs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import backend_for
from octstore.datafile import Datafile, interface
from octstore.dataset import engine, per_file
from octstore.dataset.per_file import (
    Outcome,
    carry_out_async,
    local_content,
    shared_loop,
    steps,
    write_back_id,
)
from octstore.dataset.sync import FilePlan, SyncPlan, holds, plan, resolved_metadata
from octstore.errors import (
    OVERWRITE,
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    TransferError,
    UnsafePathError,
)
from octstore.location import Location
from octstore.state import ObjectState

__all__ = [
    "DEFAULT_CONCURRENCY",
    "TransferReport",
    "copy_all",
    "copy_one",
    "execute",
    "fetch_all",
    "raise_failures",
]

#: How many files are in flight at once, unless a caller says otherwise.
DEFAULT_CONCURRENCY = 32


@dataclass
class TransferReport:
    """What a dataset transfer did.

    Attributes:
        destination: Where the files went (a directory or prefix), or None for the cache.
        transferred: Paths whose content was transferred (with its metadata).
        metadata_updated: Paths whose content was already there; only metadata was written.
        skipped: Paths that already held the same content and metadata.
        bytes_transferred: The bytes of content transferred.
        destination_changed: Paths changed (or deleted) at the destination since the last
            sync, and not at the source: left as they are.
        conflicts: Paths changed at the source and at the destination since the last sync
            (or never synchronised, and different): left as they are, unless overwriting.
    """

    destination: str | None
    transferred: list[str] = field(default_factory=list)
    metadata_updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_transferred: int = 0
    destination_changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    #: The state each write returned, by destination: what the manifest records.
    _written: dict[str, ObjectState] = field(default_factory=dict, repr=False, compare=False)

    def _record(
        self, path: str, outcome: Outcome, size: int, state: ObjectState | None = None
    ) -> None:
        lists = {
            "transferred": self.transferred,
            "metadata": self.metadata_updated,
            "skipped": self.skipped,
        }
        lists[outcome].append(path)
        self.bytes_transferred += size
        if state is not None:
            self._written[path] = state

    def __str__(self) -> str:
        text = (
            f"{len(self.transferred)} transferred ({self.bytes_transferred} bytes), "
            f"{len(self.metadata_updated)} metadata only, {len(self.skipped)} already there"
        )
        if self.destination_changed:
            text += f", {len(self.destination_changed)} left (changed at the destination)"
        if self.conflicts:
            text += f", {len(self.conflicts)} conflicts"
        return text


def copy_all(
    pairs: Sequence[tuple[Datafile, Location]],
    root: Location,
    *,
    callback: Callback = DEFAULT_CALLBACK,
    concurrency: int = DEFAULT_CONCURRENCY,
    overwrite: bool = False,
) -> TransferReport:
    """Synchronise each datafile, content and metadata, to its destination under ``root``:
    plan it (:func:`octstore.dataset.sync.plan`), then carry the plan out (:func:`execute`).

    Raises:
        TransferError: If some files failed or conflict; the others were copied (see its
            ``report``).
    """
    sync = plan(pairs, root, overwrite=overwrite)
    report, failures = execute(sync, callback=callback, concurrency=concurrency)
    raise_failures(report, failures, len(pairs))
    return report


def execute(
    sync: SyncPlan,
    *,
    callback: Callback = DEFAULT_CALLBACK,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> tuple[TransferReport, dict[str, BaseException]]:
    """Carry out ``sync``: write what it decided, each write conditional on the state it
    was planned on, concurrently; then write the destination's id back to each local source
    whose id differs. Nothing is decided here.

    Returns:
        What was done, and the error of each file that was not (a ``ConflictError`` for each
        planned conflict, an ``UnsafePathError`` for each refused path), by destination.
    """
    report = TransferReport(sync.root.url)
    report.destination_changed = sorted(
        file.destination.url for file in sync.with_action("destination_changed")
    )
    report.conflicts = sorted(file.destination.url for file in sync.with_action("conflict"))
    failures: dict[str, BaseException] = {
        file.destination.url: ConflictError(
            f"{file.destination.url} {file.reason} ({file.source.path}); nothing was written "
            f"for it: merge the two, or run again with {OVERWRITE} to replace it with the "
            "source's version",
            path=file.destination.url,
            keywords=[OVERWRITE],
        )
        for file in sync.with_action("conflict")
    }
    failures.update(sync.refused)

    def named(file: FilePlan, child: Callback) -> tuple[str, Outcome, int, ObjectState | None]:
        return (file.destination.url, *per_file.carry_out(file, child))

    try:
        _run(
            named,
            sync.with_action("copy", "metadata", "same"),
            report,
            callback,
            concurrency,
            carry_out_async,
            per_file.bytes_of,
        )
    except TransferError as error:
        failures.update(error.failures)
    return report, failures


def raise_failures(report: TransferReport, failures: dict[str, BaseException], total: int) -> None:
    """Raise ``TransferError`` for ``failures``, if any, saying what was done.

    Raises:
        TransferError: If there are failures.
    """
    if not failures:
        return
    first_path, first = sorted(failures.items())[0]
    retry = any(
        not isinstance(error, (ConflictError, UnsafePathError)) for error in failures.values()
    )
    raise TransferError(
        f"{len(failures)} of {total} files failed ({report}); the first, {first_path}: {first}"
        + (". Run it again to retry: files already there are skipped" if retry else ""),
        report=report,
        failures=failures,
        keywords=getattr(first, "keywords", ()),
    ) from first


def copy_one(
    datafile: Datafile,
    destination: Location,
    *,
    overwrite: bool = True,
    callback: Callback = DEFAULT_CALLBACK,
) -> TransferReport:
    """Copy one datafile, content and metadata, to ``destination``, writing only what differs
    (as :func:`copy_all` does for each file).

    Args:
        datafile: What to copy.
        destination: Where to: a file path or URL.
        overwrite: Replace a file at ``destination`` with other content (conditionally:
            not if it changes meanwhile).
        callback: An fsspec callback (``TqdmCallback()``): told the file's size, then the
            bytes copied as they go, and the size once it is all there (at once if no
            content needed to move).

    Raises:
        AlreadyExistsError: If ``overwrite`` is False and ``destination`` has other content.
        ConflictError: If the file at ``destination`` changed while it was being written.
    """
    return copy_one_state(datafile, destination, overwrite=overwrite, callback=callback)[0]


def copy_one_state(
    datafile: Datafile,
    destination: Location,
    *,
    overwrite: bool = True,
    callback: Callback = DEFAULT_CALLBACK,
) -> tuple[TransferReport, ObjectState]:
    """:func:`copy_one`, and the state of ``destination`` its write returned (or found)."""
    try:
        existing: ObjectState | None = backend_for(destination).stat(destination)
    except NotFoundError:
        existing = None
    report = TransferReport(destination.url)
    named = (
        cache.named_refusal(destination.url) if destination.is_local else contextlib.nullcontext()
    )
    callback.set_size(datafile.size)
    with named:
        outcome, size, state = _copy(datafile, destination, existing, overwrite, callback)
    callback.absolute_update(datafile.size)
    report._record(destination.url, outcome, size)
    if destination.url != datafile.path:
        write_back_id(datafile, resolved_metadata(datafile, destination, existing))
    return report, state


def fetch_all(
    datafiles: Sequence[Datafile],
    *,
    callback: Callback = DEFAULT_CALLBACK,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> TransferReport:
    """Make sure each remote datafile's current content is in the cache.

    Raises:
        TransferError: If some files failed; the others are cached (see its ``report``).
    """
    report = TransferReport(None)

    def fetch(datafile: Datafile, child: Callback) -> tuple[str, Outcome, int]:
        if not interface.is_remote(datafile):
            return datafile.path, "skipped", 0
        state = interface.current_state(datafile)
        if cache.is_cached(interface.location_of(datafile), state):
            return datafile.path, "skipped", 0
        interface.fetch(datafile, state, child)
        return datafile.path, "transferred", state.size

    def size(datafile: Datafile) -> int:
        return datafile.size if interface.is_remote(datafile) else 0

    _run(fetch, datafiles, report, callback, concurrency, size=size)
    return report


def _run(
    work: Any,
    items: Sequence[Any],
    report: TransferReport,
    callback: Callback,
    concurrency: int,
    work_async: Any = None,
    size: Any = None,
) -> None:
    """Run ``work(item, child_callback)`` on each item, ``concurrency`` at a time
    (``work_async`` on fsspec's event loop where every item can: see
    :mod:`octstore.dataset.engine`), filing outcomes in ``report``. ``callback`` counts the
    bytes of ``size`` (each item's), or else the items.

    A failed file does not stop the others; the failures are raised together at the end.
    On an interrupt, files not yet started are not started, and those in flight are
    cancelled and cleaned up.
    """
    failures = engine.run(
        items,
        work,
        name=_name,
        record=lambda done: report._record(*done),
        callback=callback,
        concurrency=concurrency,
        size=size,
        work_async=work_async,
        loop=shared_loop(items) if work_async is not None else None,
    )
    for paths in (report.transferred, report.metadata_updated, report.skipped):
        paths.sort()
    raise_failures(report, failures, len(items))


def _name(item: Any) -> str:
    if isinstance(item, FilePlan):
        return item.destination.url
    if isinstance(item, tuple):
        return str(item[1].url)
    return str(getattr(item, "path", item))


def _copy(
    datafile: Datafile,
    destination: Location,
    existing: ObjectState | None,
    overwrite: bool,
    callback: Callback,
) -> tuple[Outcome, int, ObjectState]:
    """Copy one datafile's content and metadata to ``destination`` (whose state is
    ``existing``), writing only what differs, its bytes told to ``callback``; and the
    destination's state after it."""
    backend = backend_for(destination)
    metadata = resolved_metadata(datafile, destination, existing)
    if existing is not None and holds(destination, existing, datafile):
        if existing.metadata == metadata:
            return "skipped", 0, existing
        return "metadata", 0, backend.write_metadata(destination, metadata, if_matches=existing)
    if existing is not None and not overwrite:
        raise AlreadyExistsError(
            f"{destination.url} exists with other content than {datafile.path}: overwrite it "
            f"(with {OVERWRITE}), or copy it elsewhere",
            keywords=[OVERWRITE],
        )
    if interface.same_filesystem(interface.location_of(datafile), destination):
        # a copy inside the storage service, where it can be one conditional write
        copied = interface.copy_within(datafile, destination, metadata, existing, callback)
        if copied is not None:
            return "transferred", copied.size, copied
    fetching, sending = steps(callback, datafile, destination)
    with local_content(datafile, destination, fetching) as (source, crc32c):
        size = os.path.getsize(source)
        state = backend.put(
            destination,
            source,
            metadata,
            crc32c=crc32c,
            if_matches=existing,
            if_absent=existing is None,
            callback=sending,
        )
    return "transferred", size, state
