"""The ``dataset`` group: datasets, the files under a directory or cloud prefix."""

from __future__ import annotations

import click

from octstore.cli.options import Settings, echo, echo_json, json_option
from octstore.cli.root import cli


@cli.group()
def dataset() -> None:
    """Datasets: the files under a directory or cloud prefix."""


@dataset.command("index")
@click.argument("url")
@click.option("--name", help="The dataset's name (default: the manifest's, or the last part).")
@json_option
@click.pass_obj
def dataset_index(settings: Settings, url: str, name: str | None, as_json: bool) -> None:
    """Write or refresh the manifest .octstore-dataset.json under URL.

    The next load of the dataset is then one listing plus one read of the manifest.
    """
    loaded = settings.dataset(url)
    if name is not None:
        loaded.name = name
    loaded.update_metadata()
    summary = {"path": loaded.path, "id": loaded.id, "name": loaded.name, "files": len(loaded)}
    if as_json:
        echo_json(summary)
    else:
        echo(f"{loaded.path}: indexed {len(loaded)} files")
