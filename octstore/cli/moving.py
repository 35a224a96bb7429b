"""``cp`` and ``mv``: files, directories and prefixes copied (or moved) with their metadata.

A copy is what ``upload`` and ``download`` make, between any two places: content with its
labels, tags, timestamp and id (an id the destination already has for the file wins, as on
upload); other content at the destination is refused unless ``--overwrite`` (exit code 4);
the same content is left as it is. Within one cloud the copy is made inside the service
where the backend can make it conditional (GCS); elsewhere the content is sent. Many files
go through the transfer engine, concurrently; a directory or prefix is synchronised as a
dataset (``Dataset.upload``), manifest and all.

``mv`` removes each source, with its metadata, only once its copy is there: the copy holds
the source's size and CRC32C, and the source has not changed since it was read. Anything
else leaves the source in place.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import click

from octstore.cli.arguments import file_or_dataset
from octstore.cli.copying import (
    echo_report,
    into_directory,
    refusing_conflicts,
    safe_name,
    synced,
)
from octstore.cli.options import (
    Settings,
    echo,
    echo_json,
    exit_for_failures,
    human_size,
    json_option,
)
from octstore.cli.root import cli
from octstore.cli.verbs import as_errors, remove_each, tidy
from octstore.datafile import Datafile, interface
from octstore.dataset import Dataset
from octstore.dataset.transfer import TransferReport, copy_all, copy_one
from octstore.errors import ConflictError, IntegrityError
from octstore.location import Location

#: What a report says of each file, by the name of its list in a ``TransferReport``.
_OUTCOMES = ("transferred", "metadata_updated", "skipped", "destination_changed", "conflicts")
#: The way out when a source's name is no safe name for its copy.
_NAME_IT = "give a DESTINATION path for its copy, not a folder to put it in"
#: The outcomes after which the destination holds the source's content and metadata.
_COPIED = frozenset(_OUTCOMES[:3])


@dataclasses.dataclass
class _Item:
    """One source, as matched, and where it goes: a file's path, or a folder's root."""

    url: str
    source: Datafile | Dataset
    target: Location


@dataclasses.dataclass
class _Copied:
    """What one copy did, and the source (its canonical path) of each destination."""

    report: TransferReport
    sources: dict[str, str]


def _sources_and_destination(function: Any) -> Any:
    """The arguments and options cp and mv share."""
    decorators: list[Callable[[Any], Any]] = [
        click.argument("sources", nargs=-1, required=True, metavar="SOURCE..."),
        click.argument("destination"),
        click.option("-r", "--recursive", is_flag=True, help="Include directories and prefixes."),
        click.option("--overwrite", is_flag=True, help="Replace other content there."),
        json_option,
        click.pass_obj,
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@cli.command()
@_sources_and_destination
def cp(
    settings: Settings,
    sources: tuple[str, ...],
    destination: str,
    recursive: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Copy files with their metadata (-r: folders too).

    Copies each SOURCE, a file (with -r also a directory or prefix), with its labels,
    tags, timestamp and id. A source goes into DESTINATION, by its name, when DESTINATION
    is a directory or prefix or ends with '/', else it becomes DESTINATION; several sources
    need such a DESTINATION. Other content there is replaced only with --overwrite (else
    exit code 4); the same content is left as it is. SOURCE may be a glob pattern
    ('s3://b/raw/*.csv').

    \b
    octstore cp north.csv s3://bucket/raw/
    octstore cp -r 'gs://bucket/2024-*' ./copies/
    """
    items = _plan(settings, sources, destination, recursive, "cp")
    _echo_copied(_copy(settings, items, overwrite, as_json), as_json)


@cli.command()
@_sources_and_destination
def mv(
    settings: Settings,
    sources: tuple[str, ...],
    destination: str,
    recursive: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Move files with their metadata (-r: folders too).

    As cp, then each source is removed with its metadata once its copy is verified: the
    copy has the source's size and CRC32C, and the source has not changed since it was
    read. A source not copied or not verified is left in place, and reported.
    """
    items = _plan(settings, sources, destination, recursive, "mv")
    for item in items:
        if isinstance(item.source, Datafile) and item.target.url == item.source.path:
            raise click.UsageError(f"{item.url} and {item.target.url} are the same file")
    originals = {item.url: _files_of(item) for item in items}  # (a copied folder moves)
    read = {df.path: _token(df) for files in originals.values() for df in files}
    copied = _copy(settings, items, overwrite, as_json)
    there = {
        source: destination
        for done in copied
        for outcome in _COPIED
        for destination in getattr(done.report, outcome)
        for source in [done.sources[destination]]
    }

    def check(datafile: Datafile) -> None:
        _check_moved(settings, datafile, read[datafile.path], there[datafile.path])

    moving = [df for files in originals.values() for df in files if df.path in there]
    removed, failures = remove_each(settings, moving, check)
    for item in items:
        if isinstance(item.source, Dataset) and set(removed) >= {
            df.path for df in originals[item.url]
        }:
            tidy(item.url, settings.options_for(item.url))
    _echo_copied(copied, as_json, removed=removed)
    exit_for_failures(settings, as_errors(failures))


# --- what goes where ------------------------------------------------------------------------


def _plan(
    settings: Settings, sources: Sequence[str], destination: str, recursive: bool, verb: str
) -> list[_Item]:
    """Each source (patterns expanded) with its destination: every source is checked
    before anything is copied.

    Raises:
        NotFoundError: If a source does not exist.
        click.UsageError: If a directory is given without -r, several sources with a
            DESTINATION that is no directory, or two sources would land on one path.
    """
    urls = settings.expand(sources, directories=True)
    found = [(url, file_or_dataset(settings, url)) for url in urls]
    for url, source in found:
        if isinstance(source, Dataset) and not recursive:
            raise click.UsageError(
                f"{url} is a directory or prefix: add -r to {verb} it with every file in it "
                f"(octstore {verb} -r {url} {destination})"
            )
    options = settings.options_for(destination)
    into = into_directory(destination, options)
    if len(found) > 1 and not into:
        raise click.UsageError(
            f"{verb} of several files needs a directory or prefix as DESTINATION, and "
            f"{destination} is none: end it with '/' to {verb} them into it"
        )
    root = Location(destination, options)
    items = [
        _Item(url, source, root.child(safe_name(Location(url).name, url, _NAME_IT)))
        if into
        else _Item(url, source, root)
        for url, source in found
    ]
    _check_places(items, verb)
    return items


def _check_places(items: Sequence[_Item], verb: str) -> None:
    """Refuse two sources landing on one path, and a folder going into itself."""
    landing = collections.Counter(item.target.url for item in items)
    for item in items:
        if landing[item.target.url] > 1:
            others = [other.url for other in items if other.target.url == item.target.url]
            raise click.UsageError(
                f"{' and '.join(others)} would land on one path, {item.target.url}: {verb} "
                "them one at a time, to different places"
            )
        if isinstance(item.source, Dataset) and _inside(item.target, Location(item.url)):
            raise click.UsageError(
                f"{item.url} cannot go into itself ({item.target.url}): give a DESTINATION "
                "outside it"
            )


def _inside(location: Location, root: Location) -> bool:
    """Whether ``location`` is ``root`` or inside it."""
    if location.url.rstrip("/") == root.url.rstrip("/"):
        return True
    try:
        location.relative_to(root)
    except ValueError:
        return False
    return True


def _files_of(item: _Item) -> list[Datafile]:
    """The files ``item`` copies: a file, or every file of a folder."""
    return list(item.source) if isinstance(item.source, Dataset) else [item.source]


# --- copying --------------------------------------------------------------------------------


def _copy(
    settings: Settings, items: Sequence[_Item], overwrite: bool, as_json: bool
) -> list[_Copied]:
    """Copy every item: one file alone as ``upload`` copies it, several files in one run of
    the engine, each folder as a dataset. A conflict stops there, with exit code 4."""
    files = [(item.source, item.target) for item in items if isinstance(item.source, Datafile)]
    copied: list[_Copied] = []
    if len(items) == 1 and len(files) == 1:
        datafile, target = files[0]
        with (
            refusing_conflicts(settings),
            settings.activity(f"copying {datafile.name} ({human_size(datafile.size)})"),
        ):
            report = copy_one(datafile, target, overwrite=overwrite)
        copied.append(_Copied(report, {target.url: datafile.path}))
    elif files:
        sources = {target.url: datafile.path for datafile, target in files}
        root = Location(files[0][1].parent, files[0][1].storage_options)  # DESTINATION
        with (
            synced(as_json, _showing(lambda report: sources)),
            settings.progress("copying", in_bytes=True) as callback,
        ):
            report = copy_all(files, root, callback=callback, overwrite=overwrite)
        copied.append(_Copied(report, sources))
    for item in items:
        if isinstance(item.source, Dataset):
            copied.append(_copy_folder(settings, item.source, item, overwrite, as_json))
    return copied


def _copy_folder(
    settings: Settings, dataset: Dataset, item: _Item, overwrite: bool, as_json: bool
) -> _Copied:
    """Synchronise the folder ``item`` as a dataset to its destination."""
    source_root = Location(item.url, settings.options_for(item.url))

    def sources(report: TransferReport) -> dict[str, str]:
        return {
            path: source_root.child(Location(path).relative_to(item.target)).url
            for outcome in _OUTCOMES
            for path in getattr(report, outcome)
        }

    with (
        synced(as_json, _showing(sources)),
        settings.progress(f"copying {source_root.name}", in_bytes=True) as callback,
    ):
        report = dataset.upload(
            item.target.url,
            overwrite=overwrite,
            callback=callback,
            storage_options=item.target.storage_options or None,
        )
    return _Copied(report, sources(report))


def _showing(
    sources: Callable[[TransferReport], dict[str, str]],
) -> Callable[[TransferReport, bool], None]:
    """How a copy stopped by conflicts prints what it did, before its error line."""
    return lambda report, as_json: _echo_copied([_Copied(report, sources(report))], as_json)


# --- removing what was moved ----------------------------------------------------------------


def _token(datafile: Datafile) -> str:
    """The version of ``datafile`` as it was read (one request only if none was)."""
    state = interface.known_state(datafile) or interface.current_state(datafile)
    return state.version_token


def _check_moved(settings: Settings, datafile: Datafile, token: str, target: str) -> None:
    """Raise unless ``target`` holds ``datafile``'s content, and ``datafile`` is as it was
    read (``token``) before it was copied.

    Raises:
        ConflictError: If the source changed meanwhile.
        IntegrityError: If the copy does not have the source's size and CRC32C.
    """
    now = settings.datafile(datafile.path)
    if _token(now) != token:
        raise ConflictError(
            f"{datafile.path} changed while it was moved, so it was kept ({target} has its "
            "content from before): run the mv again (with --overwrite) to move it as it is now",
            path=datafile.path,
        )
    copy = settings.datafile(target)
    if (copy.size, copy.hash_value) != (now.size, now.hash_value):
        raise IntegrityError(
            f"{target} does not hold the content of {datafile.path} after the copy, so the "
            "source was kept: run the mv again"
        )


# --- printing -------------------------------------------------------------------------------


def _echo_copied(
    copied: Sequence[_Copied], as_json: bool, *, removed: Sequence[str] | None = None
) -> None:
    """Print what the copies did (and, for mv, the sources ``removed``): each report, or
    under ``--json`` one object per file."""
    if not as_json:
        for done in copied:
            echo_report(done.report, False)
        for path in removed or ():
            echo(f"removed {path}")
        return
    records: list[dict[str, Any]] = []
    for done in copied:
        for outcome in _OUTCOMES:
            for destination in getattr(done.report, outcome):
                source = done.sources.get(destination)
                record = {"source": source, "destination": destination, "outcome": outcome}
                if removed is not None:
                    record["removed"] = source in removed
                records.append(record)
    echo_json(records)
