"""``OpenFile``: what ``Datafile.open()`` returns, a file that is also a context manager.

It holds the opened content (a builtin file object, or an ``h5py.File``) and the work that
closing it does: a write's atomic write-back, with the metadata, or a read's release of the
cache entry. ``close()`` and a clean exit from a ``with`` block both do that work; a block that
raises, and a file garbage-collected unclosed, do none of it. Everything else (``read``,
``write``, iteration, an ``h5py.File``'s items...) goes to the file itself, as
``tempfile.NamedTemporaryFile``'s wrapper does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from octstore.errors import warn
from octstore.redaction import redact

__all__ = ["OpenFile"]


class OpenFile:
    """An open datafile: the file, and what closing it stores.

    Args:
        opening: The context that opened the file: entering it yields the file; leaving it
            cleanly stores what was written, leaving it with an exception stores nothing.
        path: The datafile's path, for warnings.
        writes: Whether it was opened for writing (unclosed, a write is lost: said louder).
    """

    # Set first, so that an OpenFile whose opening failed has nothing to close.
    _opening: AbstractContextManager[Any] | None = None

    def __init__(self, opening: AbstractContextManager[Any], path: str, *, writes: bool) -> None:
        self._path = path
        self._writes = writes
        self._file = opening.__enter__()
        self._opening = opening

    @property
    def closed(self) -> bool:
        """Whether it was closed (or its ``with`` block left)."""
        return self._opening is None

    def close(self) -> None:
        """Close the file, storing what was written exactly as leaving a ``with`` block does.

        Closing again does nothing.

        Raises:
            ConflictError: If the file changed since it was read (your content is kept,
                and the error says where).
            NotWrittenError: If the content could not be written.
        """
        self._leave(None, None, None)

    def __enter__(self) -> Any:
        """The file itself: ``with df.open() as f:`` gives the builtin's file object (or the
        ``h5py.File``)."""
        return self._file

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return self._leave(kind, error, traceback)

    def _leave(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        opening, self._opening = self._opening, None
        if opening is None:
            return None
        return opening.__exit__(kind, error, traceback)

    def __del__(self) -> None:
        if self._opening is None:
            return
        if self._writes:
            warn(
                f"{self._path} was opened for writing and never closed: nothing was written; "
                "call close() on the file, or open it in a with block"
            )
        else:
            warnings.warn(f"unclosed datafile {redact(self._path)}", ResourceWarning, stacklevel=1)
        # As a generator is closed: the opening cleans up and stores nothing.
        self._leave(GeneratorExit, GeneratorExit(), None)

    # --- the file's own behaviour -----------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name == "_file":  # not opened: there is no file to ask
            raise AttributeError(name)
        return getattr(self._file, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._file)

    def __next__(self) -> Any:
        return next(self._file)

    def __getitem__(self, key: Any) -> Any:
        return self._file[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._file[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._file[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._file

    def __len__(self) -> int:
        return len(self._file)

    def __bool__(self) -> bool:
        return bool(self._file)

    def __repr__(self) -> str:
        return f"<OpenFile {redact(self._path)!r} {self._file!r}>"
