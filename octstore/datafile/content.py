"""Reading and writing a datafile's content with the builtin's and pathlib's names: ``open``,
``read_text``, ``read_bytes``, ``write_text``, ``write_bytes`` and ``exists``.

Examples:
    >>> import tempfile, os
    >>> from octstore import Datafile
    >>> df = Datafile(os.path.join(tempfile.mkdtemp(), "notes.txt"))
    >>> df.exists()
    False
    >>> df.write_text("calm\\n")
    5
    >>> f = df.open()
    >>> f.read()
    'calm\\n'
    >>> f.close()
"""

from __future__ import annotations

import io
import os
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO, cast, overload

from octstore.datafile import opening

if TYPE_CHECKING:
    from _typeshed import OpenBinaryMode, OpenTextMode, ReadableBuffer

    from octstore.datafile.datafile import Datafile

__all__ = ["ContentAccess"]


class ContentAccess:
    """The builtin's ``open`` and pathlib's content verbs on :class:`~octstore.Datafile`."""

    __slots__ = ()

    @overload
    def open(
        self,
        mode: OpenTextMode = "r",
        *,
        download: bool = False,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        **kwargs: Any,
    ) -> TextIO: ...

    @overload
    def open(self, mode: OpenBinaryMode, *, download: bool = False, **kwargs: Any) -> BinaryIO: ...

    @overload
    def open(self, mode: str, *, download: bool = False, **kwargs: Any) -> IO[Any]: ...

    def open(self, mode: str = "r", *, download: bool = False, **kwargs: Any) -> IO[Any]:
        """Open the content like the builtin ``open``: a file object that is also a
        context manager.

        Reading a remote file downloads it into the cache first (once per version). Writing
        goes to a temporary copy that, on ``close()`` or a clean exit from a ``with`` block,
        replaces the content in one step with the metadata, only if the file did not change
        meanwhile; if the block raises, nothing is written, and a file never closed writes
        nothing either (and warns). Metadata changed while it is open is stored on closing.
        ``with df.open() as f`` gives the builtin's own file object.

        HDF5 files (``.h5``, ``.hdf5``) open as an ``h5py.File`` in h5py's modes (extra
        ``hdf5``), whatever type the mode implies; from S3 or GCS only the parts h5py reads
        are fetched, unless a copy is cached or ``download`` is set
        (:mod:`octstore.datafile.hdf5`).

        Args:
            mode: A builtin mode (``r``, ``w``, ``a``, ``x``, with ``b``/``t``, ``+``), or
                h5py's for HDF5 files.
            download: Read a remote HDF5 file from a local copy in the cache, not in parts.
            **kwargs: Passed to the builtin ``open`` (``encoding``, ...) or ``h5py.File``.

        Raises:
            InvalidModeError: For a mode the builtin (or h5py) would refuse.
            NotFoundError: When reading (``r``, ``r+``) a file that does not exist.
            AlreadyExistsError: For ``x`` modes when the file exists.
            ConflictError: On closing, when the remote file changed since it was read (your
                content is kept, and the error says where).
            IntegrityError: When a remote HDF5 file read in parts changed meanwhile.
        """
        datafile = _datafile(self)
        datafile._mode = mode
        return cast("IO[Any]", opening.open_content(datafile, mode, download, **kwargs))

    def read_bytes(self) -> bytes:
        """The content, as bytes (``pathlib.Path.read_bytes``)."""
        with self.open("rb") as file:
            return file.read()

    def read_text(self, encoding: str | None = None, errors: str | None = None) -> str:
        """The content, decoded (``pathlib.Path.read_text``): an HDF5 file's too."""
        with self.open("rb") as file, io.TextIOWrapper(file, encoding, errors) as text:
            return text.read()

    def write_bytes(self, data: ReadableBuffer) -> int:
        """Replace the content with ``data`` in one step, as ``open("wb")`` does, metadata
        included (``pathlib.Path.write_bytes``); return the number of bytes written.

        Raises:
            ConflictError: If the remote file changed since it was read.
        """
        view = memoryview(data)
        with self.open("wb") as file:
            return file.write(view)

    def write_text(
        self,
        data: str,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> int:
        """Replace the content with ``data``, encoded, in one step, as ``open("w")`` does,
        metadata included (``pathlib.Path.write_text``); return the number of characters
        written.

        Raises:
            TypeError: If ``data`` is not a ``str``.
            ConflictError: If the remote file changed since it was read.
        """
        if not isinstance(data, str):
            raise TypeError(f"data must be str, not {type(data).__name__}")
        with (
            self.open("wb") as file,
            io.TextIOWrapper(file, encoding, errors, newline) as text,
        ):
            return text.write(data)

    def exists(self) -> bool:
        """Whether the file is there: a local file, or a remote object (one request)."""
        datafile = _datafile(self)
        if datafile._location.is_local:
            return os.path.isfile(datafile.path)
        return datafile.exists_in_cloud


def _datafile(content: ContentAccess) -> Datafile:
    return cast("Datafile", content)
