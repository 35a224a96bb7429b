"""``cat`` and ``rm``: a file's content on standard output, and files removed with their
metadata; and removing many files at once, which ``mv`` shares.

Every URL may be a glob pattern (see :mod:`octstore.cli.globs`). A file's metadata goes with
it: the sidecar beside a local file (or a ``memory://`` one), the object's own metadata in the
cloud and any sidecar object its metadata spilled into. ``rm -r`` removes a directory or
prefix: every file in it, then its dataset manifest (and, locally, the folders left empty).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from octstore.backends.sidecar_files import DATASET_MANIFEST
from octstore.cli.arguments import file_or_dataset
from octstore.cli.options import (
    Settings,
    echo,
    echo_json,
    exit_for_failures,
    json_option,
)
from octstore.cli.root import cli
from octstore.datafile import Datafile
from octstore.dataset import Dataset, engine
from octstore.dataset.manifest import delete_manifest
from octstore.dataset.transfer import DEFAULT_CONCURRENCY
from octstore.errors import OctstoreError
from octstore.location import Location, translate_errors

__all__ = ["as_errors", "remove_each", "tidy"]

#: Bytes ``cat`` reads and writes at a time.
_CHUNK = 2**20


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.pass_obj
def cat(settings: Settings, urls: tuple[str, ...]) -> None:
    """Print each file's content, as bytes.

    Writes the content of each file to standard output, byte for byte. A remote file is
    read through the cache (downloaded once, and verified, unless it is there already), a
    chunk at a time. A file that is missing is reported after the others are written, and
    the exit code is not 0.

    \b
    octstore cat s3://bucket/raw/north.csv
    octstore cat 'gs://bucket/raw/*.csv' | wc -l
    """
    found, failures = settings.existing_datafiles(urls)
    out = sys.stdout.buffer
    for datafile in found.values():
        try:  # the bytes as stored, whatever the name (an .h5 is no h5py.File here)
            with translate_errors(datafile.path, "reading"):
                file = open(datafile.local_path, "rb")  # noqa: SIM115 - closed below
        except OctstoreError as error:
            failures.append(error)
            continue
        with file:  # (a reader gone away, ``| head``, is no error of the file's)
            shutil.copyfileobj(file, out, _CHUNK)
    out.flush()
    exit_for_failures(settings, failures)


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Remove directories and prefixes: every file in them, and their manifest.",
)
@json_option
@click.pass_obj
def rm(settings: Settings, urls: tuple[str, ...], recursive: bool, as_json: bool) -> None:
    """Remove files with their metadata (a local file's sidecar too).

    Every URL is checked before anything is removed: a missing file, or a directory or
    prefix without -r, removes nothing. Prints each file removed.

    \b
    octstore rm s3://bucket/raw/old.csv
    octstore rm -r ./scratch 'gs://bucket/tmp/*'
    """
    files: list[Datafile] = []
    folders: list[tuple[str, Dataset]] = []
    for url in settings.expand(urls, directories=recursive):
        found = file_or_dataset(settings, url)
        if isinstance(found, Datafile):
            files.append(found)
        elif not recursive:
            raise click.UsageError(
                f"{url} is a directory or prefix: add -r to remove it with every file in it "
                f"(octstore rm -r {url})"
            )
        else:
            folders.append((url, found))
    every = {datafile.path: datafile for datafile in files}  # once each: a file given twice
    every.update((datafile.path, datafile) for _, dataset in folders for datafile in dataset)
    removed, failures = remove_each(settings, list(every.values()))
    for url, dataset in folders:
        if not any(datafile.path in failures for datafile in dataset):
            tidy(url, settings.options_for(url))
    if as_json:
        echo_json([{"path": path, "removed": True} for path in removed])
    else:
        for path in removed:
            echo(f"removed {path}")
    exit_for_failures(settings, as_errors(failures))


def remove_each(
    settings: Settings,
    datafiles: Sequence[Datafile],
    check: Callable[[Datafile], None] | None = None,
) -> tuple[list[str], dict[str, BaseException]]:
    """Remove each datafile with its metadata, many at once, each only if ``check`` (if
    given) does not raise for it; return the paths removed (sorted), and the error of each
    one that was not, by path."""
    removed: list[str] = []

    def remove(datafile: Datafile, _: object) -> tuple[str]:
        if check is not None:
            check(datafile)
        datafile.delete()
        return (datafile.path,)

    with settings.progress("removing") as callback:
        failures = engine.run(
            datafiles,
            remove,
            name=lambda datafile: datafile.path,
            record=lambda done: removed.append(done[0]),
            callback=callback,
            concurrency=DEFAULT_CONCURRENCY,
        )
    return sorted(removed), failures


def tidy(url: str, options: dict[str, Any] | None) -> None:
    """Once every file under the directory or prefix ``url`` is removed: remove the dataset
    manifests in it (its own and its subfolders') and, locally, the folders left empty;
    say what is left, if anything (files that are not data files, such as octue's)."""
    root = Location(url, options)
    with translate_errors(root.url, "listing"):
        root.fs.invalidate_cache(root.fs_path)  # a listing from before the files went
        left = [root.listed(path) for path in root.fs.find(root.fs_path)]
    for location in left:
        if location.name == DATASET_MANIFEST:
            delete_manifest(Location(location.parent, options))
    if root.is_local:
        for directory, _, _ in os.walk(root.url, topdown=False):
            with contextlib.suppress(OSError):  # not empty
                os.rmdir(directory)
    kept = sorted(
        location.relative_to(root) for location in left if location.name != DATASET_MANIFEST
    )
    if kept:
        echo(
            f"octstore: kept {root.url}, which holds files that are not data files "
            f"({', '.join(kept[:3])}{', ...' if len(kept) > 3 else ''}): remove them "
            "yourself if they are not needed",
            err=True,
        )


def as_errors(failures: dict[str, BaseException]) -> list[OctstoreError]:
    """The engine's ``failures``, sorted by path, as octstore errors that name the file."""
    return [
        error if isinstance(error, OctstoreError) else OctstoreError(f"{path}: {error}")
        for path, error in sorted(failures.items())
    ]
