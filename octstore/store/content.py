"""Content on its way into a store: bytes, a local path or a binary file, read in chunks and
staged in a temporary file while its SHA-256 and CRC32C are computed."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import MetadataBackend, backend_for
from octstore.errors import (
    BackendError,
    BucketNotFoundError,
    ConflictError,
    IntegrityError,
    NotFoundError,
    OctstoreError,
)
from octstore.hashing import CHUNK_SIZE, Crc32c
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.state import ObjectState
from octstore.store.records import _now, touched_metadata

Content = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


@contextlib.contextmanager
def source_for_put(staged: str, backend: MetadataBackend, location: Location) -> Iterator[str]:
    """A file with the staged content for ``backend.put``, which may consume it: the add
    keeps ``staged`` until it returns, since a racing delete may make it store it again."""
    if not backend.consumes_source(location):
        yield staged
        return
    source = cache.temporary_path_beside(staged)
    os.remove(source)
    try:
        os.link(staged, source)
    except OSError:
        shutil.copyfile(staged, source)
    try:
        yield source
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(source)


@contextlib.contextmanager
def read_in_chunks(content: Content) -> Iterator[Iterator[bytes]]:
    """``content`` (bytes, a local path or a binary file) as chunks of at most CHUNK_SIZE."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        view = memoryview(content).cast("B")
        yield (bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE))
        return
    if isinstance(content, (str, os.PathLike)):
        path = os.fspath(content)
        with translate_errors(path, "reading"):
            try:
                file = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                raise NotFoundError(
                    f"{path} does not exist: a str is taken as the path of the file to add; "
                    "pass bytes to add content itself"
                ) from None
        with file:
            yield read_chunks(file.read, path)
        return
    read = getattr(content, "read", None)
    if not callable(read):
        raise OctstoreError(
            f"cannot add {type(content).__name__}: pass bytes, a local path or a binary file"
        )
    yield read_chunks(read, repr(content))


#: What temporary files are named after (not the file's own name, which may be as long as
#: names can be).
TEMPORARY_NAME = "octstore-attachment"


#: How many times an add re-reads an object whose metadata others keep changing.
_TOUCH_ATTEMPTS = 20


def read_chunks(read: Callable[[int], Any], where: str) -> Iterator[bytes]:
    while True:
        chunk = read(CHUNK_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise OctstoreError(
                f"{where} gave {type(chunk).__name__}, not bytes: open it in binary mode ('rb')"
            )
        yield bytes(chunk)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def remove_empty_shards(location: Location) -> None:
    """Remove the directories of a deleted local object if they are empty now. (An add
    that made one and is about to store into it finds it gone, and looks again.)"""
    if not location.is_local:
        return
    shard = os.path.dirname(location.url)
    for directory in (shard, os.path.dirname(shard)):
        try:
            os.rmdir(directory)
        except OSError:  # not empty, or already gone
            return


def known_size(content: Content) -> int | None:
    """The size of ``content`` before it is read: None for a file object."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return memoryview(content).nbytes
    if isinstance(content, (str, os.PathLike)) and os.path.isfile(content):
        return os.path.getsize(content)
    return None


def stage(
    root: Location, content: Content, callback: Callback = DEFAULT_CALLBACK
) -> tuple[str, str, str, int]:
    """Copy ``content`` to a temporary file, hashing it on the way, its bytes told to
    ``callback``: the file's path, its SHA-256, CRC32C and size."""
    if root.is_local:  # beside the objects, so that storing it is a rename
        os.makedirs(root.url, exist_ok=True)
        staged = cache.temporary_path_beside(os.path.join(root.url, TEMPORARY_NAME))
    else:
        staged = cache.staging_path(TEMPORARY_NAME)
    sha256, crc32c, size = hashlib.sha256(), Crc32c(), 0
    try:
        with open(staged, "wb") as out, read_in_chunks(content) as chunks:
            for chunk in chunks:
                sha256.update(chunk)
                crc32c.update(chunk)
                out.write(chunk)
                size += len(chunk)
                callback.relative_update(len(chunk))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)
        raise
    return staged, sha256.hexdigest(), crc32c.b64digest(), size


def download_verified(
    location: Location,
    state: ObjectState,
    target: str,
    digest: str,
    handle: str,
    callback: Callback = DEFAULT_CALLBACK,
) -> None:
    """Download ``location``'s content at ``state`` to ``target`` in one step, through the
    cache, checking that it has the SHA-256 ``digest`` that ``handle`` names; the bytes
    downloaded are told to ``callback``."""
    with cache.named_refusal(target):
        temporary = cache.temporary_path_beside(
            os.path.join(os.path.dirname(target), TEMPORARY_NAME)
        )
    try:
        download = functools.partial(backend_for(location).download, callback=callback)
        cache.copy_out(location, state, temporary, download)
        actual = sha256_file(temporary)
        if actual != digest:
            raise IntegrityError(
                f"{location.url} does not hold the content of {handle} (its SHA-256 is "
                f"{actual}): the object is damaged; delete it and add the content again"
            )
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def make_present(
    location: Location,
    staged: str,
    crc32c: str,
    size: int,
    filename: str,
    callback: Callback = DEFAULT_CALLBACK,
) -> None:
    """Make the object at ``location`` present with the staged content, and touched: its
    metadata records an add of ``filename`` now (see :mod:`octstore.store`). The bytes sent,
    if it was not there, are told to ``callback``."""
    backend = backend_for(location)
    wrong_size: int | None = None
    for attempt in range(_TOUCH_ATTEMPTS):
        try:
            state: ObjectState | None = backend.stat(location)
        except NotFoundError:
            state = None
        now = _now()
        try:
            if state is None:
                metadata = Metadata(
                    timestamp=now, tags={"names": [filename], "added": now.isoformat()}
                )
                with source_for_put(staged, backend, location) as source:
                    backend.put(
                        location, source, metadata, crc32c=crc32c, if_absent=True, callback=callback
                    )
                return
            if state.size != size:
                # Being written by another add, on a filesystem whose writes are not
                # atomic (memory://, sftp:// ...)? Look again before giving up.
                wrong_size = state.size
                time.sleep(0.01 * (attempt + 1))
                continue
            touched = touched_metadata(state.metadata, filename, now)
            backend.write_metadata(location, touched, if_matches=state)
            return
        except BucketNotFoundError:
            raise  # not a race: nothing can be added there
        except (ConflictError, NotFoundError):
            continue  # created, touched or deleted meanwhile: look again
    if wrong_size is not None:
        raise IntegrityError(
            f"{location.url} holds {wrong_size} bytes, but content with its SHA-256 has "
            f"{size}: it was not stored by octstore or is damaged; delete it and add the "
            "content again"
        )
    raise BackendError(
        f"{location.url} changed {_TOUCH_ATTEMPTS} times while it was being added: "
        "others are adding the same content very often; try again"
    )
