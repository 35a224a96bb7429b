"""Loading a dataset from its root: whether the place can hold one, its manifest, and one
listing of its files with their metadata (no content)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from octstore.backends import backend_for
from octstore.datafile import Datafile, conversions, interface
from octstore.dataset import signed
from octstore.dataset.manifest import Manifest, read_manifest, read_octue_dataset
from octstore.dataset.updating import ListedStates
from octstore.errors import InvalidPathError, NotFoundError, warn
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.protocols import lookup
from octstore.state import ObjectState

__all__ = ["Loaded", "held", "load", "own_metadata", "warn_empty"]


@dataclass
class Loaded:
    """What a dataset's root holds.

    Attributes:
        manifest: The manifest's own fields (its files' are in ``listed``), if there is one.
        files: The datafiles listed, by URL.
        listed: Each listed file's listing version and state, by URL.
        missing: Whether the root is a local directory that does not exist yet.
    """

    manifest: Manifest | None = None
    files: dict[str, Datafile] = field(default_factory=dict)
    listed: ListedStates = field(default_factory=dict)
    missing: bool = False


def load(root: Location, *, recursive: bool) -> Loaded:
    """The files under ``root``, from one listing and the manifest.

    Raises:
        InvalidPathError: If ``root`` cannot be listed (``https://``).
        NotFoundError: If ``root`` is a local path that is not a directory.
    """
    if signed.is_signed(root):
        return Loaded(*signed.load(root))
    if not lookup(root.protocol).listable:
        raise InvalidPathError(
            f"{root.url} cannot be listed as a dataset ({root.protocol} has no listing): "
            "name its files instead, Dataset(files=[url, ...])"
        )
    if root.is_local and not os.path.lexists(root.url):
        return Loaded(missing=True)
    if root.is_local and not os.path.isdir(root.url):
        raise NotFoundError(f"{root.url} is not a directory: check the path")
    manifest = read_manifest(root)
    known = manifest.known(root) if manifest else None
    if manifest is None and root.is_local:  # a folder octue wrote: its own metadata
        manifest = read_octue_dataset(root)
    listing = backend_for(root).list(root, recursive=recursive, known=known)
    loaded = held((child, version, state) for child, state, version in listing)
    loaded.manifest = manifest.model_copy(update={"files": []}) if manifest else None
    return loaded


def held(states: Iterable[tuple[Location, str, ObjectState]]) -> Loaded:
    """The datafiles of files whose ``(location, listing version, state)`` are known (a
    listing, a transfer's writes), with no request."""
    loaded = Loaded()
    offline = conversions.offline_by_default()
    for location, version, state in states:
        # (the datafile copies the state's metadata when it is first used)
        loaded.files[location.url] = interface.assemble(location, state.metadata, state, offline)
        loaded.listed[location.url] = (version, state)
    return loaded


def own_metadata(
    given: dict[str, Any], manifest: Manifest | None, root: Location | None
) -> Metadata:
    """A dataset's own metadata: each of ``given`` (id, labels, tags) that is not None,
    else the manifest's; an id derived from the root when neither has one (so that two
    loads agree), or a new one for a dataset without a root."""
    stored = manifest.model_dump(include={"id", "labels", "tags"}) if manifest else {}
    chosen = {key: value if value is not None else stored.get(key) for key, value in given.items()}
    if chosen.get("id") is None:
        chosen["id"] = root.derived_id() if root else uuid.uuid4()
    return Metadata.model_validate(chosen)


def warn_empty(root: Location, missing: bool, *, stacklevel: int) -> None:
    """Warn that the dataset at ``root`` has no files (as octue does): a typo in a path
    would otherwise look like an empty folder."""
    if missing:
        warn(
            f"the dataset at {root.url} does not exist yet: it is empty, and its directory "
            "is made when something is written into it",
            stacklevel=stacklevel + 1,
        )
    else:
        warn(
            f"the dataset at {root.url} is empty at instantiation: check the path, or add() "
            "files to it",
            stacklevel=stacklevel + 1,
        )
