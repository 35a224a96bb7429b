"""A datafile's other copy: the cloud copy a local file was uploaded to (its ``cloud_path``), or
the local copy a remote file keeps its content at (its ``local_path``), and the uploads that
make and move them (octue's model of a datafile with both paths).

Each link remembers the two sides as they were when they last agreed, so that an upload of
nothing new makes no request, a later upload does not overwrite a change made at the other
side meanwhile (it is conditional on the state the link recorded), and a local copy the
user edited is never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from octstore import cache
from octstore.backends import ObjectState, backend_for
from octstore.datafile import basis
from octstore.errors import AlreadyExistsError, NotFoundError, OctstoreError
from octstore.hashing import crc32c_file
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataChanges
from octstore.state import local_version_token

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


@dataclass(frozen=True, slots=True)
class Link:
    """The other copy of a datafile, and both sides when they last agreed.

    Attributes:
        location: The cloud copy of a local file, or the local copy of a remote file.
        local_token: The local file's version token then (None: never synchronised).
        remote: The remote file's state then (None: never synchronised).
        metadata: The metadata then (a local file's, as uploaded).
    """

    location: Location
    local_token: str | None = None
    remote: ObjectState | None = None
    metadata: Metadata | None = None


def token_of(path: str) -> str | None:
    """A local file's version token, or None if there is no file."""
    try:
        return local_version_token(os.stat(path))
    except FileNotFoundError:
        return None


def cloud_path(datafile: Datafile) -> str | None:
    """Carry out ``Datafile.cloud_path``."""
    if not datafile._location.is_local:
        return datafile.path
    return datafile._linked.location.url if datafile._linked else None


def remote_location(datafile: Datafile) -> Location | None:
    """Where a datafile is in the cloud: itself if remote, else its cloud copy, else None."""
    if not datafile._location.is_local:
        return datafile._location
    return datafile._linked.location if datafile._linked else None


def exists_locally(datafile: Datafile) -> bool:
    """Carry out ``Datafile.exists_locally`` (no request)."""
    if datafile._location.is_local:
        return os.path.isfile(datafile.path)
    if datafile._linked is not None:
        return os.path.isfile(datafile._linked.location.url)
    state = datafile._state
    return state is not None and cache.is_cached(datafile._location, state)


def cloud_copy_exists(datafile: Datafile) -> bool:
    """Whether a local datafile's cloud copy exists (one metadata request; False if none)."""
    if datafile._linked is None:
        return False
    try:
        backend_for(datafile._linked.location).stat(datafile._linked.location)
    except NotFoundError:
        return False
    return True


def store_on_other_copy(datafile: Datafile, remote: bool) -> bool:
    """Store ``datafile``'s metadata on its own side, if it is remote (or local, for
    ``remote=False``), else on its linked copy on that side: the changes made since the two
    last agreed, applied to what that copy stores now, so that another writer's changes
    there are kept. False if it has no copy on that side."""
    if datafile._location.is_local != remote:
        datafile.update_metadata()
        return True
    link = datafile._linked
    if link is None:
        return False
    since = link.metadata if remote else datafile._basis
    changes = MetadataChanges.between(since, datafile._metadata)
    state = backend_for(link.location).write_metadata(
        link.location, changes, if_matches=link.remote if remote else None
    )
    if remote:  # the link's record of the cloud copy moves on, unless its content did
        same = link.remote is not None and state.version_token == link.remote.version_token
        datafile._linked = Link(
            link.location,
            link.local_token,
            state if same else link.remote,
            state.metadata if same else link.metadata,
        )
    return True


def set_cloud_path(datafile: Datafile, url: str | None) -> None:
    """Carry out the ``cloud_path`` setter: upload to ``url`` (octue's), or forget the cloud
    copy of a local file."""
    if url is not None:
        datafile.upload(url)
    elif not datafile._location.is_local:
        raise OctstoreError(
            f"{datafile.path} is a remote file: its cloud_path cannot be unset (it has no "
            "local file of its own)"
        )
    else:
        datafile._linked = None


def local_copy(datafile: Datafile) -> str | None:
    """The local copy of a remote datafile, made current: placed again if the user has not
    changed it and the remote file has; left as it is if the user changed it (``upload()``
    sends it). None if it has none."""
    link = datafile._linked
    if datafile._location.is_local or link is None:
        return None
    path = link.location.url
    token = token_of(path)
    if token is not None and token != link.local_token:
        return path  # the user's edits: never overwritten
    state = datafile._current()
    if token is None or link.remote is None or state.version_token != link.remote.version_token:
        _place(datafile, state, path, replace=token is not None)
    return path


def set_local_path(datafile: Datafile, path: str | os.PathLike[str] | None) -> None:
    """Carry out the ``local_path`` setter: keep a remote file's content at ``path`` (made
    from the cache; a file there already must hold that content), or, with None, in the
    cache again."""
    if datafile._location.is_local:
        _move_local(datafile, path)
        return
    if path is None:
        datafile._linked = None
        return
    target = os.path.abspath(os.fspath(path))
    if os.path.isdir(target):
        raise AlreadyExistsError(f"local_path {target} of {datafile.path} is a directory")
    state = datafile._current()
    if os.path.exists(target) and crc32c_file(target) != datafile.hash_value:
        raise AlreadyExistsError(
            f"{target} exists with other content than {datafile.path}: a local_path must be "
            "a new file or hold the same content; move it away, or download(path, "
            "overwrite=True) to replace it"
        )
    _place(datafile, state, target, replace=False)


def _move_local(datafile: Datafile, path: str | os.PathLike[str] | None) -> None:
    """Carry out the ``local_path`` setter of a local datafile (octue's): its content and
    metadata are copied to ``path``, a new file (or one with the same content), and it is
    at ``path`` from then on; its cloud copy stays linked."""
    if path is None:
        raise OctstoreError(
            f"{datafile.path} is a local file: its local_path cannot be unset (it has no "
            "cloud file of its own)"
        )
    target = Location(os.path.abspath(os.fspath(path)))
    if target.url == datafile.path:
        return
    exists = os.path.exists(target.url)
    if exists and (os.path.isdir(target.url) or crc32c_file(target.url) != datafile.hash_value):
        raise AlreadyExistsError(
            f"{target.url} exists: a datafile's local_path can only be set to a new file (or "
            "one with the same content), so that nothing there is overwritten; move it away, "
            f"or download({str(path)!r}, overwrite=True) to replace it"
        )
    if not exists and os.path.isfile(datafile.path):
        cache.copy_file(datafile.path, target.url)
    old = datafile._linked
    in_sync = old is not None and old.local_token == token_of(datafile.path)
    datafile._location = target
    datafile._state = datafile._metadata_basis = None
    basis.set_basis(datafile, None)
    if os.path.isfile(target.url):
        datafile.update_metadata()
    if old is not None:
        token = token_of(target.url) if in_sync else None
        datafile._linked = Link(old.location, token, old.remote, old.metadata)


def moved_to(datafile: Datafile, destination: Location, written: ObjectState) -> None:
    """Record that ``datafile``'s content and metadata were just copied to ``destination``,
    whose state the copy's write returned (``written``), as octue's ``Dataset.add`` moves
    the datafile it is given: a remote file, or a local one copied to another local path,
    is at ``destination`` from then on; a local file copied to a remote one has it as its
    cloud copy, and a remote file copied to a local path has it as its local copy (of the
    version that was copied: the state the copy read)."""
    if datafile._location.is_local == destination.is_local:
        datafile._location = destination
        datafile._content_hash = None
        basis.adopt(datafile, written)
    elif destination.is_local:  # a remote file's local copy
        copied = datafile._state or datafile._current()
        datafile._linked = Link(destination, token_of(destination.url), copied)
    else:  # a local file's cloud copy
        datafile._linked = Link(destination, token_of(datafile.path), written, written.metadata)


def after_write(datafile: Datafile) -> None:
    """After content was written through ``open()``: a local file's cloud copy is brought
    up to date (octue's), conditional on it not having changed since it was made."""
    if datafile._location.is_local and datafile._linked is not None:
        datafile.upload()


def _place(datafile: Datafile, state: ObjectState, path: str, *, replace: bool) -> None:
    """Put the content at ``state`` at ``path`` (from the cache) and record the link."""
    if replace or not os.path.exists(path):
        cache.copy_file(datafile._fetch(state), path)
    datafile._linked = Link(Location(path), token_of(path), state)
