"""The ``octstore`` command line.

This first version offers ``--version`` and ``hash``; the full command set (info, ls,
label, tag, upload, download, exec, dataset, cache, store, serve) grows with the library.
"""

from __future__ import annotations

import json
import sys

import click

from octstore.__about__ import __version__
from octstore.errors import OctstoreError
from octstore.hashing import crc32c_file


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="octstore")
def cli() -> None:
    """Any file, local or in the cloud, as one object."""


@cli.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of lines.")
def hash_command(paths: tuple[str, ...], as_json: bool) -> None:
    """Print the CRC32C (GCS's base64 encoding) of each local file in PATHS."""
    hashes = {path: crc32c_file(path) for path in paths}
    if as_json:
        click.echo(json.dumps(hashes, indent=2))
        return
    for path, value in hashes.items():
        click.echo(f"{value}  {path}")


def main() -> None:
    """Run the command line, turning an octstore error into one line and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except OctstoreError as error:
        click.echo(f"octstore: error: {error}", err=True)
        sys.exit(1)
