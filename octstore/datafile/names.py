"""The file names octstore keeps for itself, and the names it can keep metadata for.

octstore keeps files of its own beside a user's data: the sidecar ``.<name>.octstore.json``,
the marker ``.<name>.octstore.json.pending`` of a write in progress, the lock
``.<name>.octstore-lock``, the S3 lease ``.<name>.octstore-lease``, a dataset's manifest
``.octstore-dataset.json``, octue's ``.octue``, and temp files ``.<name>.<8 chars>.tmp``.
Listings leave them out, so a data file with one of these names would vanish: creating one
through octstore is refused (:func:`check_writable`).

Every other name is a name, never a pattern: ``[ab].csv`` and ``*`` are files, reached with
fsspec's exact-path calls (``cat_file``, ``info``, ``rm_file``, ``put_file``) only.

A name is also refused if a file octstore keeps beside it would not fit: locally, a name
whose longest companion (the temp file of its pending marker, 37 bytes longer) exceeds the
filesystem's name limit (255 bytes on most); in S3 and GCS, a key whose sidecar or lease key
(16 bytes longer) exceeds their 1,024-byte limit. Names up to 218 bytes always fit.
"""

from __future__ import annotations

import os
import re

from octstore.errors import InvalidPathError
from octstore.location import Location

__all__ = [
    "MAX_KEY_BYTES",
    "check_writable",
    "is_reserved_name",
    "longest_companion_name",
]

#: The longest object key S3 and GCS accept, in UTF-8 bytes (Azure: 1,024 characters).
MAX_KEY_BYTES = 1024
_DEFAULT_NAME_MAX = 255
_KEYED_PROTOCOLS = frozenset({"s3", "gs", "az"})
_RESERVED = re.compile(
    r"\..+\.octstore\.json(\.pending)?"  # a sidecar, a pending write's marker
    r"|\..+\.octstore-(lock|lease)"  # a file's lock, an S3 lease
    r"|\.octstore-dataset\.json|\.octue"  # a dataset's manifest, octue's directory file
    r"|\..+\.[a-z0-9_]{8}\.tmp",  # an unfinished write, or content kept after a failed one
    re.DOTALL,
)


def is_reserved_name(name: str) -> bool:
    """Whether ``name`` has the shape of a file octstore keeps for itself.

    Examples:
        >>> is_reserved_name(".x.csv.octstore.json"), is_reserved_name("[ab].csv")
        (True, False)
    """
    return _RESERVED.fullmatch(name) is not None


def longest_companion_name(name: str) -> str:
    """The longest name of a file octstore may keep beside ``name``: the temp file that its
    pending-write marker is written through."""
    return f"..{name}.octstore.json.pending.xxxxxxxx.tmp"


def check_writable(location: Location) -> None:
    """Refuse to create ``location`` if its name is reserved, or too long for the files
    octstore keeps beside it.

    Raises:
        InvalidPathError: Naming the path and the fix.
    """
    name = location.name
    if is_reserved_name(name):
        raise InvalidPathError(
            f"{location.url} has the name of a file octstore keeps for itself "
            f"({name!r}: a sidecar, lock, lease, manifest or temp file), which listings leave "
            "out: rename it, e.g. without the leading '.'"
        )
    if location.is_local:
        limit = _name_max(location.parent)
        extra = len(os.fsencode(longest_companion_name(name))) - len(os.fsencode(name))
        size = len(os.fsencode(name))
        if size + extra > limit:
            raise InvalidPathError(
                f"{location.url} has a name of {size} bytes: octstore keeps its metadata "
                f"beside it in files whose names are {extra} bytes longer, and this filesystem "
                f"allows {limit}; use a name of at most {limit - extra} bytes"
            )
    elif location.protocol in _KEYED_PROTOCOLS:
        size = len(location.fs_path.split("/", 1)[-1].encode("utf-8"))
        extra = len("..octstore-lease")  # the lease; the sidecar is a byte shorter
        if size + extra > MAX_KEY_BYTES:
            raise InvalidPathError(
                f"{location.url} has a key of {size} bytes: octstore may keep its metadata "
                f"beside it under a key {extra} bytes longer, and {location.protocol}:// allows "
                f"{MAX_KEY_BYTES}; use a key of at most {MAX_KEY_BYTES - extra} bytes"
            )


def _name_max(directory: str) -> int:
    """The longest file name the filesystem holding ``directory`` (or its nearest existing
    ancestor) accepts, in bytes."""
    while True:
        try:
            return int(os.pathconf(directory, "PC_NAME_MAX"))
        except FileNotFoundError:
            parent = os.path.dirname(directory)
            if parent == directory:
                return _DEFAULT_NAME_MAX
            directory = parent
        except (OSError, ValueError, AttributeError):  # no pathconf, or no answer
            return _DEFAULT_NAME_MAX
