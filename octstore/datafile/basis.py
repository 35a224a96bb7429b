"""What the user changed: the metadata a datafile's changes are to (its basis), stored and given
metadata merged when it is made, and what a write stored adopted afterwards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from octstore.backends import ObjectState
from octstore.errors import (
    InvalidMetadataError,
)
from octstore.metadata import Metadata, id_is_stored
from octstore.metadata.changes import MetadataChanges

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


#: A datafile's attributes (its ``__slots__``, which keep the many datafiles of a loaded
#: dataset small): where it is, whether it is offline, the state it last read (``_state``),
#: the state its metadata was read from (``_metadata_basis``, where writes start), whether
#: ``_state`` is still unused by a content access, its content hash by version, and:
#:
#: - ``_basis``: the stored metadata the user's changes are to, shared with the state it was
#:   read from (never changed in place), and ``_basis_read``: whether it was read from
#:   storage (not taken from a dict);
#: - ``_own_metadata``: the in-memory metadata the user changes, or None until first used
#:   (then made from ``_basis``, see :func:`own_metadata`): a loaded dataset's datafiles
#:   hold one copy of their metadata until they are changed.
SLOTS = (
    "_location",
    "_offline",
    "_state",
    "_metadata_basis",
    "_state_is_fresh",
    "_content_hash",
    "_basis",
    "_basis_read",
    "_own_metadata",
    "_mode",  # the mode ``with datafile`` opens it in (octue's)
    "_opened",  # the open() context of a ``with datafile`` block, while in it
    "_linked",  # a local file's cloud copy, or a remote file's local copy (see linked)
)


def own_metadata(datafile: Datafile) -> Metadata:
    """The in-memory metadata of a datafile that has none yet: a copy of the stored metadata,
    or, where none is stored, only the id derived from its location."""
    if datafile._basis is not None:
        return datafile._basis.model_copy(deep=True)
    return Metadata(id=datafile._location.derived_id())


def merge(
    stored: Metadata | None, given: Metadata, ignore_stored: bool, id_given: bool
) -> Metadata:
    if stored is None:
        return given
    if not id_is_stored(stored):  # derived, as the given one is unless one was given
        stored = stored.model_copy(update={"id": given.id})
    elif id_given and given.id != stored.id:
        raise InvalidMetadataError(
            f"id {str(given.id)!r} differs from the stored id {str(stored.id)!r}: ids are "
            "immutable once stored; leave id out to use the stored one"
        )
    if ignore_stored:
        return given.model_copy(update={"id": stored.id})
    return Metadata(
        id=stored.id,
        timestamp=stored.timestamp if stored.timestamp is not None else given.timestamp,
        labels=stored.labels or given.labels,
        tags=stored.tags or given.tags,
    )


def nothing_to_store(datafile: Datafile, changes: MetadataChanges) -> bool:
    """Whether an ``update_metadata()`` with ``changes`` would store nothing: nothing
    changed, and metadata read from storage is stored there, id and all (metadata another
    tool stored without an id gets its id stored)."""
    stored = datafile._basis
    return changes.is_empty and datafile._basis_read and stored is not None and id_is_stored(stored)


def set_basis(datafile: Datafile, stored: Metadata | None, *, read: bool = True) -> None:
    """Remember ``stored`` (None: nothing), just read or written, as the metadata the
    user's changes are to (``read``: False if nothing was read, so all is to be written)."""
    datafile._metadata  # noqa: B018  # made from the old basis first, if not yet made
    datafile._basis = stored  # shared: a state's metadata is never changed in place
    datafile._basis_read = read


def changes(datafile: Datafile) -> MetadataChanges:
    """What the user changed since the metadata was read, for a write to apply to what
    is stored then (where nothing is, the datafile's whole metadata is stored)."""
    return MetadataChanges.between(datafile._basis, datafile._metadata)


def adopt(datafile: Datafile, state: ObjectState) -> None:
    """After a write: ``state`` is current, and its metadata (the user's changes applied
    to what was stored) is the datafile's, updated in place."""
    datafile._state = datafile._metadata_basis = state
    stored = state.metadata
    if stored is not None and stored != datafile._metadata:
        metadata = datafile._metadata
        metadata.id = stored.id
        metadata.timestamp = stored.timestamp
        metadata.labels.intersection_update(stored.labels)
        metadata.labels.update(stored.labels)
        for name in metadata.tags.keys() - stored.tags.keys():
            del metadata.tags[name]
        metadata.tags.update(stored.tags)
    set_basis(datafile, stored)
