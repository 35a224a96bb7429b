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
from octstore.backends import MetadataBackend, ObjectState, backend_for
from octstore.datafile import basis, linked, names
from octstore.datafile.linked import Link, token_of
from octstore.errors import AlreadyExistsError, ConflictError, NotFoundError, OctstoreError
from octstore.hashing import crc32c_file
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate
from octstore.path_objects import PathArgument

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


def link(
    datafile: Datafile,
    *,
    local_path: str | os.PathLike[str] | None,
    cloud_path: str | None,
) -> None:
    """Carry out the ``local_path=`` and ``cloud_path=`` arguments of ``Datafile``."""
    if local_path is not None:
        linked.set_local_path(datafile, local_path)
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
    if os.path.isfile(datafile.path):  # octue's: the cloud copy is made at once, but
        # never over other content there (a re-run script must not push a stale file)
        _upload_local(datafile, None, True, DEFAULT_CALLBACK, None, overwrite=False)


def upload(
    datafile: Datafile,
    url: PathArgument | None,
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
    state = _put(datafile, destination, update_metadata, _stored_state(destination), callback)
    # re-pointed at its new place (octue's): the content there is the content it had
    datafile._location = destination
    basis.adopt(datafile, state)
    if datafile._linked is not None:
        link = datafile._linked
        datafile._linked = Link(link.location, link.local_token, state)
    return destination.url


def _upload_local(
    datafile: Datafile,
    url: PathArgument | None,
    update_metadata: bool,
    callback: Callback,
    storage_options: dict[str, Any] | None,
    *,
    overwrite: bool = True,
) -> str:
    """Carry out :meth:`Datafile.upload` of a local file (``overwrite``: replace another
    file found at a destination never synchronised with, conditionally on its state)."""
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
        if link.remote is not None and not overwrite and link.remote.crc32c == datafile.hash_value:
            # the same content: linked, and the metadata left as it is there
            datafile._linked = Link(destination, token, link.remote, link.remote.metadata)
            return destination.url
        if link.remote is not None and not overwrite:
            raise AlreadyExistsError(
                f"{destination.url} holds other content than {datafile.path}: nothing was "
                "written; upload(cloud_path) replaces it, or Datafile(cloud_path) reads it"
            )
    try:
        state = _put(datafile, destination, update_metadata, link.remote, callback)
    except ConflictError:
        raise ConflictError(
            f"{destination.url} changed since {datafile.path} was last uploaded there, so "
            "nothing was sent (the local file is as it was): read the cloud copy "
            "(Datafile(cloud_path)) and merge, or set cloud_path = None and upload(cloud_path) "
            "again to replace it",
            path=destination.url,
            kept_at=datafile.path,
        ) from None
    datafile._linked = Link(destination, token, state, state.metadata)
    return destination.url


def _found_there(datafile: Datafile, destination: Location, token: str) -> Link | None:
    """A link to ``destination`` recording that it already holds the datafile's content and
    metadata (one metadata request), or None."""
    state = _stored_state(destination)
    if state is None:
        return None
    held = state.crc32c == datafile.hash_value and state.metadata == datafile._metadata
    return Link(destination, token if held else None, state, state.metadata)


def _stored_state(location: Location) -> ObjectState | None:
    """The state of the file at ``location`` (one request), or None if there is none."""
    try:
        return backend_for(location).stat(location)
    except NotFoundError:
        return None


def _put(
    datafile: Datafile,
    destination: Location,
    update_metadata: bool,
    if_matches: ObjectState | None,
    callback: Callback,
) -> ObjectState:
    """Write ``datafile``'s content and metadata (or, without ``update_metadata``, the
    metadata ``destination`` has) to ``destination``, conditional on ``if_matches``, the
    destination's state as last read (None: it was not there, and is created)."""
    names.check_writable(destination)
    backend = backend_for(destination)
    metadata = datafile._metadata
    if not update_metadata:
        metadata = (if_matches.metadata if if_matches else None) or Metadata(id=metadata.id)
    if same_filesystem(datafile._location, destination):
        copied = copy_within(datafile, destination, metadata, if_matches, callback)
        if copied is not None:
            return copied
    # its content as stored (not a local copy's edits, which upload() sends there)
    if datafile._location.is_local:  # the user's file: checked to be as it was hashed
        return _put_file(
            backend, destination, datafile.path, metadata, if_matches, callback,
            datafile.hash_value,
        )  # fmt: skip
    source = datafile._fetch(datafile._current())  # verified, and only octstore's
    return _put_file(backend, destination, source, metadata, if_matches, callback, None)


def _put_file(
    backend: MetadataBackend,
    destination: Location,
    source: str,
    metadata: MetadataUpdate,
    if_matches: ObjectState | None,
    callback: Callback,
    before: str | None,
) -> ObjectState:
    """Write a copy of the local file ``source`` to ``destination`` (the backend may consume
    what it is given), conditional on ``if_matches`` (None: created). With ``before``, the
    CRC32C ``source`` had, a copy that has another (``source`` was written meanwhile) is
    refused with ``IntegrityError``, nothing written."""
    staged = cache.staging_path(os.path.basename(source))
    try:
        with translate_errors(source, "reading"):
            if before is None:
                shutil.copyfile(source, staged)
                crc32c = crc32c_file(staged)
            else:
                crc32c = cache.copy_unchanged(source, staged, before, destination.url)
        size = os.path.getsize(staged)
        callback.set_size(size)
        state = backend.put(
            destination,
            staged,
            metadata,
            crc32c=crc32c,
            if_matches=if_matches,
            if_absent=if_matches is None,
            callback=callback,
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
) -> ObjectState | None:
    """Copy a remote datafile's current version to ``destination`` on its own filesystem,
    inside the storage service (no content crosses the wire), with ``metadata``, in one write
    conditional on ``if_matches`` (None: created); None where the backend cannot (the
    caller then uploads a copy)."""
    state = datafile._current()
    callback.set_size(state.size)
    copied = backend_for(destination).copy(
        datafile._location,
        state,
        destination,
        metadata,
        if_matches=if_matches,
        if_absent=if_matches is None,
    )
    if copied is not None:
        callback.absolute_update(state.size)
    return copied


def _send_local_copy(datafile: Datafile, callback: Callback) -> None:
    """Upload the edits the user made to a remote file's local copy, conditional on the
    remote file being as it was when the copy was made."""
    link = datafile._linked
    if link is None or link.remote is None:
        return
    token = token_of(link.location.url)
    if token is None or token == link.local_token:
        return
    changes = basis.changes(datafile)
    try:
        state = _put_file(
            datafile._backend, datafile._location, link.location.url, changes, link.remote,
            callback, crc32c_file(link.location.url),
        )  # fmt: skip
    except ConflictError:
        raise ConflictError(
            f"{datafile.path} changed since its local copy {link.location.url} was made, so "
            "your edits there were not sent (they are still there): merge them into the new "
            "version, or write them elsewhere",
            path=datafile.path,
            kept_at=link.location.url,
        ) from None
    basis.adopt(datafile, state)
    datafile._linked = Link(link.location, token, state)
