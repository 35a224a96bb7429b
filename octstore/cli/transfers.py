"""Commands that copy files and datasets with their metadata: upload and download."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from octstore.cli.options import Settings, echo, echo_json, exists, json_option
from octstore.cli.root import cli
from octstore.dataset import Dataset
from octstore.dataset.transfer import TransferReport, copy_one
from octstore.errors import ConflictError, NotFoundError, TransferError, UnsafePathError
from octstore.location import Location, relative_path, translate_errors


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option("--overwrite", is_flag=True, help="Replace a file there with other content.")
@json_option
@click.pass_obj
def upload(
    settings: Settings, source: str, destination: str, overwrite: bool, as_json: bool
) -> None:
    """Copy a file, or a directory as a dataset, to DESTINATION with its metadata.

    A file goes into DESTINATION when it is a directory or prefix (or ends with '/'), else
    to it; other content there is replaced only with --overwrite. A directory is synchronised
    under the prefix DESTINATION, keeping relative paths, against the manifest there: files
    changed here are sent, files changed only there are left (and listed), files changed on
    both sides are conflicts (listed; exit code 4) that --overwrite replaces. Unchanged files
    are not written at all.
    """
    source_location = Location(source)
    if source_location.is_local and os.path.isdir(source_location.url):
        dataset = Dataset(source)
        # the bar inside: erased before _synced prints a report of conflicts
        with (
            _synced(as_json),
            settings.progress(f"uploading {dataset.name}", in_bytes=True) as callback,
        ):
            report = dataset.upload(
                destination,
                overwrite=overwrite,
                callback=callback,
                storage_options=settings.options_for(destination),
            )
        _echo_report(report, as_json)
        return
    datafile = settings.existing_datafile(source)
    target = _file_destination(
        destination, datafile.path, datafile.name, settings.options_for(destination)
    )
    with settings.progress(f"uploading {datafile.name}", in_bytes=True) as callback:
        report = copy_one(datafile, target, overwrite=overwrite, callback=callback)
    _echo_report(report, as_json)


@cli.command()
@click.argument("url")
@click.argument("destination", required=False)
@click.option("--overwrite", is_flag=True, help="Replace a local file with other content.")
@json_option
@click.pass_obj
def download(
    settings: Settings, url: str, destination: str | None, overwrite: bool, as_json: bool
) -> None:
    """Copy a file, or every file under a prefix, to local disk with its metadata.

    A file goes into DESTINATION when it is a directory (default: the current one), else to
    it; other content there is replaced only with --overwrite. A prefix's files are
    synchronised into the directory DESTINATION (default: ./<the prefix's last part>),
    keeping relative paths: local edits since the last download are never overwritten
    (listed; if the remote file changed too, a conflict with exit code 4 that --overwrite
    resolves in the remote's favour). Keys that would land outside DESTINATION are refused.
    """
    location = Location(url)
    is_directory = location.is_local and os.path.isdir(location.url)
    if not (is_directory or url.endswith("/")):
        datafile = settings.datafile(url)
        if exists(datafile):
            target = _file_destination(destination or ".", datafile.path, datafile.name, None)
            with settings.progress(f"downloading {datafile.name}", in_bytes=True) as callback:
                report = copy_one(datafile, target, overwrite=overwrite, callback=callback)
            _echo_report(report, as_json)
            return
        if location.is_local:
            raise NotFoundError(f"there is no file or directory {location.url}: check the path")
    dataset = settings.dataset(url)
    if not len(dataset):
        raise NotFoundError(f"there is no file or dataset at {url}: check the URL")
    # The URL's own last part, not the dataset's name, which a manifest sets: a path there
    # could lead anywhere. A last part that is no safe folder name ("~", "..") is refused.
    default = _safe_name(location.name, url, "give a DESTINATION folder") if location.name else "."
    with (
        _synced(as_json),
        settings.progress(f"downloading {dataset.name}", in_bytes=True) as callback,
    ):
        report = dataset.download(destination or default, overwrite=overwrite, callback=callback)
    _echo_report(report, as_json)


def _file_destination(
    destination: str, source: str, name: str, options: dict[str, Any] | None
) -> Location:
    """Where the file ``source``, called ``name``, copied to ``destination`` goes: into it if
    it is a directory or prefix (or ends with a slash), else to it.

    Raises:
        UnsafePathError: If it goes into a directory and ``name`` would leave it (``..``).
    """
    location = Location(destination, options)
    if destination.endswith(("/", os.sep)):
        return location.child(_safe_name(name, source, "give a DESTINATION file name"))
    if location.is_local:
        is_directory = os.path.isdir(location.url)
    else:
        with translate_errors(location.url, "looking at"):
            is_directory = location.fs.isdir(location.fs_path)
    if not is_directory:
        return location
    return location.child(_safe_name(name, source, "give a DESTINATION file name"))


def _safe_name(name: str, source: str, fix: str) -> str:
    """``name`` if it is safe as one file or folder name inside a directory.

    Raises:
        UnsafePathError: If it is not (``~``, ``..``, ``.``, a drive letter, ...).
    """
    try:
        relative_path(name)
    except ValueError as error:
        raise UnsafePathError(
            f"{source} ends in {name!r}, which is not a safe name for a local file or folder "
            f"({str(error).split(': ', 1)[-1]}); nothing was written: {fix}",
            key=name,
        ) from None
    if "/" in name:  # one name, not a path
        raise UnsafePathError(f"{name!r} is not one file name: {fix}", key=name)
    return name


def _echo_report(report: TransferReport, as_json: bool) -> None:
    if as_json:
        echo_json(dataclasses.asdict(report))
        return
    echo(f"{report.destination}: {report}")
    for path in report.destination_changed:
        echo(f"  left, changed at the destination since the last sync: {path}")
    for path in report.conflicts:
        echo(f"  conflict, changed on both sides since the last sync: {path}")


#: The exit code of a sync that left conflicts (DESIGN.md: 4 conflict).
_CONFLICT_EXIT = 4


@contextlib.contextmanager
def _synced(as_json: bool) -> Iterator[None]:
    """Around a dataset sync: when only conflicts kept files from being copied, print the
    report, say how to resolve them, and exit with 4; other failures propagate."""
    try:
        yield
    except TransferError as error:
        conflicts = [e for e in error.failures.values() if isinstance(e, ConflictError)]
        if not isinstance(error.report, TransferReport) or len(conflicts) < len(error.failures):
            raise
        _echo_report(error.report, as_json)
        echo(
            f"octstore: error: {len(conflicts)} files changed on both sides since the last "
            "sync and were not copied: merge them, or run again with --overwrite to replace "
            "them with the source's version",
            err=True,
        )
        sys.exit(_CONFLICT_EXIT)
