"""Uploads that move a datafile (octue's model): a local file's upload makes or updates its
cloud copy (see :mod:`~octstore.datafile.linked`), with no request when nothing changed and
never over a change made there meanwhile; a remote file's moves it, as a server-side copy
where both places are on one filesystem; and the edits made to a remote file's local copy
are sent back."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import ObjectState, backend_for
from octstore.datafile import basis, names
from octstore.datafile.linked import Link, token_of
from octstore.errors import ConflictError, NotFoundError, OctstoreError
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


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
    token = token_of(datafile.path)
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
    token = token_of(link.location.url)
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
