"""Running one piece of work per file, many files at once: the transfer engine.

Where every remote file of a transfer is on an async filesystem (S3, GCS) sharing one event
loop, each file's work is a coroutine on that loop (fsspec's), ``concurrency`` at a time:
the requests of all files are in flight together there, and only the short local steps
(hashing, renames, sidecars) go to a few threads. Otherwise each file's work runs in a thread
of its own pool, as fsspec does for synchronous filesystems.

A failed file does not stop the others; the failures are raised together at the end. On an
interrupt (``KeyboardInterrupt``), files not yet started are not started, those in flight
are cancelled, and every temp file is removed before the interrupt is raised again: nothing
partial is left at any destination, since each file is put in place in one rename or one
request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from fsspec.callbacks import Callback

__all__ = ["Local", "run"]

T = TypeVar("T")
#: Runs a blocking local step in the engine's threads, from a coroutine.
Local = Callable[..., Awaitable[Any]]
#: What one file's work returns: its name in the report, the outcome, its bytes, its state.
Done = tuple[Any, ...]

#: How long an interrupted transfer waits for its files' clean-up.
CLEAN_UP_SECONDS = 60
#: Threads for the local steps of files whose transfers run on the event loop.
LOCAL_THREADS = 4


def run(
    items: Sequence[T],
    work: Callable[[T, Callback], Done],
    *,
    name: Callable[[T], str],
    record: Callable[[Done], None],
    callback: Callback,
    concurrency: int,
    size: Callable[[T], int] | None = None,
    work_async: Callable[[T, Local, Callback], Awaitable[Done]] | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> dict[str, BaseException]:
    """Do ``work`` for each item (``work_async`` on ``loop``, if both are given), at most
    ``concurrency`` at a time; ``record`` what each returned. Returns each failed item's
    error, by its ``name``.

    Progress: with ``size`` (each item's bytes), ``callback`` is told the bytes of all items,
    then each item's bytes as it ends, and each item's work gets a child callback of its own
    (fsspec's ``branched``) that it may tell its bytes as they move, closed when the item
    is done, just before ``callback`` counts it; without, ``callback`` counts items.
    """
    measure: Callable[[T], int] = size or (lambda item: 1)
    callback.set_size(sum(measure(item) for item in items))

    def child(item: T) -> Callback:
        branch: Callback = callback.branched(name(item), name(item))
        branch.set_size(measure(item) if size else None)
        return branch

    def done(item: T, branch: Callback) -> None:
        if size:
            branch.absolute_update(measure(item))
        branch.close()
        callback.relative_update(measure(item))

    if work_async is not None and loop is not None:
        return _on_loop(items, work_async, name, record, child, done, concurrency, loop)
    return _in_threads(items, work, name, record, child, done, concurrency)


def _in_threads(
    items: Sequence[T],
    work: Callable[[T, Callback], Done],
    name: Callable[[T], str],
    record: Callable[[Done], None],
    child: Callable[[T], Callback],
    done: Callable[[T, Callback], None],
    concurrency: int,
) -> dict[str, BaseException]:
    failures: dict[str, BaseException] = {}
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, concurrency), thread_name_prefix="octstore"
    )
    try:
        with _interrupts_held():
            branches = {id(item): child(item) for item in items}
            futures = {pool.submit(work, item, branches[id(item)]): item for item in items}
        # as_completed waits on all futures at once: calling wait() on the pending set for
        # each completion would cost time in the number of files, squared.
        for future in concurrent.futures.as_completed(futures):
            item = futures[future]
            error = future.exception()
            if error is not None:
                failures[name(item)] = error
            else:
                record(future.result())
            done(item, branches[id(item)])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return failures


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold back Ctrl-C (``SIGINT``) until the block is done, then take it: an interrupt
    while a pool starts a thread leaves that thread out of the pool's shutdown, running on
    after the interrupt."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _on_loop(
    items: Sequence[T],
    work_async: Callable[[T, Local, Callback], Awaitable[Done]],
    name: Callable[[T], str],
    record: Callable[[Done], None],
    child: Callable[[T], Callback],
    done: Callable[[T, Callback], None],
    concurrency: int,
    loop: asyncio.AbstractEventLoop,
) -> dict[str, BaseException]:
    failures: dict[str, BaseException] = {}
    threads = concurrent.futures.ThreadPoolExecutor(
        max_workers=LOCAL_THREADS, thread_name_prefix="octstore-local"
    )

    async def local(function: Callable[..., Any], *args: Any) -> Any:
        step = asyncio.get_running_loop().run_in_executor(threads, function, *args)
        try:
            return await asyncio.shield(step)
        except asyncio.CancelledError:
            # A thread cannot be stopped midway: let the (short) step end before the
            # file's clean-up runs, so that the two never race over its temp file.
            with contextlib.suppress(BaseException):
                await step
            raise

    async def one(item: T, slots: asyncio.Semaphore) -> None:
        async with slots:
            branch = child(item)
            try:
                result = await work_async(item, local, branch)
            except Exception as error:
                failures[name(item)] = error
            else:
                record(result)
            done(item, branch)

    started, finished = threading.Event(), threading.Event()

    async def every() -> None:
        started.set()
        slots = asyncio.Semaphore(max(1, concurrency))
        tasks = [asyncio.ensure_future(one(item, slots)) for item in items]
        if not tasks:  # asyncio.wait refuses an empty set
            finished.set()
            return
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)  # each file's clean-up, before the interrupt goes on
            raise
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(every(), loop)
    try:
        future.result()
    except BaseException:
        # Interrupted: cancel the files in flight, and wait until their clean-up ran.
        future.cancel()
        if started.is_set():
            finished.wait(timeout=CLEAN_UP_SECONDS)
        raise
    finally:
        threads.shutdown(wait=True, cancel_futures=True)
    return failures
