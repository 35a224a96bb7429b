"""Copying a dataset to a folder or prefix: where each file lands (never outside it), the
sync plan, its execution, and the manifest, written last."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import Callback

from octstore import cache
from octstore.datafile import Datafile, interface, names
from octstore.dataset import loading
from octstore.dataset.manifest import Manifest, write_manifest
from octstore.dataset.sync import destination_listing, plan, settled_manifest
from octstore.dataset.transfer import (
    TransferReport,
    execute,
    raise_failures,
)
from octstore.errors import InvalidPathError, OctstoreError, UnsafePathError
from octstore.location import Location, relative_path
from octstore.state import ObjectState

if TYPE_CHECKING:
    from octstore.dataset.dataset import Dataset


#: Each file a dataset has at its destination after a transfer: where, its listing version
#: and its state.
Placed = list[tuple[Location, str, ObjectState]]


def move_to(
    dataset: Dataset, root: Location, callback: Callback, concurrency: int, overwrite: bool
) -> TransferReport:
    """Copy ``dataset`` to ``root`` (:func:`copy_to`), then point it there, as octue's
    transfers do: its root is ``root``, its files the copies there (known from the sync,
    with no request more), and a name it took from its old root is the new one's.

    Raises:
        TransferError: If some files failed; the dataset stays where it was.
    """
    report, placed = copy_to(dataset, root, callback, concurrency, overwrite)
    loaded = loading.held(placed)
    dataset._name = dataset._name_at(root)
    dataset._location = root
    dataset._storage_options = dict(root.storage_options) or dataset._storage_options
    dataset._files, dataset._listed = loaded.files, loaded.listed
    return report


def copy_to(
    dataset: Dataset,
    root: Location,
    callback: Callback,
    concurrency: int,
    overwrite: bool,
) -> tuple[TransferReport, Placed]:
    """Carry out :meth:`Dataset.upload` and :meth:`Dataset.download` to ``root``; return
    what was done and where each of the dataset's files now is, with its state there (as
    the sync read or wrote it: no request more), for the dataset to move there.

    Raises:
        TransferError: If some files failed; the dataset was not moved.
    """
    if root.is_read_only:
        raise OctstoreError(f"{root.url} is read-only: copy the dataset to a writable place")
    placed, refused = destinations(dataset, root)
    if root.is_local:  # made even for no files: it gets the manifest
        with cache.named_refusal(root.url):
            os.makedirs(root.url, exist_ok=True)
    sync = plan(placed, root, overwrite=overwrite, refused=refused)
    report, failures = execute(sync, callback=callback, concurrency=concurrency)
    synced = {*report.transferred, *report.metadata_updated, *report.skipped}
    # Only a sync that wrote something needs a second listing for the new states; the
    # states its writes returned spare a request each for the files written.
    after = destination_listing(root, sync.basis, report._written) if sync.writes else sync.listed
    # The id the destination's dataset already has wins, as files' ids do.
    own = dataset._manifest(dataset._name_at(root))
    if sync.basis is not None:
        own.id = sync.basis.id
    manifest = settled_manifest(sync, own, synced, after)
    if sync.basis is None or _substance(manifest) != _substance(sync.basis):
        write_manifest(root, manifest)
    raise_failures(report, failures, len(placed) + len(refused))
    return report, [(target, *after[target.url]) for _, target in placed if target.url in after]


def destinations(
    dataset: Dataset, root: Location
) -> tuple[list[tuple[Datafile, Location]], dict[str, OctstoreError]]:
    """Each file with its destination under ``root``: its path relative to the dataset's
    root, or its name if it is outside the root (or the dataset has none); and the files
    refused because that path would leave ``root`` (by their destination's spelling).

    Raises:
        OctstoreError: If two files would land on one path; nothing has been transferred.
    """
    placed: dict[str, tuple[Datafile, Location]] = {}
    refused: dict[str, OctstoreError] = {}
    for datafile in dataset:
        relative = datafile.name
        if dataset._location is not None:
            with contextlib.suppress(ValueError):
                relative = interface.location_of(datafile).relative_to(dataset._location)
        try:
            relative_path(relative)
        except ValueError as error:
            refused[f"{root.url.rstrip('/')}/{relative}"] = UnsafePathError(
                f"{datafile.path} was not copied: its path {relative!r} would place it "
                f"outside {root.url} ({str(error).split(': ', 1)[-1]}); nothing was "
                "written for it: rename it at the source, or remove it from the dataset",
                key=relative,
            )
            continue
        target = root.child(relative)
        if root.is_local and not _inside(target.url, root.url):
            refused[target.url] = UnsafePathError(
                f"{datafile.path} was not copied: {target.url} leads through a symbolic "
                f"link out of {root.url}; nothing was written for it: remove the link, "
                "or copy into another directory",
                key=relative,
            )
            continue
        try:  # a name too long for the metadata files beside it, say
            names.check_writable(target)
        except InvalidPathError as error:
            refused[target.url] = error
            continue
        if relative in placed:
            raise OctstoreError(
                f"{placed[relative][0].path} and {datafile.path} would both be copied to "
                f"{root.child(relative).url}: rename one, or remove it from the dataset"
            )
        placed[relative] = (datafile, target)
    return list(placed.values()), refused


def _substance(manifest: Manifest) -> dict[str, Any]:
    """What a manifest says, without the listing versions and whether a state had settled
    when it was read (S3): they tell a loader when to read a file again, not what the file
    is, and a manifest that differs only in them need not be written again."""
    document = manifest.model_dump(mode="json", exclude={"files": {"__all__": {"listing_version"}}})
    for entry in document["files"]:
        entry["details"].pop("settled", None)
    document["files"] = sorted(document["files"], key=lambda entry: entry["path"])
    return document


def _inside(path: str, root: str) -> bool:
    """Whether the local ``path``, its links resolved, is inside ``root`` (resolved too)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root
