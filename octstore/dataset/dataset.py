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

from octstore.datafile import Datafile, interface
from octstore.datafile.octue import either
from octstore.dataset import adding, conversions, copying, loading, updating
from octstore.dataset.adding import DatafileLike
from octstore.dataset.manifest import Manifest, write_manifest
from octstore.dataset.octue import OctueNames
from octstore.dataset.root import RootHolder
from octstore.dataset.tables import Tables
from octstore.dataset.transfer import DEFAULT_CONCURRENCY, TransferReport, fetch_all, raise_failures
from octstore.errors import NotFoundError, OctstoreError
from octstore.filters import FilterSet
from octstore.hashing import canonical_json, crc32c_bytes
from octstore.location import Location
from octstore.metadata.holder import MetadataHolder
from octstore.path_objects import PathArgument, is_path
from octstore.redaction import redact

__all__ = ["Dataset"]


class Dataset(RootHolder, MetadataHolder, OctueNames, Tables):
    """A collection of datafiles with a name, an id, labels and tags of its own.

    ``with Dataset(path) as ds:`` stores the dataset's metadata (``update_metadata()``) when
    the block ends, and nothing if it raises.

    Args:
        path: A local directory or a remote prefix (``gs://bucket/data``) whose files to
            load: one listing, with each file's metadata, and no content transfer. A local
            directory that does not exist yet is an empty dataset (with an
            ``OctstoreWarning``), made when something is written into it. A place with no
            files warns that the dataset is empty, as octue does.
        files: Datafiles to hold where they are (``Datafile`` objects, paths or URLs, or
            ``to_dict`` dicts), in addition to those under ``path``.
        recursive: Load the files in subdirectories of ``path`` too.
        name: The dataset's name; by default the last part of ``path``.
        id: The dataset's UUID; generated when not given.
        labels: The dataset's labels.
        tags: The dataset's tags.
        storage_options: fsspec storage options for ``path`` and for ``files`` given as paths.

    Raises:
        InvalidArgumentError: If ``files`` is not a collection of files (a string, a dict).
        InvalidPathError: If ``path`` is a place that cannot be listed (``https://``).
        NotFoundError: If ``path`` is a local file rather than a directory.
    """

    def __init__(
        self,
        path: PathArgument | None = None,
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
        files = adding.files_of(files)
        loaded = loading.load(self._location, recursive=recursive) if self._location else None
        manifest = loaded.manifest if loaded else None
        given = {"id": id, "labels": labels, "tags": tags}
        self._metadata = loading.own_metadata(given, manifest, self._location)
        self._name_from(name, manifest.name if manifest else None)
        self._files: dict[str, Datafile] = loaded.files if loaded else {}
        # Each listed file's state with the listing version it was read at: the manifest.
        self._listed: updating.ListedStates = loaded.listed if loaded else {}
        for file in files:  # held where they are: making a dataset copies nothing
            datafile = adding.datafile_of(file, self._storage_options)
            self._files[datafile.path] = datafile
        if loaded and self._location and not self._files:
            loading.warn_empty(self._location, loaded.missing, stacklevel=2)

    # --- the files ------------------------------------------------------------------------

    @property
    def files(self) -> FilterSet[Datafile]:
        """The datafiles, filterable with octue's syntax.

        Example: ``ds.files.filter(labels__contains="raw", tags__site="north")``.
        """
        return FilterSet(self._files.values())

    def add(
        self, file: DatafileLike, path_in_dataset: str | None = None, *, overwrite: bool = False
    ) -> Datafile:
        """Add a datafile (or a path, URL or ``to_dict`` dict of one); return the datafile
        the dataset holds. One at a path the dataset already holds replaces it.

        As octue's: a file outside the dataset's root, or any file given a
        ``path_in_dataset``, is copied, content and metadata, into the root (at that path, or
        by its name), and the datafile given is moved there: a remote file, or a local one
        added to a local dataset, is at the copy from then on; a local file added to a remote
        dataset has the copy as its ``cloud_path``; a remote file added to a local dataset
        has it as its ``local_path``. A file inside the root, or added to a dataset with no
        root, is held where it is.

        Example: ``ds.add(Datafile("/tmp/a.csv"), path_in_dataset="raw/a.csv")``.

        Args:
            file: The file.
            path_in_dataset: A ``/``-separated path relative to the dataset's root.
            overwrite: Replace other content at that path.

        Raises:
            InvalidArgumentError: If ``file`` is none of the above (also a ``TypeError``).
            UnsafePathError: If ``path_in_dataset`` would leave the root (``..``, absolute).
            AlreadyExistsError: If other content is there and ``overwrite`` is False.
            OctstoreError: If ``path_in_dataset`` is given and the dataset has no root.
        """
        datafile = adding.datafile_of(file, self._storage_options)
        key = datafile.path
        if (
            path_in_dataset is None
            and self._location
            and not adding.is_under(self._location, datafile)
        ):
            path_in_dataset = datafile.name
        if path_in_dataset is not None:
            key = adding.copy_into(
                self._location, datafile, path_in_dataset, overwrite=overwrite
            ).url
        self._files[key] = datafile
        return datafile

    def remove(self, file: Datafile | str | os.PathLike[str]) -> None:
        """Remove a datafile from the dataset (the file itself is left alone).

        Raises:
            NotFoundError: If the dataset holds no datafile at that path.
        """
        path = self._key_of(file)
        if path is None or self._files.pop(path, None) is None:
            raise NotFoundError(f"the dataset {self.name!r} holds no datafile {file}")

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
        selected = updating.held(self._files, files, self.name)
        report, failures = updating.store_changes(
            selected, self.path, callback=callback, concurrency=concurrency
        )
        if self._location is not None:
            self._save_manifest(self._location)
        elif self.labels or self.tags:
            raise OctstoreError(
                f"the dataset {self.name!r} has no root directory or prefix to keep a "
                "manifest in, with its own labels and tags: make it with Dataset(path) "
                f"(its files' metadata was stored: {report})"
            )
        raise_failures(report, failures, len(selected))
        return report

    def _save_manifest(self, root: Location) -> None:
        """Write the manifest into ``root``, with each file's latest known state."""
        self._listed = updating.recorded(self._listed, self._files.values(), root)
        write_manifest(root, self._manifest(), updating.manifest_entries(root, self._listed))

    # --- transfers ------------------------------------------------------------------------

    def upload(
        self,
        cloud_path: PathArgument | None = None,
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        concurrency: int = DEFAULT_CONCURRENCY,
        storage_options: dict[str, Any] | None = None,
    ) -> TransferReport:
        """Synchronise every file, content and metadata, to the prefix ``cloud_path``,
        keeping each file's path relative to the dataset's root; record what was
        synchronised in the manifest there; then move the dataset there, as octue's does:
        its ``path`` is ``cloud_path``, its files are the copies there (datafiles you hold
        still name the originals), and a name it took from its old path is the new path's.

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
            cloud_path: The prefix (or directory) to copy to: ``gs://bucket/datasets/x``
                (default: the dataset's own remote root, to store what changed here).
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
                others were copied, and the dataset stays where it was; running it again
                retries the failed ones.
        """
        if cloud_path is None:
            cloud_path = self._root_on("cloud").url
        root = Location(cloud_path, storage_options or self._storage_options)
        return copying.move_to(self, root, callback, concurrency, overwrite)

    def download(
        self,
        local_dir: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        concurrency: int = DEFAULT_CONCURRENCY,
        local_directory: str | os.PathLike[str] | None = None,
    ) -> TransferReport:
        """Synchronise every file, content and metadata (as sidecars), into the directory
        ``local_dir``, keeping each file's path relative to the dataset's root; record it in
        the manifest there, so ``Dataset(local_dir)`` has this dataset's id, labels and tags;
        then move the dataset there, as :meth:`upload` does.

        The same three-way sync as :meth:`upload`, against the manifest in ``local_dir``:
        local edits made since the last download are never overwritten (reported in
        ``destination_changed``, or as conflicts if the remote file changed too). A key that
        would place a file outside ``local_dir`` (``..``, ``~``, an absolute path, ...) is
        refused with an ``UnsafePathError`` and nothing is written for it.

        Without ``local_dir``, the remote files' content is put into the cache instead, so
        that ``local_path`` and ``open`` need no transfer afterwards (and work offline); the
        dataset stays where it is.

        Files run concurrently; content is verified against its CRC32C. A file whose content
        is already in ``local_dir`` is not transferred again.

        Args:
            local_dir: The directory to copy into (made if missing).
            overwrite: Resolve conflicts by replacing the local version with the remote one.
            callback: An fsspec callback: told the bytes to copy, then each file's as they
                come; each file gets a ``branched()`` child of its own.
            concurrency: How many files are in flight at once.
            local_directory: octue's name for ``local_dir``.

        Raises:
            TransferError: If some files conflict, were refused or failed; the others were
                copied, and the dataset stays where it was.
            OctstoreError: Without ``local_dir``, if no file is remote (nothing to download).
            InvalidArgumentError: If both ``local_dir`` and ``local_directory`` are given.
        """
        local_dir = either("local_dir", local_dir, None, "local_directory", local_directory)
        if local_dir is None:
            if not self.exists_in_cloud and not any(df.cloud_path for df in self._files.values()):
                raise OctstoreError(
                    f"there is nothing to download: every file of the dataset {self.name!r} "
                    "is local; give download() a local_dir to copy them into"
                )
            return fetch_all(list(self), callback=callback, concurrency=concurrency)
        local = Location(local_dir)
        if not local.is_local:
            raise OctstoreError(
                f"download() copies into a local directory, and {local.url} is not one: use "
                "upload() to copy a dataset to a remote location"
            )
        return copying.move_to(self, local, callback, concurrency, overwrite)

    def _manifest(self, name: str | None = None) -> Manifest:
        """A manifest with the dataset's own metadata (``name``, if given) and no files."""
        name = self.name if name is None else name
        return Manifest(id=self._metadata.id, name=name, labels=self.labels, tags=self.tags)

    def get_file_by_label(self, label: str) -> Datafile:
        """The one datafile with ``label``; an error if none or several have it."""
        return self.files.one(labels__contains=label)

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[Datafile]:
        return iter(sorted(self._files.values(), key=lambda datafile: datafile.path))

    def __contains__(self, file: object) -> bool:
        return self._key_of(file) is not None

    def _key_of(self, file: object) -> str | None:
        """Where the dataset holds ``file``: its path, or its other copy's (see ``add``)."""
        places: tuple[str | None, ...]
        if isinstance(file, Datafile):
            places = (file.path, file.cloud_path, interface.local_copy_of(file))
        elif is_path(file):
            places = (Location(file).url,)  # type: ignore[arg-type]
        else:
            return None
        return next((place for place in places if place in self._files), None)

    @property
    def hash_value(self) -> str:
        """The CRC32C of the sorted content hashes of the files (GCS encoding)."""
        hashes = sorted(datafile.hash_value for datafile in self._files.values())
        return crc32c_bytes(canonical_json(hashes).encode("utf-8"))

    # --- conversions ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description that ``from_dict`` turns back into an equal dataset."""
        return conversions.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dataset:
        """The dataset ``to_dict`` described, without any request."""
        return conversions.from_dict(cls, data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(uuid.UUID(self.id))

    def __repr__(self) -> str:
        return redact(f"<Dataset({self.name!r})>")
