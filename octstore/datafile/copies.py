"""Copies of a datafile elsewhere: downloads to a local path (from the cache, never twice) and
uploads to a URL, with the metadata."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.errors import (
    OVERWRITE,
    AlreadyExistsError,
    NotFoundError,
    OctstoreError,
    UnsafePathError,
)
from octstore.hashing import EMPTY_HASH, crc32c_file, crc32c_stream
from octstore.location import relative_path, translate_errors
from octstore.state import ObjectState, local_version_token

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile


def stored_state(datafile: Datafile) -> ObjectState:
    """Carry out ``Datafile._stat``: one metadata request, or, offline, what the cache
    recorded."""
    if not (datafile._offline and not datafile._location.is_local):
        return datafile._backend.stat(datafile._location)
    state = cache.lookup(datafile._location)
    if state is None:
        raise NotFoundError(
            f"{datafile.path} is not in the cache, and offline mode makes no requests: read "
            "it once online, or unset OCTSTORE_OFFLINE"
        )
    return state


def refuse_offline_write(datafile: Datafile) -> None:
    """Raise if ``datafile`` is remote and offline: a write would need a request."""
    if datafile._offline and not datafile._location.is_local:
        raise OctstoreError(
            f"{datafile.path} cannot be written in offline mode: unset OCTSTORE_OFFLINE or "
            "pass offline=False"
        )


def fetch(datafile: Datafile, state: ObjectState, callback: Callback = DEFAULT_CALLBACK) -> str:
    """The cached content at ``state``, downloaded through the backend if needed (its bytes
    told to ``callback``)."""
    transfer = functools.partial(datafile._backend.download, callback=callback)
    return cache.fetch(datafile._location, state, transfer, offline=datafile._offline)


def download(
    datafile: Datafile,
    local_path: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    callback: Callback = DEFAULT_CALLBACK,
) -> str:
    """Carry out :meth:`Datafile.download`."""
    if local_path is not None and os.path.isdir(os.fspath(local_path)):
        name_inside_a_directory(datafile)  # before anything is downloaded
    if datafile._location.is_local:
        source = datafile._location.url
        callback.set_size(os.path.getsize(source))
    else:
        state = datafile._current()
        callback.set_size(state.size)
        source = fetch(datafile, state, callback)
    target = _copy_to(datafile, source, local_path, overwrite)
    callback.absolute_update(callback.size)  # all there, if it came from the cache
    return target


def _copy_to(
    datafile: Datafile, source: str, local_path: str | os.PathLike[str] | None, overwrite: bool
) -> str:
    """Copy the local ``source`` of ``datafile``'s content to ``local_path``, unless the
    same content is there; return where the content is."""
    if local_path is None:
        return source
    target = os.path.abspath(os.fspath(local_path))
    if os.path.isdir(target):
        target = os.path.join(target, name_inside_a_directory(datafile))
    if os.path.isfile(target) and target != source:
        if os.path.getsize(target) == os.path.getsize(source) and (
            crc32c_file(target) == datafile.hash_value
        ):
            return target
        if not overwrite:
            raise AlreadyExistsError(
                f"{target} exists with other content than {datafile.path}: replace it (with "
                f"{OVERWRITE}), or download to another path",
                keywords=[OVERWRITE],
            )
    cache.copy_file(source, target)
    return target


def name_inside_a_directory(datafile: Datafile) -> str:
    """The file's name, if it names a file inside a directory (not ``..``, ``~``, ...).

    Raises:
        UnsafePathError: If it does not; nothing was written.
    """
    try:
        return relative_path(datafile.name)
    except ValueError as error:
        raise UnsafePathError(
            f"{datafile.path} cannot be downloaded into a directory by its name "
            f"{datafile.name!r} ({str(error).split(': ', 1)[-1]}); nothing was written: give "
            "download() a file path instead",
            key=datafile.name,
        ) from None


def content_hash(datafile: Datafile) -> str:
    """The content's CRC32C: from the backend if it knows it, else streamed (and remembered
    for the version it was computed for); a file with no content yet has the empty
    content's (as octue's has), so a new datafile can be hashed before it is written."""
    try:
        return _content_hash(datafile)
    except NotFoundError:
        return EMPTY_HASH


def _content_hash(datafile: Datafile) -> str:
    location = datafile._location
    if location.is_local:
        with translate_errors(datafile.path, "hashing"):
            stat = os.stat(location.url)
        token = local_version_token(stat)
        if datafile._content_hash is None or datafile._content_hash[0] != token:
            datafile._content_hash = (token, crc32c_file(location.url))
        return datafile._content_hash[1]
    state = datafile._state or datafile._refresh()
    if state.crc32c is not None:
        return state.crc32c
    if datafile._content_hash is None or datafile._content_hash[0] != state.version_token:
        if cache.is_cached(location, state):
            value = crc32c_file(datafile._fetch(state))
        else:
            with (
                translate_errors(datafile.path, "hashing"),
                location.fs.open(location.fs_path, "rb") as stream,
            ):
                value = crc32c_stream(stream)
        datafile._content_hash = (state.version_token, value)
    return datafile._content_hash[1]
