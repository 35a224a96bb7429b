"""Sidecar files: their names (``.x.csv.octstore.json`` beside ``x.csv``), their JSON format, and
reading them boundedly, locally or through any filesystem, with the version they were read at."""

from __future__ import annotations

import errno
import json
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from stat import S_ISREG
from typing import Any

from octstore.backends import octue
from octstore.backends.lease import LEASE_SUFFIX
from octstore.backends.locking import LOCK_SUFFIX
from octstore.errors import (
    InvalidMetadataError,
    OctstoreError,
    warn,
)
from octstore.hashing import crc32c_bytes
from octstore.location import Location
from octstore.metadata import MAX_DOCUMENT_BYTES, Metadata, read_stored

SIDECAR_VERSION = 1


_SUFFIX = ".octstore.json"


_PENDING_SUFFIX = ".octstore.json.pending"


def sidecar_name(name: str) -> str:
    """The sidecar file name of the data file ``name``."""
    return f".{name}{_SUFFIX}"


#: The name of a dataset's manifest, in the dataset's root.
DATASET_MANIFEST = ".octstore-dataset.json"
#: How the documents behind a dataset's signed URLs are named, in the dataset's root:
#: ``.octstore-signed-<hex>.json``.
SIGNED_DATASET_PREFIX, SIGNED_DATASET_SUFFIX = ".octstore-signed-", ".json"


def is_sidecar_name(name: str) -> bool:
    """Whether ``name`` is a metadata file (an octstore sidecar, lock or lease, a dataset
    manifest or signed-URL document, or octue's ``.octue``) rather than data."""
    if name in (octue.DIRECTORY_FILE, DATASET_MANIFEST):
        return True
    if name.startswith(SIGNED_DATASET_PREFIX) and name.endswith(SIGNED_DATASET_SUFFIX):
        return True
    # ``.<data name><suffix>``, the data name not empty: ``.octstore.json`` itself is data
    suffixes = (_SUFFIX, _PENDING_SUFFIX, LOCK_SUFFIX, LEASE_SUFFIX)
    return name.startswith(".") and any(
        name.endswith(suffix) and len(name) > len(suffix) + 1 for suffix in suffixes
    )


def dump_sidecar(metadata: Metadata) -> bytes:
    """The sidecar document for ``metadata``."""
    document = {"octstore": SIDECAR_VERSION, **metadata.model_dump(mode="json")}
    data = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False).encode("utf-8")
    if len(data) > MAX_METADATA_BYTES:
        raise InvalidMetadataError(
            f"metadata of {len(data)} bytes (as JSON) is more than octstore reads back "
            f"({MAX_METADATA_BYTES} bytes); nothing was written: keep large data in files, "
            "not in tags"
        )
    return data


def load_sidecar(data: bytes, where: str, location: Location) -> Metadata | None:
    """The metadata of ``location`` in a sidecar's bytes; None, with a warning, if they are
    not a sidecar (not JSON, truncated, or holding metadata that is not valid). A sidecar
    without an id (another tool wrote it) is read under the id derived from ``location``.

    Raises:
        OctstoreError: If the sidecar was written by a newer octstore.
    """
    try:
        document = json.loads(data)
        version = document["octstore"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise TypeError(f"format version {version!r} is not a number")
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        warn(f"ignoring unreadable octstore sidecar {where}: {error!r}", stacklevel=3)
        return None
    if version > SIDECAR_VERSION:
        raise OctstoreError(
            f"the sidecar {where} has format version {version!r}, newer than this octstore "
            f"reads ({SIDECAR_VERSION}): upgrade octstore"
        )
    try:
        return read_stored(document, location.derived_id)
    except InvalidMetadataError as error:
        warn(f"ignoring invalid octstore sidecar {where}: {error}", stacklevel=3)
        return None


#: The largest metadata file (a sidecar, an octue file) octstore reads.
MAX_METADATA_BYTES = MAX_DOCUMENT_BYTES


def read_metadata_file(location: Location, info: Mapping[str, Any] | None = None) -> bytes | None:
    """The bytes of the metadata file at exactly ``location`` (never read as a pattern), or
    None if there is none.

    Only a regular file of at most :data:`MAX_METADATA_BYTES` is read: anything else (a
    FIFO, a device such as ``/dev/zero`` behind a symlink, a directory, a huge file) is
    ignored with a warning naming it, so it can neither hang the reader nor fill its memory.

    Args:
        location: The metadata file.
        info: Its fsspec info from a listing, if known; else a remote file's is asked for,
            so that its type and size are checked before it is read.
    """
    if location.is_local:
        return _read_local_metadata_file(location.url)
    if info is None:
        try:
            info = location.fs.info(location.fs_path)
        except FileNotFoundError:
            return None
    if info.get("type", "file") != "file":
        _warn_unreadable(location.url, f"a {info.get('type')}")
        return None
    size = int(info.get("size") or 0)
    if size > MAX_METADATA_BYTES:
        _warn_unreadable(location.url, f"{size} bytes long")
        return None
    if size == 0:  # a range of nothing is not satisfiable
        return b""
    try:  # bounded, in case it grew since
        data: bytes = location.fs.cat_file(location.fs_path, start=0, end=MAX_METADATA_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(data) > MAX_METADATA_BYTES:
        _warn_unreadable(location.url, f"more than {MAX_METADATA_BYTES} bytes long")
        return None
    return data


def _read_local_metadata_file(path: str) -> bytes | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in (errno.ENAMETOOLONG, errno.ENOTDIR):  # no such file can exist
            return None
        raise
    if not S_ISREG(status.st_mode):
        _warn_unreadable(path, "not a regular file")
        return None
    if status.st_size > MAX_METADATA_BYTES:
        _warn_unreadable(path, f"{status.st_size} bytes long")
        return None
    try:  # without blocking, in case it was replaced by a FIFO since the stat
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        if not S_ISREG(os.fstat(descriptor).st_mode):
            _warn_unreadable(path, "not a regular file")
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_METADATA_BYTES and (chunk := os.read(descriptor, 2**16)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    if size > MAX_METADATA_BYTES:
        _warn_unreadable(path, f"more than {MAX_METADATA_BYTES} bytes long")
        return None
    return b"".join(chunks)


def _warn_unreadable(where: str, what: str) -> None:
    warn(
        f"ignoring the octstore metadata file {where}: it is {what}, and only regular files "
        f"of at most {MAX_METADATA_BYTES} bytes are read; remove it, then set the metadata "
        "again and update_metadata()",
        stacklevel=4,
    )


def _sidecar_version(data: bytes) -> str:
    """The version of a sidecar: its bytes' CRC32C. A state carrying it makes writes
    conditional on the metadata too, so that no metadata update is silently lost."""
    return crc32c_bytes(data)


def _identity(path: str) -> str:
    """What a rename keeps of a local file, and a rewrite changes: inode, size and mtime."""
    stat = os.stat(path)
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"


_CHANGE_KEYS = ("ETag", "etag", "mtime", "LastModified", "last_modified", "updated", "created")


def _remote_version_token(info: dict[str, Any]) -> str:
    """Modification time (or ETag) and size; unique per call when nothing tells a change.

    A token that stays the same while the content changes would serve stale cache entries,
    so a file whose filesystem reports no change indicator (plain HTTP servers, say) gets a
    fresh token every time and is never served from the cache.
    """
    changed = next((info[key] for key in _CHANGE_KEYS if info.get(key)), None)
    if changed is None:
        return f"unversioned-{uuid.uuid4().hex}"
    if isinstance(changed, datetime):  # listings and info() may give one as a float
        changed = changed.timestamp()
    return f"{changed}-{info.get('size')}"


def _read_metadata_files(
    locations: list[Location], infos: dict[str, dict[str, Any]]
) -> dict[str, bytes]:
    """The listed metadata files' bytes by path (each read by its exact path, never as a
    pattern); concurrently on filesystems that serve requests concurrently."""

    def read(location: Location) -> bytes | None:
        return read_metadata_file(location, infos.get(location.fs_path))

    if len(locations) > 1 and getattr(locations[0].fs, "async_impl", False):
        with ThreadPoolExecutor(max_workers=min(16, len(locations))) as pool:
            contents = list(pool.map(read, locations))
    else:
        contents = [read(location) for location in locations]
    return {
        location.fs_path: data
        for location, data in zip(locations, contents, strict=True)
        if data is not None
    }
