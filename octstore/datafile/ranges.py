"""Reading parts of one version of a remote file, without downloading all of it.

:class:`VersionFile` is a seekable binary file over the version of a remote file that was
just checked (an :class:`~octstore.state.ObjectState`). It fetches only the blocks a reader
touches, and the backend pins every request to that version (S3 ``If-Match``, GCS
``generation=``), so all the bytes it returns belong to it. Once the file changes, reading a
part not fetched yet raises :class:`~octstore.errors.IntegrityError`: a reader never sees
two versions spliced together.

Blocks are kept by fsspec's ``mmap`` cache: an anonymous sparse temporary file holds every
block fetched, so nothing is fetched twice, and each run of missing blocks is fetched in one
request, so a large read is one request rather than one per block. Measured on four kinds
of reads of a 200 MB HDF5 file (``bench/bench_hdf5.py``), it never made more requests than
fsspec's other caches at the same block size (``blockcache``: up to 14 times as many, one
per block). 1 MiB blocks kept every read to at most 5 requests and a few MB beyond what it
asked for; 4 MiB blocks saved at most 2 requests for 2 to 4 times the bytes, 256 KiB blocks
saved bytes for up to 2 more requests.

Python's automatic garbage collection is paused while a request is waited for. h5py holds
its global lock while it calls the file's ``read``, and freeing an h5py object takes that
lock: a collection that starts on the thread the request runs on (fsspec's IO thread)
and finds an h5py object in a reference cycle would wait for the reader, which waits for
it, forever (h5py's documentation on file-like objects, and h5py issue 2019).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fsspec.spec import AbstractBufferedFile

from octstore.location import Location
from octstore.state import ObjectState

__all__ = ["BLOCK_SIZE", "CACHE_TYPE", "ReadRange", "VersionFile"]

#: Bytes fetched at least per request.
BLOCK_SIZE = 2**20
#: The fsspec cache that keeps fetched blocks (see the module's documentation).
CACHE_TYPE = "mmap"

#: Reads bytes ``start`` up to ``end`` of a location at a state: a backend's ``read_range``.
ReadRange = Callable[[Location, ObjectState, int, int], bytes]


class VersionFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A read-only, seekable binary file over one version of a remote file.

    Args:
        location: The remote file.
        state: The version to read, as just checked.
        read_range: Fetches a range of that version: a backend's ``read_range``.
        block_size: The fewest bytes fetched per request.
        cache_type: The fsspec cache that keeps fetched blocks.

    Every request goes through ``read_range``, which pins it to the version. After a request
    fails, every later read raises the same error, since the cache cannot be trusted to
    hold the failed blocks: open the file again.

    Attributes:
        requests: How many requests it made.
        bytes_transferred: How many bytes of content they transferred.
    """

    def __init__(
        self,
        location: Location,
        state: ObjectState,
        read_range: ReadRange,
        *,
        block_size: int = BLOCK_SIZE,
        cache_type: str = CACHE_TYPE,
    ) -> None:
        self._location = location
        self._state = state
        self._read_range = read_range
        self._failure: BaseException | None = None
        self.requests = 0
        self.bytes_transferred = 0
        super().__init__(
            location.fs,
            location.fs_path,
            mode="rb",
            block_size=block_size,
            cache_type=cache_type,
            size=state.size,
        )

    def read(self, length: int = -1) -> bytes:
        """Read up to ``length`` bytes (all that is left if negative) from the position.

        Raises:
            IntegrityError: If the file changed since the version was checked.
        """
        if self._failure is not None:  # the cache may hold blank blocks where it failed
            raise self._failure
        data: bytes = super().read(length)
        return data

    def _fetch_range(self, start: int, end: int) -> bytes:
        try:
            with _collection_paused():
                data = self._read_range(self._location, self._state, start, end)
        except BaseException as error:
            self._failure = error
            raise
        self.requests += 1
        self.bytes_transferred += len(data)
        return data

    def close(self) -> None:
        """Close the file and free the fetched blocks."""
        mapped: Any = getattr(getattr(self, "cache", None), "cache", None)
        super().close()
        if hasattr(mapped, "closed") and not mapped.closed:  # the mmap cache's mapping
            mapped.close()


class _Pause:
    """Automatic garbage collection paused while any reader waits (a count of them), and
    resumed by the last one if it was on when the first began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting = 0
        self.resume = False

    def after_fork_in_child(self) -> None:
        """A child process has none of its parent's waiting readers: collection resumes
        there (a fork while another thread read would leave it off for good)."""
        self.lock = threading.Lock()
        if self.waiting and self.resume:
            gc.enable()
        self.waiting = 0


_pause = _Pause()
if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_pause.after_fork_in_child)


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No automatic garbage collection starts, on any thread, inside the block."""
    counted = False
    try:
        with _pause.lock:
            if _pause.waiting == 0:
                _pause.resume = gc.isenabled()
                gc.disable()
            _pause.waiting += 1
            counted = True
        yield
    finally:
        if counted:
            with _pause.lock:
                _pause.waiting = max(0, _pause.waiting - 1)
                if _pause.waiting == 0 and _pause.resume:
                    gc.enable()
