"""``label`` and ``tag``: change the metadata of one file, or of many at once (no content moves).

``octstore label add URL LABEL...`` changes one file. ``octstore label add URL... -- LABEL...``
changes several; a directory or prefix among the URLs stands for the files in it (``-r``: in
its subdirectories too), a glob pattern for the files and folders it matches, and ``--filter``
keeps those matching, as for ``ls``. Many files are
stored concurrently by ``Dataset.update_metadata()``, which also refreshes the manifest of a
directory or prefix given.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import click

from octstore.cli.arguments import file_or_dataset
from octstore.cli.files import metadata_record
from octstore.cli.options import (
    Settings,
    echo,
    echo_json,
    filter_option,
    json_option,
    parse_labels,
    parse_tags,
)
from octstore.cli.root import cli
from octstore.datafile import Datafile
from octstore.dataset import Dataset

Edit = Callable[[Datafile], object]


class _ManyFilesCommand(click.Command):
    """A command whose arguments are ``URL VALUE...``, or ``URL... -- VALUE...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            split = args.index("--")
            ctx.meta["octstore.values"] = args[split + 1 :]
            args = args[:split]
        return super().parse_args(ctx, args)


def _many_files_command(group: click.Group, name: str, metavar: str) -> Callable[[Any], Any]:
    """Decorate a ``(settings, urls, values, recursive, lookups)`` function as ``name`` in
    ``group``, taking ``URL VALUE...`` or ``URL... -- VALUE...``."""

    def decorate(function: Any) -> Any:
        @group.command(name, cls=_ManyFilesCommand, help=inspect.cleandoc(function.__doc__))
        @click.argument("arguments", nargs=-1, required=True, metavar=f"URL... [--] {metavar}...")
        @click.option("-r", "--recursive", is_flag=True, help="Include subdirectories.")
        @filter_option
        @json_option
        @click.pass_context
        def command(
            ctx: click.Context,
            arguments: tuple[str, ...],
            recursive: bool,
            lookups: dict[str, Any],
            as_json: bool,  # in the settings too, where _edit_files reads it
        ) -> None:
            if "octstore.values" in ctx.meta:
                urls, values = list(arguments), list(ctx.meta["octstore.values"])
            else:
                urls, values = list(arguments[:1]), list(arguments[1:])
            if not urls or not values:
                raise click.UsageError(f"give a URL and {metavar}, or URL... -- {metavar}...")
            function(ctx, urls, values, recursive, lookups)

        return command

    return decorate


def _edit_files(
    settings: Settings, urls: Sequence[str], recursive: bool, lookups: dict[str, Any], edit: Edit
) -> None:
    """Apply ``edit`` to the metadata of the files ``urls`` stand for and store it, without
    content: one file as ``Datafile.update_metadata()`` does, many with one
    ``Dataset.update_metadata()`` per directory or prefix (and one for the single files).

    Many files are summed up in a line per directory or prefix; under ``--json``, a list of
    every file edited, with its metadata after the edit, is printed instead.
    """
    files: list[Datafile] = []
    datasets: list[Dataset] = []
    for url in settings.expand(urls, directories=True):
        found = file_or_dataset(settings, url, recursive=recursive)
        if isinstance(found, Dataset):
            datasets.append(found)
        else:
            files.append(found)
    if len(files) == 1 and not datasets and not lookups:  # one file, as it always was
        edit(files[0])
        files[0].update_metadata()
        if settings.as_json:
            echo_json([metadata_record(files[0])])
        return
    if files:
        datasets.append(Dataset(files=files))
    edited: list[Datafile] = []
    for dataset in datasets:
        selected = list(dataset.files.filter(**lookups))
        for datafile in selected:
            edit(datafile)
        with settings.progress("storing metadata") as callback:
            report = dataset.update_metadata(selected, callback=callback)
        edited += selected
        if not settings.as_json:
            echo(
                f"{dataset.path or 'files'}: {len(report.metadata_updated)} updated, "
                f"{len(report.skipped)} unchanged"
            )
    if settings.as_json:
        edited.sort(key=lambda datafile: datafile.path)
        echo_json([metadata_record(datafile) for datafile in edited])


@cli.group()
def label() -> None:
    """Add or remove labels (metadata only: no content is transferred)."""


@_many_files_command(label, "add", "LABEL")
def label_add(
    ctx: click.Context, urls: list[str], values: list[str], recursive: bool, lookups: dict[str, Any]
) -> None:
    """Add LABELs to the file at URL, or to every file of several URLs (give -- before the
    labels), directories and prefixes included (-r: with subdirectories; --filter: only the
    files matching, as for ls)."""
    labels = parse_labels(ctx, None, values)  # type: ignore[arg-type]
    _edit_files(ctx.obj, urls, recursive, lookups, lambda datafile: datafile.labels.update(labels))


@_many_files_command(label, "remove", "LABEL")
def label_remove(
    ctx: click.Context, urls: list[str], values: list[str], recursive: bool, lookups: dict[str, Any]
) -> None:
    """Remove LABELs from the file at URL, or from many as for 'label add' (labels a file
    does not have are ignored)."""
    labels = parse_labels(ctx, None, values)  # type: ignore[arg-type]

    def remove(datafile: Datafile) -> None:
        datafile.labels.difference_update(labels)

    _edit_files(ctx.obj, urls, recursive, lookups, remove)


@cli.group()
def tag() -> None:
    """Set or unset tags (metadata only: no content is transferred)."""


@_many_files_command(tag, "set", "KEY=VALUE")
def tag_set(
    ctx: click.Context, urls: list[str], values: list[str], recursive: bool, lookups: dict[str, Any]
) -> None:
    """Set tags KEY=VALUE on the file at URL, or on many as for 'label add'.

    A value is JSON where it parses as JSON (80, 4.5, true, null, ["a"], {"k": 1}) and text
    otherwise (north); quote it to keep a number as text: code='"042"'.
    """
    tags = parse_tags(ctx, None, values)  # type: ignore[arg-type]
    _edit_files(ctx.obj, urls, recursive, lookups, lambda datafile: datafile.tags.update(tags))


@_many_files_command(tag, "unset", "KEY")
def tag_unset(
    ctx: click.Context, urls: list[str], values: list[str], recursive: bool, lookups: dict[str, Any]
) -> None:
    """Remove the tags KEYs from the file at URL, or from many as for 'label add' (keys a
    file does not have are ignored)."""

    def unset(datafile: Datafile) -> None:
        for key in values:
            datafile.tags.pop(key, None)

    _edit_files(ctx.obj, urls, recursive, lookups, unset)
