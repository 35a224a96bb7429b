"""HDF5 datafiles: ``Datafile.open()`` on an ``.h5`` or ``.hdf5`` file yields an ``h5py.File``.

Reading a remote file does not download it: h5py reads through a
:class:`~octstore.datafile.ranges.VersionFile`, which fetches only the blocks h5py asks for, each
request pinned to the version just checked, so reading one small dataset of a large file
transfers a small part of it. A cached copy, if there is one, is read instead, with no
transfer; ``open("r", download=True)`` downloads the file into the cache first. Filesystems
that cannot pin a version (``memory://``, ``sftp://``, ...) are downloaded as for any
datafile.

Writing (``r+``, ``w``, ``w-``/``x``, ``a``) works on a local copy that replaces the content
in one step when the block exits cleanly, with the same conflict rules and metadata as any
datafile. Binary modes (``rb``, ``wb``, ...) give the raw bytes, as for any file.

h5py comes with the ``hdf5`` extra and is imported only when an HDF5 file is opened.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import IO, Any

from octstore.errors import (
    AccessDeniedError,
    BackendNotInstalledError,
    FormatError,
    InvalidModeError,
    NotFoundError,
    OctstoreError,
)

__all__ = ["EXTENSIONS", "MODES", "is_hdf5", "open_file", "parse_mode"]

#: File name extensions (without the dot, lower case) of HDF5 files.
EXTENSIONS = frozenset({"h5", "hdf5"})
#: h5py's modes, each with the builtin mode kind it writes like (``r``, ``w``, ``x``, ``a``)
#: and whether it writes.
MODES: dict[str, tuple[str, bool]] = {
    "r": ("r", False),
    "r+": ("r", True),
    "w": ("w", True),
    "w-": ("x", True),
    "x": ("x", True),
    "a": ("a", True),
}
_TEXT_ARGUMENTS = ("encoding", "errors", "newline")


def is_hdf5(name: str, mode: str) -> bool:
    """Whether ``open(mode)`` of a file called ``name`` yields an ``h5py.File``: an HDF5 file
    opened in any but a binary mode (``rb``, ``wb``, ... give its raw bytes)."""
    return os.path.splitext(name)[1].lstrip(".").lower() in EXTENSIONS and "b" not in mode


def parse_mode(mode: str, url: str, kwargs: dict[str, Any]) -> tuple[str, bool]:
    """The builtin mode kind (``r``, ``w``, ``x``, ``a``) that h5py's ``mode`` writes like, and
    whether it writes; h5py is checked for too, before anything else happens.

    Raises:
        InvalidModeError: For a mode h5py does not have, or text arguments (``encoding``...).
        BackendNotInstalledError: If h5py is not installed.
    """
    text = [name for name in _TEXT_ARGUMENTS if name in kwargs]
    if mode not in MODES or text:
        given = f"mode {mode!r}" if mode not in MODES else f"{', '.join(text)}"
        raise InvalidModeError(
            f"{given} is invalid for the HDF5 file {url}: it opens as an h5py.File, with "
            "h5py's modes r, r+, w, w- (or x) and a, and no text mode or encoding; use "
            "'rb' for its raw bytes"
        )
    h5py()
    return MODES[mode]


def h5py() -> ModuleType:
    """The h5py module.

    Raises:
        BackendNotInstalledError: If h5py is not installed, naming the extra that brings it.
    """
    try:
        return importlib.import_module("h5py")
    except ImportError as error:
        raise BackendNotInstalledError(
            f"opening HDF5 files needs h5py, which is not installed ({error}): pip install "
            "'octstore[hdf5]'"
        ) from error


def open_file(target: str | IO[bytes], mode: str, url: str, **kwargs: Any) -> Any:
    """An ``h5py.File`` on a local path or a seekable binary file.

    Args:
        target: A local path, or a binary file object (a remote file read in parts).
        mode: h5py's mode.
        url: The datafile's path, for error messages.
        **kwargs: Passed to ``h5py.File`` (``libver``, ``rdcc_nbytes``, ``track_order``, ...).

    Raises:
        NotFoundError: If a local file does not exist.
        AccessDeniedError: If a local file may not be opened so.
        FormatError: If the content is not HDF5.
    """
    try:
        return h5py().File(target, mode, **kwargs)
    except OctstoreError:  # reading the remote file failed
        raise
    except FileNotFoundError as error:
        raise NotFoundError(f"{url} does not exist ({error}): check the path") from error
    except PermissionError as error:
        raise AccessDeniedError(
            f"opening {url} was refused ({error}): check its permissions"
        ) from error
    except OSError as error:
        if error.errno is not None:  # the system's error (permissions, a lock), not the format
            raise
        raise FormatError(
            f"{url} cannot be opened as HDF5 ({error}): is it an HDF5 file? Open it with "
            "mode 'rb' for its raw bytes"
        ) from error
