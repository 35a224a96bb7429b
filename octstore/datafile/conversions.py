"""A datafile made from parts already known (a listing, a dict) with no request, and pickled:
what a copy in another process needs, never its filesystem client."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from octstore.location import Location
from octstore.metadata import Metadata
from octstore.state import ObjectState

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


def pickled(datafile: Datafile) -> dict[str, Any]:
    """What a pickle of ``datafile`` holds: never its filesystem client."""
    return {
        "location": datafile._location,
        "metadata": datafile._metadata,
        "state": datafile._state,
        "metadata_basis": datafile._metadata_basis,
        "basis": datafile._basis,
        "basis_read": datafile._basis_read,
        "offline": datafile._offline,
    }


def unpickle(datafile: Datafile, state: dict[str, Any]) -> None:
    """Restore ``datafile`` from :func:`pickled`; its state is re-read before content is used."""
    datafile._location = state["location"]
    datafile._own_metadata = state["metadata"]
    datafile._state = state["state"]
    datafile._metadata_basis = state["metadata_basis"]
    # (pickles of an octstore before metadata changes: the metadata is the basis)
    datafile._basis = state.get("basis", state["metadata"])
    datafile._basis_read = state.get("basis_read", False)
    datafile._offline = state["offline"]
    datafile._state_is_fresh = False
    datafile._content_hash = None


def assemble(
    cls: type[Datafile],
    location: Location,
    metadata: Metadata | None,
    state: ObjectState | None,
    offline: bool | None = None,
) -> Datafile:
    """A datafile from parts already known (a dict, a listing), with no request; with no
    ``metadata``, it has the id derived from its location and nothing else."""
    datafile = cls.__new__(cls)
    datafile._location = location
    datafile._offline = offline_by_default() if offline is None else offline
    datafile._state = datafile._metadata_basis = state
    if state is not None:
        datafile._basis = state.metadata
        datafile._basis_read = True
        # the state's own metadata is the basis: the datafile's copy is made on first use
        datafile._own_metadata = None if metadata is state.metadata else metadata
    else:  # what is stored was not read: the user's changes are to this metadata
        datafile._basis = metadata.model_copy(deep=True) if metadata is not None else None
        datafile._basis_read = False
        datafile._own_metadata = metadata
    datafile._state_is_fresh = state is not None
    datafile._content_hash = None
    return datafile


def offline_by_default() -> bool:
    """Whether ``OCTSTORE_OFFLINE`` asks for no requests."""
    return os.environ.get("OCTSTORE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
