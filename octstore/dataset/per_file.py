"""What one file of a dataset transfer does: carry out its plan (content with metadata, or
metadata alone), in threads, or with its download on fsspec's event loop; and the local copy
of its content that a ``put`` may consume."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import backend_for
from octstore.datafile import Datafile, interface
from octstore.dataset.engine import Local
from octstore.dataset.sync import FilePlan
from octstore.hashing import crc32c_file
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.state import ObjectState

__all__ = [
    "Outcome",
    "carry_out",
    "carry_out_async",
    "local_content",
    "shared_loop",
    "steps",
    "write_back_id",
]

Outcome = Literal["transferred", "metadata", "skipped"]


def bytes_of(file: FilePlan) -> int:
    """The bytes ``file``'s plan moves: its content's, if it is copied."""
    return file.source.size if file.action == "copy" else 0


def carry_out(
    file: FilePlan, callback: Callback = DEFAULT_CALLBACK
) -> tuple[Outcome, int, ObjectState | None]:
    """Write what ``file``'s plan says, conditional on the state it was planned on; return
    what was done, the bytes sent, and the state written (None if nothing was). The bytes
    copied are told to ``callback`` as they go (see :func:`steps`)."""
    backend = backend_for(file.destination)
    outcome: Outcome = "skipped"
    size, state = 0, None
    if file.action == "metadata":
        state = backend.write_metadata(file.destination, file.metadata, if_matches=file.existing)
        outcome = "metadata"
    elif file.action == "copy" and (copied := _copied_within(file, callback)) is not None:
        outcome, size, state = "transferred", copied.size, copied
    elif file.action == "copy":
        fetching, sending = steps(callback, file.source, file.destination)
        with (
            _written_for(file),
            local_content(file.source, file.destination, fetching) as (source, crc32c),
        ):
            size = os.path.getsize(source)
            state = backend.put(
                file.destination,
                source,
                file.metadata,
                crc32c=crc32c,
                if_matches=file.existing,
                if_absent=file.existing is None,
                callback=sending,
            )
        outcome = "transferred"
    write_back_id(file.source, file.metadata)
    return outcome, size, state


def _copied_within(file: FilePlan, callback: Callback) -> ObjectState | None:
    """Copy ``file`` inside its storage service, when its source and destination are on one
    remote filesystem, in one write conditional on the state it was planned on; None where
    they are not, or the backend cannot (the content is then sent as for any copy)."""
    if not interface.same_filesystem(interface.location_of(file.source), file.destination):
        return None
    return interface.copy_within(
        file.source, file.destination, file.metadata, file.existing, callback
    )


def steps(
    callback: Callback, datafile: Datafile, destination: Location
) -> tuple[Callback, Callback]:
    """The callbacks to give the two steps of a copy of ``datafile`` to ``destination``: making
    a local copy of its content (:func:`local_content`), then putting it there. One of them
    moves the bytes, the other none (content already local; a put that renames), unless a
    remote file goes to another remote place: its bytes come down, then go up, and each
    step moves ``callback`` (told the file's size) half way."""
    if not interface.is_remote(datafile) or destination.is_local:
        return callback, callback
    return _Half(callback, second=False), _Half(callback, second=True)


class _Half(Callback):  # type: ignore[misc]  # fsspec is untyped
    """A callback for one of two steps that move the same bytes: its value, of the parent's
    size, moves the parent through the first or the second half of its way."""

    def __init__(self, parent: Callback, *, second: bool) -> None:
        super().__init__()
        self._parent = parent
        self._second = second

    def call(self, *args: Any, **kwargs: Any) -> None:
        start = (self._parent.size or 0) // 2 if self._second else 0
        self._parent.absolute_update(start + self.value // 2)


def _written_for(file: FilePlan) -> contextlib.AbstractContextManager[None]:
    """How durably ``file``'s local copy is written: a copy of remote content, which a
    verified download rebuilds, without waiting for the disk (:func:`cache.rebuildable`)."""
    if file.destination.is_local and interface.is_remote(file.source):
        return cache.rebuildable()
    return contextlib.nullcontext()


def write_back_id(datafile: Datafile, metadata: Metadata) -> None:
    """Give a local source the id its copy has (the destination's, which won)."""
    if interface.is_remote(datafile) or datafile.id == str(metadata.id):
        return
    interface.store_id(datafile, metadata.id)


def shared_loop(items: Sequence[Any]) -> asyncio.AbstractEventLoop | None:
    """The one event loop that every remote file of ``items`` downloads on, if there is one
    and this thread is not running it (None: run each file in a thread)."""
    loops: set[asyncio.AbstractEventLoop] = set()
    for item in items:
        if isinstance(item, FilePlan) and _downloads_on_loop(item):
            loops.add(interface.location_of(item.source).fs.loop)
    if len(loops) != 1:
        return None
    loop = loops.pop()
    with contextlib.suppress(RuntimeError):  # called from a coroutine on that very loop
        if asyncio.get_running_loop() is loop:
            return None
    return loop


def _downloads_on_loop(file: FilePlan) -> bool:
    """Whether ``file`` is a download (a remote source to a local file) that its source's
    backend runs on the event loop."""
    return (
        file.action == "copy"
        and file.destination.is_local
        and interface.is_remote(file.source)
        and interface.backend_of(file.source).async_downloads
    )


async def carry_out_async(file: FilePlan, local: Local, callback: Callback) -> tuple[Any, ...]:
    """:func:`carry_out` for one file, the download of a remote source on the event loop
    and the local steps in ``local``'s threads."""
    if not _downloads_on_loop(file):
        return (file.destination.url, *await local(carry_out, file, callback))
    location = interface.location_of(file.source)
    # Named here, not in a thread, so that the clean-up below always knows it.
    target = cache.temporary_path_beside(file.destination.url)
    try:
        state, cached = await local(_stage_download, file, location, target)
        if not cached:
            source = interface.backend_of(file.source)
            await source.download_async(location, state, target, callback)
        return (file.destination.url, *await local(_place_download, file, target, state, cached))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)


def _stage_download(file: FilePlan, location: Location, target: str) -> tuple[ObjectState, bool]:
    """The source's state to download, and whether its content was copied into ``target``
    from the cache."""
    state = interface.current_state(file.source)
    return state, cache.copy_cached(location, state, target)


def _place_download(
    file: FilePlan, target: str, state: ObjectState, cached: bool
) -> tuple[Outcome, int, ObjectState]:
    """Verify the downloaded ``target`` and put it in place with its metadata."""
    if not cached:
        cache.verify(interface.location_of(file.source), state, target)
    size = os.path.getsize(target)
    with _written_for(file):
        written = backend_for(file.destination).put(
            file.destination,
            target,
            file.metadata,
            crc32c=state.crc32c or crc32c_file(target),
            if_matches=file.existing,
            if_absent=file.existing is None,
        )
    return "transferred", size, written


@contextlib.contextmanager
def local_content(
    datafile: Datafile, destination: Location, callback: Callback = DEFAULT_CALLBACK
) -> Iterator[tuple[str, str]]:
    """A local file with ``datafile``'s content that ``put`` to ``destination`` may consume,
    and its CRC32C. Remote content is copied from the cache or downloaded straight to it. A
    local file is sent as it is only where the backend checks what it sends against the
    CRC32C; elsewhere it is copied first, and a copy taken while another program wrote it
    is refused (``IntegrityError``)."""
    backend = backend_for(destination)
    if (
        not interface.is_remote(datafile)
        and backend.checks_sent_content
        and not backend.consumes_source(destination)
    ):
        yield datafile.path, datafile.hash_value
        return
    if destination.is_local:  # beside it (made if need be): putting it in place is a rename
        target = cache.temporary_path_beside(destination.url)
    else:
        target = cache.staging_path(destination.name)
    try:
        if not interface.is_remote(datafile):
            before = datafile.hash_value
            # the copy is the transfer only where ``put`` then renames it into place
            told = callback if destination.is_local else DEFAULT_CALLBACK
            crc32c = cache.copy_unchanged(datafile.path, target, before, destination.url, told)
        else:
            state = interface.current_state(datafile)
            cache.copy_out(
                interface.location_of(datafile),
                state,
                target,
                functools.partial(interface.backend_of(datafile).download, callback=callback),
            )
            crc32c = state.crc32c or crc32c_file(target)
        yield target, crc32c
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)
