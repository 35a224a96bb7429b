"""A datafile's other copy: the cloud copy a local file was uploaded to (its ``cloud_path``), or
the local copy a remote file keeps its content at (its ``local_path``), and the uploads that
make and move them (octue's model of a datafile with both paths).

Each link remembers the two sides as they were when they last agreed, so that an upload of
nothing new makes no request, a later upload does not overwrite a change made at the other
side meanwhile (it is conditional on the state the link recorded), and a local copy the
user edited is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import ObjectState, backend_for
from octstore.datafile import basis, names
from octstore.errors import AlreadyExistsError, ConflictError, NotFoundError, OctstoreError
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
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


def _token(path: str) -> str | None:
    try:
        return local_version_token(os.stat(path))
    except FileNotFoundError:
        return None


def link(
    datafile: Datafile,
    *,
    local_path: str | os.PathLike[str] | None,
    cloud_path: str | None,
) -> None:
    """Carry out the ``local_path=`` and ``cloud_path=`` arguments of ``Datafile``."""
    if local_path is not None:
        set_local_path(datafile, local_path)
    if cloud_path is None:
        return
    destination = Location(cloud_path, datafile._location.storage_options)
    if not datafile._location.is_local:
        if destination.url != datafile.path:
            raise OctstoreError(
                f"{datafile.path} is a remote file: its cloud_path is its path, not "
                f"{destination.url}; upload(cloud_path) copies it there"
            )
        return
    if destination.is_local:
        raise OctstoreError(
            f"cloud_path {destination.url} of {datafile.path} is a local path: give a URL such "
            "as gs://bucket/key"
        )
    datafile._linked = Link(destination)
    if os.path.isfile(datafile.path):  # octue's: the cloud copy is made at once
        datafile.upload()


def cloud_path(datafile: Datafile) -> str | None:
    """Carry out ``Datafile.cloud_path``."""
    if not datafile._location.is_local:
        return datafile.path
    return datafile._linked.location.url if datafile._linked else None


def cloud_copy_exists(datafile: Datafile) -> bool:
    """Whether a local datafile's cloud copy exists (one metadata request; False if none)."""
    if datafile._linked is None:
        return False
    try:
        backend_for(datafile._linked.location).stat(datafile._linked.location)
    except NotFoundError:
        return False
    return True


def other_copy(datafile: Datafile, remote: bool) -> Datafile | None:
    """The datafile itself if it is remote (or local, for ``remote=False``), else its linked
    copy on that side with its metadata given (the stored id kept), else None."""
    if datafile._location.is_local != remote:
        return datafile
    if datafile._linked is None:
        return None
    location, metadata = datafile._linked.location, datafile._metadata
    return type(datafile)(
        location.url,
        storage_options=location.storage_options,
        labels=metadata.labels,
        tags=metadata.tags,
        timestamp=metadata.timestamp,
        ignore_stored_metadata=True,
    )


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
    token = _token(path)
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
    in_sync = old is not None and old.local_token == _token(datafile.path)
    datafile._location = target
    datafile._state = datafile._metadata_basis = None
    basis.set_basis(datafile, None)
    if os.path.isfile(target.url):
        datafile.update_metadata()
    if old is not None:
        token = _token(target.url) if in_sync else None
        datafile._linked = Link(old.location, token, old.remote, old.metadata)


def moved_to(datafile: Datafile, destination: Location) -> None:
    """Record that ``datafile``'s content and metadata were just copied to ``destination``,
    as octue's ``Dataset.add`` moves the datafile it is given: a remote file, or a local
    one copied to another local path, is at ``destination`` from then on; a local file
    copied to a remote one has it as its cloud copy, and a remote file copied to a local
    path has it as its local copy."""
    state = backend_for(destination).stat(destination)
    if datafile._location.is_local == destination.is_local:
        datafile._location = destination
        datafile._content_hash = None
        basis.adopt(datafile, state)
    elif destination.is_local:  # a remote file's local copy
        datafile._linked = Link(destination, _token(destination.url), datafile._current())
    else:  # a local file's cloud copy
        token = _token(datafile.path)
        metadata = datafile._metadata.model_copy(deep=True)
        datafile._linked = Link(destination, token, state, metadata)


def after_write(datafile: Datafile) -> None:
    """After content was written through ``open()``: a local file's cloud copy is brought
    up to date (octue's), conditional on it not having changed since it was made."""
    if datafile._location.is_local and datafile._linked is not None:
        datafile.upload()


def _place(datafile: Datafile, state: ObjectState, path: str, *, replace: bool) -> None:
    """Put the content at ``state`` at ``path`` (from the cache) and record the link."""
    if replace or not os.path.exists(path):
        cache.copy_file(datafile._fetch(state), path)
    datafile._linked = Link(Location(path), _token(path), state)


def upload(
    datafile: Datafile,
    url: str | None,
    update_metadata: bool,
    callback: Callback = DEFAULT_CALLBACK,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Carry out :meth:`Datafile.upload`."""
    if datafile._location.is_local:
        return _upload_local(datafile, url, update_metadata, callback, storage_options)
    if url is None or Location(url, storage_options or datafile.storage_options) == (
        datafile._location
    ):
        _send_local_copy(datafile, callback)
        if update_metadata:
            datafile.update_metadata()
        return datafile.path
    destination = Location(url, storage_options or datafile._location.storage_options)
    state = _put(datafile, destination, update_metadata, None, callback)
    # re-pointed at its new place (octue's): the content there is the content it had
    datafile._location = destination
    basis.adopt(datafile, state)
    if datafile._linked is not None:
        link = datafile._linked
        datafile._linked = Link(link.location, link.local_token, state)
    return destination.url


def _upload_local(
    datafile: Datafile,
    url: str | None,
    update_metadata: bool,
    callback: Callback,
    storage_options: dict[str, Any] | None,
) -> str:
    link = datafile._linked
    if url is None and link is None:
        raise OctstoreError(
            f"upload() of the local file {datafile.path} needs a cloud_path: "
            "upload('gs://bucket/key')"
        )
    options = storage_options or (
        link.location.storage_options if link else datafile._location.storage_options
    )
    destination = Location(url, options) if url is not None else link.location  # type: ignore[union-attr]
    if link is None or link.location != destination:
        link = Link(destination)
    token = _token(datafile.path)
    if token is None:
        raise NotFoundError(f"{datafile.path} does not exist: write it before upload()")
    if link.local_token == token and link.metadata == datafile._metadata:
        return destination.url  # nothing changed since it was uploaded there
    if link.remote is None:
        link = _found_there(datafile, destination, token) or link
        if link.local_token == token:
            datafile._linked = link
            return destination.url
    state = _put(datafile, destination, update_metadata, link.remote, callback)
    datafile._linked = Link(destination, token, state, datafile._metadata.model_copy(deep=True))
    return destination.url


def _found_there(datafile: Datafile, destination: Location, token: str) -> Link | None:
    """A link to ``destination`` recording that it already holds the datafile's content and
    metadata (one metadata request), or None."""
    try:
        state = backend_for(destination).stat(destination)
    except NotFoundError:
        return None
    metadata = datafile._metadata
    held = state.crc32c == datafile.hash_value and state.metadata == metadata
    return Link(destination, token if held else None, state, metadata.model_copy(deep=True))


def _put(
    datafile: Datafile,
    destination: Location,
    update_metadata: bool,
    if_matches: ObjectState | None,
    callback: Callback,
) -> ObjectState:
    """Write ``datafile``'s content and metadata (or, without ``update_metadata``, the
    metadata ``destination`` has) to ``destination``, conditional on ``if_matches``."""
    names.check_writable(destination)
    backend = backend_for(destination)
    metadata = datafile._metadata
    if not update_metadata:
        try:
            metadata = backend.stat(destination).metadata or Metadata(id=metadata.id)
        except NotFoundError:
            metadata = Metadata(id=metadata.id)
    if same_filesystem(datafile._location, destination):
        return copy_within(datafile, destination, metadata, if_matches, callback)
    # its content as stored (not a local copy's edits, which upload() sends there)
    local = datafile._location.is_local
    source = datafile.path if local else datafile._fetch(datafile._current())
    staged = cache.staging_path(datafile.name)
    try:
        with translate_errors(datafile.path, "reading"):
            shutil.copyfile(source, staged)  # the backend may consume its source
        size = os.path.getsize(staged)
        callback.set_size(size)
        state = backend.put(
            destination, staged, metadata, crc32c=datafile.hash_value, if_matches=if_matches
        )
        callback.absolute_update(size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)
    return state


def same_filesystem(source: Location, destination: Location) -> bool:
    """Whether ``destination`` is reached through ``source``'s remote filesystem, so that a
    copy needs no content to cross the wire."""
    return (
        not source.is_local
        and source.protocol == destination.protocol
        and source.storage_options == destination.storage_options
    )


def copy_within(
    datafile: Datafile,
    destination: Location,
    metadata: Metadata,
    if_matches: ObjectState | None,
    callback: Callback = DEFAULT_CALLBACK,
) -> ObjectState:
    """Copy a remote datafile to ``destination`` on its own filesystem (a server-side copy:
    no content crosses the wire), then store ``metadata`` there."""
    state = datafile._current()
    backend = backend_for(destination)
    if if_matches is not None:
        current = backend.stat(destination)
        if current.version_token != if_matches.version_token:
            raise ConflictError(
                f"{destination.url} changed since {datafile.path} was last copied there: "
                "nothing was copied; read it again, or copy to another path",
                path=destination.url,
            )
    callback.set_size(state.size)
    with translate_errors(destination.url, "copying to"):
        datafile._location.fs.copy(datafile._location.fs_path, destination.fs_path)
    callback.absolute_update(state.size)
    return backend.write_metadata(destination, metadata)


def _send_local_copy(datafile: Datafile, callback: Callback) -> None:
    """Upload the edits the user made to a remote file's local copy, conditional on the
    remote file being as it was when the copy was made."""
    link = datafile._linked
    if link is None or link.remote is None:
        return
    token = _token(link.location.url)
    if token is None or token == link.local_token:
        return
    backend = datafile._backend
    staged = cache.staging_path(datafile.name)
    try:
        shutil.copyfile(link.location.url, staged)
        size = os.path.getsize(staged)
        callback.set_size(size)
        changes = basis.changes(datafile)
        state = backend.put(
            datafile._location,
            staged,
            changes,
            crc32c=crc32c_file(link.location.url),
            if_matches=link.remote,
        )
        callback.absolute_update(size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)
    basis.adopt(datafile, state)
    datafile._linked = Link(link.location, token, state)
