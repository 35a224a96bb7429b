"""Commands that read files: info, ls and hash (no content moves)."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

import click

from octstore.cli.arguments import is_pattern, pattern_root
from octstore.cli.options import (
    Settings,
    echo,
    echo_json,
    exit_for_failures,
    filter_option,
    human_size,
    json_option,
)
from octstore.cli.root import cli
from octstore.datafile import Datafile
from octstore.errors import MissingAttributeError
from octstore.filters import FilterSet
from octstore.location import Location


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@json_option
@click.pass_obj
def info(settings: Settings, urls: tuple[str, ...], as_json: bool) -> None:
    """Show each file's size, hash, id, labels, tags, timestamp and where its metadata is.

    No content is downloaded, except to hash a remote file whose backend does not know its
    CRC32C.
    """
    found, failures = settings.existing_datafiles(urls)
    _echo_info([_describe(datafile) for datafile in found.values()], as_json)
    exit_for_failures(settings, failures)


def _echo_info(described: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(described)
        return
    for number, record in enumerate(described):
        if number:
            echo()
        echo(f"path       {record['path']}")
        echo(f"size       {record['size']} bytes ({human_size(record['size'])})")
        echo(f"hash       {record['hash_value']} (CRC32C)")
        stored = record["metadata_location"] is not None
        echo(f"id         {record['id'] if stored else '- (none stored yet)'}")
        echo(f"labels     {', '.join(record['labels']) or '-'}")
        tags = " ".join(f"{key}={_compact(value)}" for key, value in record["tags"].items())
        echo(f"tags       {tags or '-'}")
        echo(f"timestamp  {record['timestamp'] or '-'}")
        echo(f"metadata   {record['metadata_location'] or 'none stored yet'}")


def _describe(datafile: Datafile) -> dict[str, Any]:
    metadata = datafile.metadata().model_dump(mode="json")
    location = datafile.metadata_location  # None: no id is stored yet, so show none
    return {
        "path": datafile.path,
        "name": datafile.name,
        "size": datafile.size,
        "hash_value": datafile.hash_value,
        "id": metadata["id"] if location is not None else None,
        "labels": metadata["labels"],
        "tags": metadata["tags"],
        "timestamp": metadata["timestamp"],
        "metadata_hash_value": datafile.metadata_hash_value,
        "metadata_location": location,
    }


def metadata_record(datafile: Datafile) -> dict[str, Any]:
    """What ``--json`` prints of a file and its metadata (``ls``, ``label``, ``tag``)."""
    metadata = datafile.metadata().model_dump(mode="json")
    return {"path": datafile.path, "name": datafile.name, "size": datafile.size, **metadata}


@cli.command("ls")
@click.argument("url", default=".")
@click.option("-r", "--recursive", is_flag=True, help="Include subdirectories.")
@filter_option
@click.option("--order-by", metavar="ATTRIBUTE", default="path", help="Sort by (default: path).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@click.option("-l", "--long", "long_format", is_flag=True, help="Show size, labels and tags.")
@json_option
@click.pass_obj
def ls_command(
    settings: Settings,
    url: str,
    recursive: bool,
    lookups: dict[str, Any],
    order_by: str,
    reverse: bool,
    long_format: bool,
    as_json: bool,
) -> None:
    """List the files under a directory or cloud prefix, or matching a glob pattern
    ('s3://bucket/raw/*.csv'; -r: with the files under the directories it matches too),
    filtered by their metadata.

    Values are JSON where they parse as JSON (80, true, ["a","b"]) and text otherwise; quote
    a number to compare it as text: tags__code='"042"'. One listing, no download.
    """
    location = Location(url)
    if is_pattern(url):
        files = FilterSet(_matching(settings, url, recursive))
    elif location.is_local and os.path.isfile(location.url):
        files = FilterSet([settings.datafile(url)])
    else:
        files = settings.dataset(url, recursive=recursive).files
    filtered = files.filter(**lookups)
    try:
        selected = filtered.order_by(order_by, reverse)
    except MissingAttributeError as error:
        raise _lacking(error, order_by, len(filtered)) from error
    if as_json:
        echo_json([metadata_record(datafile) for datafile in selected])
        return
    for datafile in selected:
        if not long_format:
            echo(datafile.path)
            continue
        labels = ",".join(sorted(datafile.labels)) or "-"
        tags = _compact(dict(datafile.tags)) if datafile.tags else "-"
        echo(f"{datafile.size:>12}  {labels}  {tags}  {datafile.path}")


def _matching(settings: Settings, pattern: str, recursive: bool) -> list[Datafile]:
    """The files ``pattern`` matches (``recursive``: and those under the directories it
    matches), with their metadata from one listing of the folder above the pattern."""
    matches = settings.expand([pattern], directories=True)
    root, deep = pattern_root(pattern)
    matched = set(matches)
    folders = tuple(f"{match.rstrip('/')}{'/' if '://' in match else os.sep}" for match in matches)
    return [
        datafile
        for datafile in settings.dataset(root, recursive=deep or recursive)
        if datafile.path in matched or (recursive and datafile.path.startswith(folders))
    ]


@cli.command("hash")
@click.argument("urls", nargs=-1, required=True)
@json_option
@click.pass_obj
def hash_command(settings: Settings, urls: tuple[str, ...], as_json: bool) -> None:
    """Print the CRC32C (GCS's base64 encoding) of each file, local or remote.

    A remote file's hash comes from its backend when it knows it, with no download.
    """
    found, failures = settings.existing_datafiles(urls)
    if as_json:
        echo_json([{"path": df.path, "hash_value": df.hash_value} for df in found.values()])
    else:
        for url, datafile in found.items():
            echo(f"{datafile.hash_value}  {url}")
    exit_for_failures(settings, failures)


def _lacking(error: MissingAttributeError, attribute: str, total: int) -> MissingAttributeError:
    """``order_by``'s error for the files lacking ``attribute``, of ``total``, said for
    ``ls``: their paths, and the ``--filter`` that keeps the others."""
    paths = sorted(str(getattr(item, "path", item)) for item in error.missing)
    named = ", ".join(paths[:5]) + (f", and {len(paths) - 5} more" if len(paths) > 5 else "")
    count = f"{len(paths)} of {total} files {'has' if len(paths) == 1 else 'have'}"
    if not error.keep:
        return MissingAttributeError(
            f"cannot order by {attribute!r}: {count} no attribute {attribute!r} ({named}): "
            "check its name (files have path, name, size, timestamp, labels and tags, ...)",
            missing=error.missing,
        )
    ((lookup, name),) = error.keep.items()
    where = lookup.removesuffix("__contains")
    what = f"tag {name!r}" if where == "tags" else f"key {name!r} in {where!r}"
    return MissingAttributeError(
        f"cannot order by {attribute!r}: {count} no {what} ({named}); keep the files that "
        f"have it first: --filter {shlex.quote(f'{lookup}={name}')}",
        missing=error.missing,
        keep=error.keep,
    )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
