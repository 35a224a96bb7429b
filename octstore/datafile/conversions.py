"""A datafile as a dict (octstore's and octue's forms), made from parts already known (a
listing, a dict) with no request, and pickled: what a copy in another process needs, never
its filesystem client."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from octstore.datafile.linked import Link
from octstore.errors import InvalidPathError
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.redaction import redact
from octstore.state import ObjectState

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


class Conversions:
    """:class:`~octstore.Datafile` as a dict and back: octstore's ``to_dict``/``from_dict`` and
    octue's ``to_primitive``/``deserialise``."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description that ``from_dict`` turns back into an equal datafile.

        It never holds credentials: secret storage options (at any depth) and a URL's
        userinfo and signature are left out; give them again to ``from_dict``.
        """
        datafile = cast("Datafile", self)
        return {
            "path": redact(datafile.path, mask=None),
            **datafile._metadata.model_dump(mode="json"),
            "storage_options": redact(datafile._location.storage_options, mask=None),
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> Datafile:
        """The datafile ``to_dict`` (or octue's ``to_primitive``) described, with no request.

        Args:
            data: The output of ``to_dict``.
            storage_options: Extra storage options, e.g. credentials ``to_dict`` left out.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("path"), str):
            raise InvalidPathError(
                f"{redact(repr(data))[:200]} does not describe a datafile: give the dict that "
                "to_dict() made, with its 'path'"
            )
        options = {**data.get("storage_options", {}), **(storage_options or {})}
        location = Location(data["path"], options)
        metadata = Metadata.model_validate(
            {"id": location.derived_id()}
            | {key: data[key] for key in ("id", "timestamp", "labels", "tags") if key in data}
        )
        datafile = assemble(cast("type[Datafile]", cls), location, metadata, None)
        if data.get("cloud_path") and location.is_local:
            datafile._linked = Link(Location(data["cloud_path"], options))
        return datafile

    def to_primitive(self) -> dict[str, Any]:
        """octue's serialised form (its keys; no storage options): what octue's
        ``Datafile.deserialise`` and octstore's read back. No request is made."""
        datafile = cast("Datafile", self)
        metadata = datafile._metadata.model_dump(mode="json")
        link = datafile._linked
        local = datafile.path if datafile._location.is_local else link and link.location.url
        return {
            "id": metadata["id"],
            "name": datafile.name,
            "path": redact(datafile.path, mask=None),
            "local_path": local,
            "cloud_path": redact(datafile.cloud_path, mask=None) if datafile.cloud_path else None,
            "timestamp": metadata["timestamp"],
            "tags": metadata["tags"],
            "labels": metadata["labels"],
            "_cloud_metadata": {},
        }

    @classmethod
    def deserialise(cls, serialised: Mapping[str, Any], path_from: Any = None) -> Datafile:
        """octue's name for ``from_dict``: reads what octue's ``to_primitive`` wrote too (a
        relative ``path`` is taken relative to ``path_from``'s path, as octue does)."""
        data = {key: _plain(value) for key, value in serialised.items()}
        root = getattr(path_from, "path", path_from)
        if root and "://" not in data.get("path", "://") and not os.path.isabs(data["path"]):
            data["path"] = os.path.join(os.fspath(root), data["path"])
        return cls.from_dict(data)

    def __getstate__(self) -> dict[str, Any]:
        return pickled(cast("Datafile", self))

    def __setstate__(self, state: dict[str, Any]) -> None:
        unpickle(cast("Datafile", self), state)


def _plain(value: Any) -> Any:
    """A value of octue's serialised form as plain JSON: its encoder writes a datetime as
    ``{"_type": "datetime", "value": "<ISO 8601>"}``."""
    if isinstance(value, Mapping) and value.get("_type") == "datetime" and "value" in value:
        return value["value"]
    return value


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
        "mode": datafile._mode,
        "linked": datafile._linked,
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
    datafile._mode, datafile._opened = state.get("mode", "r"), None
    datafile._linked = state.get("linked")


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
    datafile._mode, datafile._opened, datafile._linked = "r", None, None
    return datafile


def offline_by_default() -> bool:
    """Whether ``OCTSTORE_OFFLINE`` asks for no requests."""
    return os.environ.get("OCTSTORE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
