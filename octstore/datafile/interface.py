"""What the dataset, transfer and store code may ask of a :class:`Datafile` beyond its public
API: one named seam instead of reaching into its private attributes.

Every function here acts on a datafile without a request unless it says otherwise.
"""

from __future__ import annotations

import dataclasses
import uuid

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import MetadataBackend
from octstore.datafile import basis, conversions
from octstore.datafile.datafile import Datafile
from octstore.datafile.linked import moved_to
from octstore.datafile.linked import remote_location as remote_location_of
from octstore.datafile.uploading import copy_within, same_filesystem
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.state import ObjectState

__all__ = [
    "assemble",
    "backend_of",
    "copy_within",
    "current_state",
    "fetch",
    "is_remote",
    "known_state",
    "local_copy_of",
    "location_of",
    "metadata_changed",
    "metadata_view",
    "moved_to",
    "remote_location_of",
    "same_filesystem",
    "store_id",
]


def assemble(
    location: Location,
    metadata: Metadata | None,
    state: ObjectState | None,
    offline: bool | None = None,
) -> Datafile:
    """A datafile from parts already known (a listing, a manifest, a dict): no request.
    ``offline``: as ``Datafile``'s (by default, from ``OCTSTORE_OFFLINE``)."""
    return conversions.assemble(Datafile, location, metadata, state, offline)


def is_remote(datafile: Datafile) -> bool:
    """Whether ``datafile`` is a remote file (not a local one, even with a cloud copy)."""
    return not datafile._location.is_local


def location_of(datafile: Datafile) -> Location:
    """Where ``datafile`` is."""
    return datafile._location


def local_copy_of(datafile: Datafile) -> str | None:
    """The local copy a remote ``datafile`` keeps its content at (``local_path=``), if any."""
    link = datafile._linked
    return link.location.url if link is not None and not datafile._location.is_local else None


def backend_of(datafile: Datafile) -> MetadataBackend:
    """The backend that keeps ``datafile``'s content and metadata."""
    return datafile._backend


def current_state(datafile: Datafile) -> ObjectState:
    """The state a content access acts on: the one just read if unused, else one request."""
    return datafile._current()


def known_state(datafile: Datafile) -> ObjectState | None:
    """The state ``datafile`` last read or wrote (None: none, or it was deleted)."""
    return datafile._state


def metadata_view(datafile: Datafile) -> Metadata:
    """``datafile``'s metadata as it is in memory, read in place (never change it): unlike
    ``datafile.labels`` and friends, a loaded dataset's datafile is not given a copy of its
    own."""
    if datafile._own_metadata is not None:
        return datafile._own_metadata
    return datafile._basis if datafile._basis is not None else datafile.metadata()


def metadata_changed(datafile: Datafile) -> bool:
    """Whether ``datafile.update_metadata()`` has changes to store: labels, tags or timestamp
    changed since they were read (or, for metadata not read from storage, any at all). Unlike
    ``update_metadata()``, a file with no metadata stored and nothing changed has none."""
    return not (basis.changes(datafile).is_empty and datafile._basis_read)


def fetch(datafile: Datafile, state: ObjectState, callback: Callback = DEFAULT_CALLBACK) -> str:
    """The local path of ``datafile``'s content at ``state``, downloaded into the cache if
    it is not there (its bytes told to ``callback``)."""
    return datafile._fetch(state, callback)


def store_id(datafile: Datafile, id: uuid.UUID) -> None:
    """Store ``id`` as ``datafile``'s id, replacing a stored one (one metadata write): only
    for the id its copy at an upload's destination has, which wins."""
    changes = dataclasses.replace(basis.changes(datafile), id=id, sets_id=True)
    written = datafile._backend.write_metadata(
        datafile._location, changes, if_matches=datafile._metadata_basis
    )
    basis.adopt(datafile, written)
