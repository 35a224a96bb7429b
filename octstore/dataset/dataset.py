"""``Dataset``: many datafiles, loaded from one listing and filtered by their metadata.

Examples:
    >>> import os, tempfile
    >>> from octstore import Dataset, Datafile
    >>> root = tempfile.mkdtemp()
    >>> for name, site in [("a.csv", "north"), ("b.csv", "south")]:
    ...     with Datafile(os.path.join(root, name), tags={"site": site}).open("w") as f:
    ...         _ = f.write("x")
    >>> ds = Dataset(root)
    >>> [df.name for df in ds.files.filter(tags__site="north")]
    ['a.csv']
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import backend_for
from octstore.datafile import Datafile, conversions, interface
from octstore.dataset import copying, updating
from octstore.dataset.manifest import Manifest, ManifestEntry, read_manifest, write_manifest
from octstore.dataset.transfer import (
    DEFAULT_CONCURRENCY,
    TransferReport,
    fetch_all,
    raise_failures,
)
from octstore.errors import NotFoundError, OctstoreError
from octstore.filters import FilterSet
from octstore.hashing import canonical_json, crc32c_bytes
from octstore.location import Location
from octstore.metadata import Metadata
from octstore.metadata.holder import MetadataHolder
from octstore.redaction import redact

__all__ = ["Dataset"]

DatafileLike = Datafile | str | os.PathLike[str] | Mapping[str, Any]


class Dataset(MetadataHolder):
    """A collection of datafiles with a name, an id, labels and tags of its own.

    Args:
        path: A local directory or a remote prefix (``gs://bucket/data``) whose files to
            load: one listing, with each file's metadata, and no content transfer.
        files: Datafiles to hold (``Datafile`` objects, paths or URLs, or ``to_dict``
            dicts), in addition to those under ``path``.
        recursive: Load the files in subdirectories of ``path`` too.
        name: The dataset's name; by default the last part of ``path``.
        id: The dataset's UUID; generated when not given.
        labels: The dataset's labels.
        tags: The dataset's tags.
        storage_options: fsspec storage options for ``path`` and for ``files`` given as paths.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        files: Iterable[DatafileLike] | None = None,
        recursive: bool = True,
        name: str | None = None,
        id: str | None = None,
        labels: Iterable[str] | str | None = None,
        tags: Mapping[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self._location = Location(path, storage_options) if path is not None else None
        self._storage_options = dict(storage_options or {})
        manifest = read_manifest(self._location) if self._location is not None else None
        given = {"id": id, "labels": labels, "tags": tags}
        stored = manifest.model_dump(include={"id", "labels", "tags"}) if manifest else {}
        self._metadata = Metadata.model_validate(
            {key: value if value is not None else stored.get(key) for key, value in given.items()}
            | (
                {}
                if id is not None or manifest
                else {"id": (self._location.derived_id() if self._location else uuid.uuid4())}
            )
        )
        if name is None and manifest is not None:
            name = manifest.name
        self.name = name if name is not None else (self._location.name if self._location else None)
        self._files: dict[str, Datafile] = {}
        # Each listed file's state with the listing version it was read at: the manifest.
        self._listed: updating.ListedStates = {}
        if self._location is not None:
            known = manifest.known(self._location) if manifest else None
            manifest = None  # its entries are no longer needed: their states are in known
            offline = conversions.offline_by_default()
            for child, state, version in backend_for(self._location).list(
                self._location, recursive=recursive, known=known
            ):
                # (the datafile copies the state's metadata when it is first used)
                self._files[child.url] = interface.assemble(child, state.metadata, state, offline)
                self._listed[child.url] = (version, state)
        for file in files or ():
            self.add(file)

    # --- the dataset's own metadata -------------------------------------------------------

    @property
    def path(self) -> str | None:
        """The directory or prefix the dataset was loaded from, if any."""
        return self._location.url if self._location else None

    # --- the files ------------------------------------------------------------------------

    @property
    def files(self) -> FilterSet[Datafile]:
        """The datafiles, filterable with octue's syntax.

        Example: ``ds.files.filter(labels__contains="raw", tags__site="north")``.
        """
        return FilterSet(self._files.values())

    def _datafile(self, file: DatafileLike) -> Datafile:
        if isinstance(file, Datafile):
            return file
        if isinstance(file, Mapping):
            return Datafile.from_dict(dict(file))
        return Datafile(file, storage_options=self._storage_options)

    def add(self, file: DatafileLike) -> Datafile:
        """Add a datafile (or a path, URL or ``to_dict`` dict of one); return the datafile.

        A datafile at a path the dataset already holds replaces it.
        """
        datafile = self._datafile(file)
        self._files[datafile.path] = datafile
        return datafile

    def remove(self, file: Datafile | str | os.PathLike[str]) -> None:
        """Remove a datafile from the dataset (the file itself is left alone).

        Raises:
            NotFoundError: If the dataset holds no datafile at that path.
        """
        path = file.path if isinstance(file, Datafile) else Location(file).url
        if self._files.pop(path, None) is None:
            raise NotFoundError(f"the dataset {self.name!r} holds no datafile {path}")

    def update_metadata(
        self,
        files: Iterable[Datafile] | None = None,
        *,
        callback: Callback = DEFAULT_CALLBACK,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> TransferReport:
        """Store the metadata changes of many datafiles at once, then write the manifest
        ``.octstore-dataset.json`` into the dataset's root.

        Each datafile (of ``files``, or of the dataset) whose labels, tags or timestamp
        changed since they were read is stored as its own ``Datafile.update_metadata()``
        stores it: the changes are applied to the metadata stored at the time of writing, so
        changes another process made meanwhile are kept, and appear here afterwards. The files
        run ``concurrency`` at a time; a datafile with nothing changed costs no request (one
        with no metadata stored is not given any).

        The manifest holds the dataset's id, name, labels and tags, and each file's state as
        the dataset listed it or as its write returned it, so that the next load is one
        listing plus one read of the manifest (files whose new state a listing cannot be
        matched to without a request, such as S3 objects updated within the last second, are
        read afresh by that load).

        A dataset with no root (made from ``files`` alone) has no manifest: its files'
        metadata is still stored, and an error follows only if the dataset has labels or
        tags of its own, which only a manifest keeps.

        Args:
            files: The datafiles to store, e.g. ``ds.files.filter(labels__contains="raw")``
                (default: all); each must be one the dataset holds.
            callback: An fsspec callback for progress: told the number of files to write,
                then each file done.
            concurrency: How many files are written at once.

        Returns:
            What was written (``metadata_updated``) and what had nothing to write
            (``skipped``).

        Raises:
            NotFoundError: If one of ``files`` is not in the dataset; nothing was written.
            TransferError: If some files failed (its ``failures`` hold each one's error, its
                ``report`` what was done); the others were stored and the manifest written.
                Running it again retries the failed ones.
            OctstoreError: If the dataset has no root and labels or tags of its own (after
                its files' metadata was stored).
        """
        selected = self._held(files)
        report, failures = updating.store_changes(
            selected, self.path, callback=callback, concurrency=concurrency
        )
        if self._location is not None:
            self._listed = updating.recorded(self._listed, self._files.values(), self._location)
            self._write_manifest(self._location)
        elif self.labels or self.tags:
            raise OctstoreError(
                f"the dataset {self.name!r} has no root directory or prefix to keep a "
                "manifest in, with its own labels and tags: make it with Dataset(path) "
                f"(its files' metadata was stored: {report})"
            )
        raise_failures(report, failures, len(selected))
        return report

    def _held(self, files: Iterable[Datafile] | None) -> list[Datafile]:
        """``files`` (each once), or all the dataset's datafiles.

        Raises:
            NotFoundError: If one is not in the dataset.
        """
        if files is None:
            return list(self)
        selected = {datafile.path: datafile for datafile in files}
        for path in selected:
            if path not in self._files:
                raise NotFoundError(
                    f"the dataset {self.name!r} holds no datafile {path}: add it first "
                    "(add()), or store its metadata on its own (Datafile.update_metadata())"
                )
        return [selected[path] for path in sorted(selected)]

    def _write_manifest(self, root: Location) -> None:
        # Entries made one at a time as the manifest is written, from states already valid.
        entries = (
            ManifestEntry.model_construct(
                path=relative,
                size=state.size,
                version_token=state.version_token,
                listing_version=version,
                hash_value=state.crc32c,
                metadata=state.metadata,
                details=dict(state.details),
            )
            for relative, version, state in updating.entries_under(root, self._listed)
        )
        write_manifest(root, self._manifest(), entries)

    # --- transfers ------------------------------------------------------------------------

    def upload(
        self,
        cloud_path: str,
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        concurrency: int = DEFAULT_CONCURRENCY,
        storage_options: dict[str, Any] | None = None,
    ) -> TransferReport:
        """Synchronise every file, content and metadata, to the prefix ``cloud_path``,
        keeping each file's path relative to the dataset's root; then record what was
        synchronised in the manifest there.

        A three-way sync: each file is compared with what the destination's manifest recorded
        at the last sync there. Changed only here: copied (only its metadata, if the content
        is there). Changed only at the destination: left as it is, and reported in
        ``destination_changed``. Changed on both sides, or never synchronised and different:
        a conflict, left as it is unless ``overwrite``. Every decision is made from one
        listing and one manifest read before anything moves, and each write is conditional
        on the state it was decided on. Unchanged files, and the manifest when nothing
        changed, are not written at all; an id the destination already has for a file wins,
        and is written back to the local file's sidecar.

        Args:
            cloud_path: The prefix (or directory) to copy to: ``gs://bucket/datasets/x``.
            overwrite: Resolve conflicts by replacing the destination's version with this
                dataset's (files changed only at the destination are still left alone).
            callback: An fsspec callback (``TqdmCallback()``): told the bytes to send, then
                each file's; each file gets a ``branched()`` child of its own.
            concurrency: How many files are in flight at once.
            storage_options: fsspec storage options for ``cloud_path`` (default: the
                dataset's).

        Returns:
            What was transferred, what only had its metadata written, what was already
            there, and what was left because it changed at the destination.

        Raises:
            TransferError: If some files conflict or failed (its ``failures`` hold a
                ``ConflictError`` for each conflict; its ``report``, what was done). The
                others were copied; running it again retries the failed ones.
        """
        return copying.copy_to(self, cloud_path, storage_options, callback, concurrency, overwrite)

    def download(
        self,
        local_dir: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> TransferReport:
        """Synchronise every file, content and metadata (as sidecars), into the directory
        ``local_dir``, keeping each file's path relative to the dataset's root; then record
        it in the manifest there, so ``Dataset(local_dir)`` has this dataset's id, labels and
        tags.

        The same three-way sync as :meth:`upload`, against the manifest in ``local_dir``:
        local edits made since the last download are never overwritten (reported in
        ``destination_changed``, or as conflicts if the remote file changed too). A key that
        would place a file outside ``local_dir`` (``..``, ``~``, an absolute path, ...) is
        refused with an ``UnsafePathError`` and nothing is written for it.

        Without ``local_dir``, the remote files' content is put into the cache instead, so
        that ``local_path`` and ``open`` need no transfer afterwards (and work offline).

        Files run concurrently; content is verified against its CRC32C. A file whose content
        is already in ``local_dir`` is not transferred again.

        Args:
            local_dir: The directory to copy into (made if missing).
            overwrite: Resolve conflicts by replacing the local version with the remote one.
            callback: An fsspec callback: told the bytes to copy, then each file's as they
                come; each file gets a ``branched()`` child of its own.
            concurrency: How many files are in flight at once.

        Raises:
            TransferError: If some files conflict, were refused or failed; the others were
                copied.
        """
        if local_dir is None:
            return fetch_all(list(self), callback=callback, concurrency=concurrency)
        local = Location(local_dir)
        if not local.is_local:
            raise OctstoreError(
                f"download() copies into a local directory, and {local.url} is not one: use "
                "upload() to copy a dataset to a remote location"
            )
        return copying.copy_to(self, local.url, None, callback, concurrency, overwrite)

    def _manifest(self) -> Manifest:
        """A manifest with the dataset's own metadata and no files."""
        return Manifest(id=self._metadata.id, name=self.name, labels=self.labels, tags=self.tags)

    def get_file_by_label(self, label: str) -> Datafile:
        """The one datafile with ``label``; an error if none or several have it."""
        return self.files.one(labels__contains=label)

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[Datafile]:
        return iter(sorted(self._files.values(), key=lambda datafile: datafile.path))

    def __contains__(self, file: object) -> bool:
        if isinstance(file, Datafile):
            return file.path in self._files
        if isinstance(file, (str, os.PathLike)):
            return Location(file).url in self._files
        return False

    @property
    def hash_value(self) -> str:
        """The CRC32C of the sorted content hashes of the files (GCS encoding)."""
        hashes = sorted(datafile.hash_value for datafile in self._files.values())
        return crc32c_bytes(canonical_json(hashes).encode("utf-8"))

    # --- conversions ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description that ``from_dict`` turns back into an equal dataset."""
        metadata = self._metadata.model_dump(mode="json")
        return {
            "id": metadata["id"],
            "name": redact(self.name) if self.name else self.name,
            "path": redact(self.path, mask=None) if self.path else None,
            "labels": metadata["labels"],
            "tags": metadata["tags"],
            "files": [datafile.to_dict() for datafile in self],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dataset:
        """The dataset ``to_dict`` described, without any request."""
        dataset = cls(
            files=data.get("files", ()),
            name=data.get("name"),
            id=data.get("id"),
            labels=data.get("labels"),
            tags=data.get("tags"),
        )
        dataset._location = Location(data["path"]) if data.get("path") else None
        return dataset

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(uuid.UUID(self.id))

    def __repr__(self) -> str:
        return redact(f"<Dataset({self.name!r}) id={self.id!r} files={len(self)}>")
