"""Commands that copy files and datasets with their metadata: upload and download."""

from __future__ import annotations

import os

import click

from octstore.cli.copying import echo_report, file_destination, safe_name, synced
from octstore.cli.options import Settings, exists, json_option
from octstore.cli.root import cli
from octstore.dataset import Dataset
from octstore.dataset.transfer import copy_one
from octstore.errors import NotFoundError
from octstore.location import Location


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
            synced(as_json),
            settings.progress(f"uploading {dataset.name}", in_bytes=True) as callback,
        ):
            report = dataset.upload(
                destination,
                overwrite=overwrite,
                callback=callback,
                storage_options=settings.options_for(destination),
            )
        echo_report(report, as_json)
        return
    datafile = settings.existing_datafile(source)
    target = file_destination(
        destination, datafile.path, datafile.name, settings.options_for(destination)
    )
    with settings.progress(f"uploading {datafile.name}", in_bytes=True) as callback:
        report = copy_one(datafile, target, overwrite=overwrite, callback=callback)
    echo_report(report, as_json)


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
            target = file_destination(destination or ".", datafile.path, datafile.name, None)
            with settings.progress(f"downloading {datafile.name}", in_bytes=True) as callback:
                report = copy_one(datafile, target, overwrite=overwrite, callback=callback)
            echo_report(report, as_json)
            return
        if location.is_local:
            raise NotFoundError(f"there is no file or directory {location.url}: check the path")
    dataset = settings.dataset(url)
    if not len(dataset):
        raise NotFoundError(f"there is no file or dataset at {url}: check the URL")
    # The URL's own last part, not the dataset's name, which a manifest sets: a path there
    # could lead anywhere. A last part that is no safe folder name ("~", "..") is refused.
    default = safe_name(location.name, url, "give a DESTINATION folder") if location.name else "."
    with (
        synced(as_json),
        settings.progress(f"downloading {dataset.name}", in_bytes=True) as callback,
    ):
        report = dataset.download(destination or default, overwrite=overwrite, callback=callback)
    echo_report(report, as_json)
