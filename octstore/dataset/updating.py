"""Storing the metadata changes of many datafiles at once: what ``Dataset.update_metadata()``
does before it writes the manifest.

Each datafile whose labels, tags or timestamp changed since they were read is written through
its own ``update_metadata()``: its changes applied to the metadata stored at the time of
writing, under the backend's lock, lease or precondition, so that another writer's changes
made meanwhile are kept (and adopted). The files run concurrently, as transfers do; a datafile
with nothing changed costs no request, and a failed one does not stop the others.

The manifest then records each file at the state its write returned. A listing version that
the state alone tells (GCS's generation and metageneration) lets the next load trust it; where
only a request could tell (a sidecar's modification time, an S3 update within the second),
the entry gets :data:`UNKNOWN_LISTING_VERSION`, which no listing shows, so that the next load
reads that file afresh: a manifest is never trusted beyond what is known.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping

from fsspec.callbacks import Callback

from octstore.datafile import Datafile, interface
from octstore.dataset.manifest import ManifestEntry
from octstore.dataset.per_file import Outcome
from octstore.dataset.transfer import TransferReport, _run
from octstore.errors import NotFoundError, TransferError
from octstore.location import Location, relative_path
from octstore.state import ObjectState

__all__ = [
    "UNKNOWN_LISTING_VERSION",
    "ListedStates",
    "entries_under",
    "held",
    "manifest_entries",
    "recorded",
    "store_changes",
]

#: The listing version of a manifest entry whose file's was not known when it was written: no
#: listing shows it, so the next load reads that file afresh.
UNKNOWN_LISTING_VERSION = "unknown"

#: Each file's listing version and state, by URL: what a manifest records.
ListedStates = dict[str, tuple[str, ObjectState]]


def held(
    holding: Mapping[str, Datafile], files: Iterable[Datafile] | None, name: str | None
) -> list[Datafile]:
    """``files`` (each once, by path), or all the datafiles ``holding`` holds.

    Raises:
        NotFoundError: If one is not held (by the dataset ``name``).
    """
    if files is None:
        return [holding[path] for path in sorted(holding)]
    selected = {datafile.path: datafile for datafile in files}
    for path in selected:
        if path not in holding:
            raise NotFoundError(
                f"the dataset {name!r} holds no datafile {path}: add it first "
                "(add()), or store its metadata on its own (Datafile.update_metadata())"
            )
    return [selected[path] for path in sorted(selected)]


def store_changes(
    datafiles: Iterable[Datafile],
    destination: str | None,
    *,
    callback: Callback,
    concurrency: int,
) -> tuple[TransferReport, dict[str, BaseException]]:
    """Store each datafile's metadata changes, if it has any, ``concurrency`` at a time.

    Returns:
        What was done (``metadata_updated``: written; ``skipped``: nothing to write), and the
        error of each file that failed, by path. Those not written keep their changes, so
        that running it again retries them.
    """
    report = TransferReport(destination)
    changed = []
    for datafile in datafiles:
        if interface.metadata_changed(datafile):
            changed.append(datafile)
        else:
            report.skipped.append(datafile.path)
    report.skipped.sort()

    def store(datafile: Datafile, _: Callback) -> tuple[str, Outcome, int]:
        datafile.update_metadata()
        return datafile.path, "metadata", 0

    try:
        _run(store, changed, report, callback, concurrency)
    except TransferError as error:
        return report, error.failures
    return report, {}


def recorded(listed: ListedStates, datafiles: Iterable[Datafile], root: Location) -> ListedStates:
    """``listed`` with the state of each datafile under ``root`` that moved on since it was
    listed (a write returned a new one), at the listing version its backend tells from that
    state, or at :data:`UNKNOWN_LISTING_VERSION`. No request is made."""
    states = dict(listed)
    for datafile in datafiles:
        state = interface.known_state(datafile)
        before = states.get(datafile.path)
        if state is None or (before is not None and (before[1] is state or before[1] == state)):
            continue
        location = interface.location_of(datafile)
        if before is None and not _is_under(location, root):
            continue
        version = interface.backend_of(datafile).listing_version(location, state)
        states[datafile.path] = (version or UNKNOWN_LISTING_VERSION, state)
    return states


def _is_under(location: Location, root: Location) -> bool:
    try:
        relative_path(location.relative_to(root))
    except ValueError:
        return False
    return True


def entries_under(root: Location, listed: ListedStates) -> Iterable[tuple[str, str, ObjectState]]:
    """``(path relative to root, listing version, state)`` for each file in ``listed`` that a
    manifest in ``root`` may hold (a key no folder could hold, ``a/..``, is left out)."""
    for url, (version, state) in sorted(listed.items()):
        with contextlib.suppress(ValueError):
            yield relative_path(_relative(url, root)), version, state


def manifest_entries(root: Location, listed: ListedStates) -> Iterator[ManifestEntry]:
    """The manifest entry of each file in ``listed`` that a manifest in ``root`` may hold,
    made one at a time as the manifest is written, from states already valid."""
    for relative, version, state in entries_under(root, listed):
        yield ManifestEntry.model_construct(
            path=relative,
            size=state.size,
            version_token=state.version_token,
            listing_version=version,
            hash_value=state.crc32c,
            metadata=state.metadata,
            details=dict(state.details),
        )


def _relative(url: str, root: Location) -> str:
    """The path of the listed file ``url`` inside ``root``, ``/``-separated: by its prefix,
    without making a location of it, unless it has none (a chained URL)."""
    separator = os.sep if root.is_local else "/"
    prefix = root.url.rstrip(separator) + separator
    if url.startswith(prefix) and "::" not in root.url:
        return url[len(prefix) :].replace(os.sep, "/") if root.is_local else url[len(prefix) :]
    return Location(url).relative_to(root)
