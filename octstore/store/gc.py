"""Garbage collection: delete the objects of a store that no handle names and that were last
added longer than a grace period ago, safely while others add (see :mod:`octstore.store`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from octstore.backends import backend_for
from octstore.errors import InvalidHandleError, NotFoundError
from octstore.store import claims
from octstore.store.content import remove_empty_shards
from octstore.store.handles import split_handle
from octstore.store.records import GcReport, StoredObject, _added, _now, _Outcome

if TYPE_CHECKING:
    from octstore.store.store import Store

#: How long ``gc`` keeps objects that were added recently, unless told otherwise.
DEFAULT_GRACE = timedelta(hours=1)
#: How many objects ``gc`` deletes at once.
GC_CONCURRENCY = 8


def collect(
    store: Store, referenced: Iterable[str], grace: timedelta, *, dry_run: bool
) -> GcReport:
    """Carry out :meth:`Store.gc <octstore.Store.gc>`."""
    if isinstance(referenced, str):
        raise InvalidHandleError(f"referenced={referenced!r} is one string: pass a set of handles")
    keep: dict[str, str] = {}
    for handle in referenced:
        digest, _ = split_handle(handle)
        keep.setdefault(digest, handle)
    objects = store.list()
    stored = {item.sha256 for item in objects}
    report = GcReport(grace=grace, dry_run=dry_run)
    report.missing = sorted(handle for digest, handle in keep.items() if digest not in stored)
    now = _now()
    candidates = []
    for item in objects:
        if item.sha256 in keep:
            report.kept_referenced.append(item)
        elif item.added is None:
            report.kept_unknown.append(item)
        elif now - item.added <= grace:
            report.kept_recent.append(item)
        else:
            candidates.append(item)
    if dry_run:
        report.deleted = candidates
        return report
    store.claims.remove_stale()
    kept: dict[_Outcome, list[StoredObject]] = {
        "deleted": report.deleted,
        "recent": report.kept_recent,
        "unknown": report.kept_unknown,
        "busy": report.kept_busy,
        "gone": [],
    }
    with ThreadPoolExecutor(GC_CONCURRENCY, thread_name_prefix="octstore-gc") as pool:
        outcomes = pool.map(lambda item: _collect(store, item, grace), candidates)
        for item, outcome in zip(candidates, outcomes, strict=True):
            kept[outcome].append(item)
    return report


def _collect(store: Store, item: StoredObject, grace: timedelta) -> _Outcome:
    """Delete one object under a claim if it is still older than ``grace``."""
    location = store._object(item.sha256)
    backend = backend_for(location)
    with store.claims.claim(item.sha256) as claimed_at:
        try:
            state = backend.stat(location)
        except NotFoundError:
            return "gone"
        added = _added(state.metadata)
        if added is None:
            return "unknown"
        if _now() - added <= grace:
            return "recent"
        if time.monotonic() - claimed_at > claims.timeout().total_seconds() / 2:
            return "busy"
        try:
            backend.delete(location)
        except NotFoundError:
            return "gone"
    remove_empty_shards(location)
    return "deleted"
