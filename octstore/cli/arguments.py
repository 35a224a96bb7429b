"""What the file arguments of a command stand for: glob patterns, files and folders.

Glob patterns go in every argument that takes many files: ``octstore info 's3://b/raw/*.csv'``.

``*``, ``?``, ``[...]`` and ``**`` (any depth) are matched by fsspec's own ``glob``, locally
and remotely alike, so a pattern means the same on every filesystem; octstore's metadata
files (sidecars, locks, leases, manifests) and its temp files never match. Quote a pattern
so that the shell leaves it to octstore: a remote one cannot be expanded by the shell, and
octstore expands a local one the same way.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from octstore.backends import backend_for
from octstore.cache import is_temporary_name
from octstore.errors import NotFoundError
from octstore.location import Location, translate_errors
from octstore.protocols import lookup

if TYPE_CHECKING:
    from octstore.cli.options import Settings
    from octstore.datafile import Datafile
    from octstore.dataset import Dataset

__all__ = ["expand", "file_or_dataset", "is_pattern", "pattern_root"]

#: What makes an argument a pattern.
_GLOB_CHARACTERS = frozenset("*?[")

#: The storage options for a URL.
OptionsFor = Callable[[str], "dict[str, Any] | None"]


def is_pattern(url: str) -> bool:
    """Whether ``url`` is a glob pattern: it has ``*``, ``?`` or ``[`` on a filesystem that
    can list (an ``http://`` URL's ``?`` starts its query)."""
    if not _GLOB_CHARACTERS & set(url):
        return False
    return lookup(Location(url).protocol).listable


def expand(urls: Sequence[str], options_for: OptionsFor, *, directories: bool = False) -> list[str]:
    """``urls`` with each glob pattern replaced by the paths or URLs it matches (sorted),
    each given once, in the order given; an argument that is no pattern is kept as it is.

    Args:
        urls: Paths, URLs and patterns, as the user typed them.
        options_for: The storage options of a URL.
        directories: Keep the directories (and prefixes) a pattern matches; else only files.

    Raises:
        NotFoundError: If a pattern matches nothing (a file named as the pattern is
            written, such as ``[ab].csv``, is taken as itself then).
    """
    expanded: dict[str, None] = {}
    for url in urls:
        for match in _matches(url, options_for(url), directories) if is_pattern(url) else [url]:
            expanded.setdefault(match)
    return list(expanded)


def _matches(pattern: str, options: dict[str, Any] | None, directories: bool) -> list[str]:
    location = Location(pattern, options)
    fs = location.fs
    with translate_errors(pattern, "matching"):
        fs.invalidate_cache()
        found: dict[str, dict[str, Any]] = fs.glob(location.fs_path, detail=True)
        matches = sorted(
            location.listed(path).url
            for path, info in found.items()
            if _wanted(location, path, info, directories)
        )
        if not matches and fs.exists(location.fs_path):  # a file with such a name
            matches = [location.url]
    if not matches:
        raise NotFoundError(
            f"nothing matches {pattern}: check the pattern (quote it, so that the shell "
            "leaves it to octstore; '*' matches within one folder, '**' across folders)"
        )
    return matches


def _wanted(location: Location, path: str, info: dict[str, Any], directories: bool) -> bool:
    """Whether a match is the user's: a file, or a directory if ``directories``; not one of
    octstore's metadata or temp files, nor inside one of its temp directories."""
    if info.get("type") != "file" and not (directories and info.get("type") == "directory"):
        return False
    parts = path.replace("\\", "/").split("/")
    if backend_for(location).is_metadata_file(parts[-1]):
        return False
    return not any(map(is_temporary_name, parts))


def pattern_root(pattern: str) -> tuple[str, bool]:
    """The directory or prefix above ``pattern``'s first glob character, and whether the
    pattern reaches below it (into subdirectories): one listing there finds every match."""
    location = Location(pattern)
    url = location.url
    first = min(url.index(character) for character in _GLOB_CHARACTERS if character in url)
    root = (os.path.dirname if location.is_local else posixpath.dirname)(url[:first])
    rest = url[len(root) :].lstrip("/\\")
    return root, "/" in rest or "\\" in rest or "**" in rest


def file_or_dataset(settings: Settings, url: str, *, recursive: bool = True) -> Datafile | Dataset:
    """The file at ``url``, or the files under it if it is a directory or prefix.

    Raises:
        NotFoundError: If there is neither.
    """
    location = Location(url)
    if location.is_local and os.path.isdir(location.url):
        return settings.dataset(url, recursive=recursive)
    try:
        return settings.existing_datafile(url)
    except NotFoundError:
        if location.is_local:
            raise
        dataset = settings.dataset(url, recursive=recursive)
        if not len(dataset):
            raise
        return dataset


def parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A size in bytes, from ``500MB``, ``2GiB`` or ``1000000``."""
    from pydantic import ByteSize, TypeAdapter, ValidationError

    if value is None:
        return None
    try:
        return int(TypeAdapter(ByteSize).validate_python(value))
    except ValidationError:
        raise click.BadParameter(
            f"{value!r} is not a size: write e.g. 500MB, 2GiB or 1000000", ctx, param
        ) from None


def parse_duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """A duration from ``90s``, ``30m``, ``1h``, ``7d`` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration: write e.g. 90s, 30m, 1h or 7d")
    unit = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})
