"""A dataset's manifest, ``<root>/.octstore-dataset.json``: its metadata and its files'.

Loading a dataset with a manifest is one listing plus one read of the manifest. Each entry
records the listing version its file had when the manifest was written (GCS generation and
metageneration, S3 ETag and LastModified, a file's and its sidecar's tokens elsewhere); an
entry whose file lists at another version now, content or metadata, is read afresh from the
file, and files not in the manifest are read as usual. A stale manifest is never trusted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from octstore import cache
from octstore.backends import Known, backend_for, octue
from octstore.backends.sidecar_files import DATASET_MANIFEST
from octstore.errors import NotFoundError, warn
from octstore.location import Location, relative_path, translate_errors
from octstore.metadata import LabelSet, Metadata, TagDict
from octstore.state import ObjectState

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "ManifestEntry",
    "delete_manifest",
    "read_manifest",
    "write_manifest",
]

MANIFEST_VERSION: Literal[1] = 1


class ManifestEntry(BaseModel):
    """One file of a dataset, as it was when the manifest was written.

    Attributes:
        path: The file's path relative to the dataset's root, with ``/`` separators.
        size: Its size in bytes.
        version_token: Its content version (GCS generation, S3 ETag, ...).
        listing_version: What a listing showed of it: changes with content or metadata.
        hash_value: Its CRC32C, where the backend gave it.
        metadata: Its octstore metadata, or None if it had none.
        details: What the backend keeps about this version (a GCS metageneration, ...).
    """

    path: str
    size: int
    version_token: str
    listing_version: str
    hash_value: str | None = None
    metadata: Metadata | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _inside_the_root(cls, path: str) -> str:
        return relative_path(path)

    def state(self) -> ObjectState:
        """The file's state this entry records."""
        return ObjectState(
            self.size, self.version_token, self.hash_value, self.metadata, self.details
        )


class Manifest(BaseModel):
    """A dataset's metadata and its files' states (format version 1)."""

    octstore: Literal[1] = MANIFEST_VERSION
    id: uuid.UUID
    name: str | None = None
    labels: LabelSet = Field(default_factory=LabelSet)
    tags: TagDict = Field(default_factory=TagDict)
    files: list[ManifestEntry] = Field(default_factory=list)

    def known(self, root: Location) -> Known:
        """The entries' states by URL under ``root``, for a backend's listing."""
        if root.is_local:  # checked relative paths: joined, they are already canonical
            prefix = root.url.rstrip(os.sep) + os.sep
            return {
                prefix + entry.path.replace("/", os.sep): (entry.listing_version, entry.state())
                for entry in self.files
            }
        return {
            root.child(entry.path).url: (entry.listing_version, entry.state())
            for entry in self.files
        }


def _manifest_location(root: Location) -> Location:
    return root.child(DATASET_MANIFEST)


def read_manifest(root: Location) -> Manifest | None:
    """The manifest in the dataset root ``root``: None if there is none, or, with a
    warning, if it is unreadable (a dataset then loads as if it had none)."""
    where = _manifest_location(root)
    # named after the dataset the user gave: a missing credential or bucket is its problem
    with translate_errors(root.url, "reading the dataset"):
        try:
            data = backend_for(where).read_bytes(where)
        except FileNotFoundError:
            return None
    try:
        return Manifest.model_validate_json(data)
    except (ValidationError, ValueError) as error:
        if isinstance(error, ValidationError):
            first = error.errors(include_url=False)[0]
            problem = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
        else:
            problem = str(error).splitlines()[0]
        warn(
            f"ignoring the unreadable dataset manifest {where.url} ({problem}): the dataset "
            "is loaded from its files; update_metadata() writes a new one",
            stacklevel=3,
        )
        return None


def read_octue_dataset(root: Location) -> Manifest | None:
    """The dataset's own metadata that octue kept in the ``.octue`` file of a local dataset
    directory, as a manifest with no files; None if there is none or it is not valid."""
    where = root.child(octue.DIRECTORY_FILE)
    try:
        with open(where.url, "rb") as file:
            data = file.read()
    except OSError:
        return None
    fields = octue.dataset_fields(data, where.url)
    if not fields or "id" not in fields:
        return None
    try:
        return Manifest.model_validate(fields)
    except ValueError as error:
        warn(f"ignoring invalid octue dataset metadata {where.url}: {error}", stacklevel=3)
        return None


def write_manifest(
    root: Location, manifest: Manifest, entries: Iterable[ManifestEntry] = ()
) -> None:
    """Write ``manifest``, with ``entries`` after its own files, into the dataset root
    ``root``, in one step (a reader sees the old manifest or the new).

    The document is streamed an entry at a time (into a temp file beside it, renamed into
    place, where ``root`` is local), so that a manifest of many files is never built whole
    in memory: ``entries`` may be a generator.
    """
    where = _manifest_location(root)
    chunks = _document(manifest, itertools.chain(manifest.files, entries))
    with translate_errors(where.url, "writing"):
        if where.is_local:
            _write_local(where.url, chunks)
        else:
            where.fs.pipe_file(where.fs_path, b"".join(chunks))


def delete_manifest(root: Location) -> None:
    """Remove the manifest from the dataset root ``root``, if it has one (once its files are
    removed: a dataset without a manifest is loaded from its files alone)."""
    where = _manifest_location(root)
    with contextlib.suppress(NotFoundError), translate_errors(where.url, "deleting"):
        where.fs.rm_file(where.fs_path)


def _document(manifest: Manifest, entries: Iterable[ManifestEntry]) -> Iterator[bytes]:
    """The manifest's JSON, in pieces: its own fields, then one line per file entry."""
    head = json.dumps(manifest.model_dump(mode="json", exclude={"files"}), ensure_ascii=False)
    yield head[:-1].encode("utf-8") + b', "files": ['
    separator = b"\n"
    for entry in entries:
        yield separator + entry.model_dump_json().encode("utf-8")
        separator = b",\n"
    yield b"\n]}\n"


def _write_local(path: str, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to a temp file beside ``path``, then rename it onto ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = cache.temporary_path_beside(path)
    try:
        with open(temporary, "wb") as out:
            out.writelines(chunks)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
