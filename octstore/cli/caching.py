"""The ``cache`` group: the local cache of remote content."""

from __future__ import annotations

import dataclasses

import click

from octstore import cache
from octstore.cli.arguments import parse_size
from octstore.cli.options import echo, echo_json, human_size, json_option
from octstore.cli.root import cli


@cli.group("cache")
def cache_group() -> None:
    """The local cache of remote content (OCTSTORE_CACHE_DIR)."""


@cache_group.command("info")
@json_option
def cache_info(as_json: bool) -> None:
    """Show where the cache is, what it holds and its size bound."""
    found = cache.info()
    if as_json:
        echo_json(dataclasses.asdict(found))
        return
    echo(f"root     {found.root}")
    echo(f"entries  {found.entries}")
    echo(f"size     {human_size(found.bytes)} of {human_size(found.max_bytes)}")


@cache_group.command("prune")
@click.option("--max-bytes", callback=parse_size, help="Prune to this size (default: the bound).")
@json_option
def cache_prune(max_bytes: int | None, as_json: bool) -> None:
    """Evict least recently used entries until the cache fits; files in use are kept."""
    _echo_prune(cache.prune(max_bytes), as_json)


@cache_group.command("clear")
@json_option
def cache_clear(as_json: bool) -> None:
    """Remove every entry that is not in use."""
    _echo_prune(cache.clear(), as_json)


def _echo_prune(report: cache.PruneReport, as_json: bool) -> None:
    if as_json:
        echo_json(dataclasses.asdict(report))
        return
    kept = f", kept {report.kept_in_use} in use" if report.kept_in_use else ""
    echo(f"removed {len(report.removed)} entries, freed {human_size(report.freed_bytes)}{kept}")
