"""Checks made behind octstore's back: what a server, a directory or the cache really holds.

Nothing here goes through octstore's read paths: remote objects are read with s3fs / gcsfs
straight from the server (never through the fault-injecting proxy), sidecars and cache
records are parsed here, and content is hashed here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octstore import cache
from octstore.hashing import crc32c_bytes, crc32c_file

OCTSTORE_KEYS = ("octstore-id", "octstore-labels", "octstore-tags", "octstore-timestamp")


@dataclass(frozen=True)
class Stored:
    """A file's content and the metadata stored with it, as the storage holds them."""

    content: bytes
    labels: frozenset[str]
    tags: str  # canonical JSON, so that stored states compare and hash
    timestamp: str | None

    @classmethod
    def of(
        cls,
        content: bytes,
        labels: Any = (),
        tags: dict[str, Any] | None = None,
        timestamp: str | None = None,
    ) -> Stored:
        return cls(content, frozenset(labels), json.dumps(tags or {}, sort_keys=True), timestamp)

    def __repr__(self) -> str:
        return (
            f"Stored({len(self.content)} bytes crc32c={crc32c_bytes(self.content)}, "
            f"labels={sorted(self.labels)}, tags={self.tags}, timestamp={self.timestamp})"
        )


def _from_document(content: bytes, document: dict[str, Any]) -> Stored:
    return Stored.of(
        content, document.get("labels") or (), document.get("tags"), document.get("timestamp")
    )


def _bucket_key(url: str) -> tuple[str, str]:
    bucket, key = url.split("://", 1)[1].split("/", 1)
    return bucket, key


def _sidecar_url(url: str) -> str:
    parent, name = url.rsplit("/", 1)
    return f"{parent}/.{name}.octstore.json"


def stored(name: str, fs: Any, url: str) -> Stored | None:
    """What the backend ``name`` holds at ``url``: None if there is no file there.

    Raises:
        AssertionError: If the object's content and its metadata disagree (an S3 object
            whose ``octstore-crc32c`` is not its content's, a GCS object whose ``crc32c``
            is not its content's).
    """
    fs.invalidate_cache()
    if name in ("local", "memory"):
        if not fs.exists(url):
            return None
        content = fs.cat_file(url)
        try:
            document = json.loads(fs.cat_file(_sidecar_url(url)))
        except FileNotFoundError:
            document = {}
        return _from_document(content, document)
    bucket, key = _bucket_key(url)
    if name == "s3":
        try:
            head = fs.call_s3("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        keys = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        content = fs.cat_file(f"{bucket}/{key}")
        if "octstore-crc32c" in keys:
            assert keys["octstore-crc32c"] == crc32c_bytes(content), (
                f"{url}: octstore-crc32c {keys['octstore-crc32c']} is not its content's"
            )
    elif name == "az":
        try:
            info = fs.info(f"{bucket}/{key}", refresh=True)
        except FileNotFoundError:
            return None
        # Azure's names: octstore_labels, ... (see octstore.backends.azure_requests)
        keys = {k.replace("_", "-"): v for k, v in (info.get("metadata") or {}).items()}
        content = fs.cat_file(f"{bucket}/{key}")
        if "octstore-crc32c" in keys:
            assert keys["octstore-crc32c"] == crc32c_bytes(content), (
                f"{url}: octstore_crc32c {keys['octstore-crc32c']} is not its content's"
            )
    else:
        try:
            resource = fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True)
        except FileNotFoundError:
            return None
        keys = dict(resource.get("metadata") or {})
        content = fs.cat_file(f"{bucket}/{key}")
        assert resource["crc32c"] == crc32c_bytes(content), f"{url}: crc32c disagrees"
    if keys.get("octstore-sidecar") == "1":
        document = json.loads(fs.cat_file(_sidecar_url(url).split("://", 1)[1]))
        return _from_document(content, document)
    return Stored.of(
        content,
        json.loads(keys.get("octstore-labels", "[]")),
        json.loads(keys.get("octstore-tags", "{}")),
        keys.get("octstore-timestamp"),
    )


def unsound_cache_entries() -> list[str]:
    """Cache entries whose bytes are not what their record says (CRC32C, else size): what
    the cache would serve wrongly. (Leftovers with no record are never served.)"""
    problems: list[str] = []
    objects = cache.cache_root() / "objects"
    for directory in objects.glob("*/*") if objects.is_dir() else ():
        try:
            record = json.loads((directory / "entry.json").read_bytes())
        except FileNotFoundError:
            continue
        path = directory / "data" / Path(record["url"]).name
        if not path.exists():
            continue
        state = record["state"]
        if state.get("crc32c") is not None:
            if crc32c_file(path) != state["crc32c"]:
                problems.append(f"{path}: bytes do not match the recorded CRC32C")
        elif path.stat().st_size != state["size"]:
            problems.append(f"{path}: size does not match the record")
    return problems


def cache_temporaries() -> list[str]:
    """Temp files in cache entries: downloads in flight, or left by interrupted ones."""
    objects = cache.cache_root() / "objects"
    return sorted(str(p) for p in objects.glob("*/*/data/.*.tmp")) if objects.is_dir() else []


def temporaries(directory: str | os.PathLike[str]) -> list[str]:
    """octstore temp files (``.<name>.<8 chars>.tmp``) anywhere under ``directory``."""
    root = Path(directory)
    return sorted(str(p) for p in root.rglob(".*.tmp")) if root.is_dir() else []


def staged_writes() -> list[str]:
    """Files in the cache's ``writes/`` directory: content on its way to a remote file, or
    kept there after a failed write."""
    writes = cache.cache_root() / "writes"
    return sorted(str(p) for p in writes.iterdir()) if writes.is_dir() else []
