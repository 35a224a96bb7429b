"""Progress on stderr while a command works: a bar of bytes (or of files), or a spinner where
nothing can be counted.

Drawn with rich, only when stderr is a terminal (by its own account: ``FORCE_COLOR``, which
makes rich draw on anything, does not make a pipe one) and ``-q`` was not given. Transient:
erased when its block ends, before the command prints its result or an error. Bytes come
from the library's own fsspec callbacks: a bar is one, and gives each file of a many-file
transfer a child of its own (fsspec's ``branched``) whose bytes it shows as they move.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import Callback

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["bar", "spinner"]


def _terminal(quiet: bool) -> Console | None:
    """The console to draw progress on: stderr's, unless ``quiet``, if it is a terminal (and
    rich agrees: ``TTY_COMPATIBLE=0`` says it is not); else None."""
    try:
        if quiet or not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return None
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else None


@contextlib.contextmanager
def bar(description: str, *, in_bytes: bool, quiet: bool) -> Iterator[Callback]:
    """An fsspec callback drawing a bar on stderr while the block runs: of bytes (done of the
    total, percentage, rate and time left) or of files (done of the total, time elapsed).
    It is told the total with ``set_size`` (None: not known yet) and moved with
    ``relative_update`` or ``absolute_update``, or by its children's."""
    console = _terminal(quiet)
    if console is None:
        yield Callback()
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counts = (
        (DownloadColumn(), TaskProgressColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        if in_bytes
        else (MofNCompleteColumn(), TimeElapsedColumn())
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        *counts,
        console=console,
        transient=True,
        redirect_stdout=False,  # stdout stays stdout, wherever it goes
    ) as progress:
        yield _Bar(progress, progress.add_task(description, total=None))


@contextlib.contextmanager
def spinner(description: str, *, quiet: bool) -> Iterator[None]:
    """A spinner on stderr while the block runs, for work with nothing to count."""
    console = _terminal(quiet)
    if console is None:
        yield
        return
    with console.status(description):
        yield


class _Bar(Callback):  # type: ignore[misc]  # fsspec is untyped
    """An fsspec callback that moves a rich progress task: its own value of its size, plus
    the values of the children it gave out that are not closed yet (files in flight)."""

    def __init__(self, progress: Any, task: Any) -> None:
        super().__init__()
        self._progress = progress
        self._task = task
        self._children: set[_Child] = set()
        self._lock = threading.Lock()
        self._shown = 0

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
        child = _Child(self)
        with self._lock:
            self._children.add(child)
        return child

    def forget(self, child: _Child) -> None:
        """Stop counting ``child``'s bytes: its file is done, and counted in ``value``."""
        with self._lock:
            self._children.discard(child)

    def call(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            done = self.value + sum(child.value for child in self._children)
            if done < self._shown:  # a transfer started again: so do the rate and time left
                self._progress.reset(self._task, total=self.size, completed=done)
            else:
                self._progress.update(self._task, total=self.size, completed=done)
            self._shown = done


class _Child(Callback):  # type: ignore[misc]  # fsspec is untyped
    """The callback of one file of a bar's transfer: its bytes show in the bar until it is
    closed."""

    def __init__(self, parent: _Bar) -> None:
        super().__init__()
        self._parent = parent

    def call(self, *args: Any, **kwargs: Any) -> None:
        self._parent.call()

    def close(self) -> None:
        self._parent.forget(self)
