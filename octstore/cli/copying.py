"""What the commands that copy files share (upload, download, cp, mv): where a file lands,
what a copy prints, and the exit code of a copy refused by a conflict."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from octstore.cli.exits import ExitCode, message_for
from octstore.cli.options import Settings, echo, echo_error, echo_json
from octstore.dataset.transfer import TransferReport
from octstore.errors import AlreadyExistsError, ConflictError, TransferError, UnsafePathError
from octstore.location import Location, relative_path, translate_errors

__all__ = [
    "CONFLICT_EXIT",
    "echo_report",
    "file_destination",
    "into_directory",
    "refusing_conflicts",
    "safe_name",
    "synced",
]

#: The exit code of a copy that a conflict stopped (DESIGN.md: 4 conflict).
CONFLICT_EXIT = ExitCode.CONFLICT


def file_destination(
    destination: str, source: str, name: str, options: dict[str, Any] | None
) -> Location:
    """Where the file ``source``, called ``name``, copied to ``destination`` goes: into it if
    it is a directory or prefix (or ends with a slash), else to it.

    Raises:
        UnsafePathError: If it goes into a directory and ``name`` would leave it (``..``).
    """
    location = Location(destination, options)
    if not into_directory(destination, options):
        return location
    return location.child(safe_name(name, source, "give a DESTINATION file name"))


def into_directory(destination: str, options: dict[str, Any] | None) -> bool:
    """Whether what is copied to ``destination`` goes into it: it ends with a slash, or is
    a directory or prefix already."""
    if destination.endswith(("/", os.sep)):
        return True
    location = Location(destination, options)
    if location.is_local:
        return os.path.isdir(location.url)
    with translate_errors(location.url, "looking at"):
        return bool(location.fs.isdir(location.fs_path))


def safe_name(name: str, source: str, fix: str) -> str:
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


def echo_report(report: TransferReport, as_json: bool) -> None:
    """Print what a copy did: a line of counts, and a line per file left or in conflict;
    or, ``as_json``, the report's public fields."""
    if as_json:
        fields = dataclasses.asdict(report).items()
        echo_json({name: value for name, value in fields if not name.startswith("_")})
        return
    echo(f"{report.destination}: {report}")
    for path in report.destination_changed:
        echo(f"  left, changed at the destination since the last sync: {path}")
    for path in report.conflicts:
        echo(f"  conflict, changed on both sides since the last sync: {path}")


@contextlib.contextmanager
def synced(
    as_json: bool, show: Callable[[TransferReport, bool], None] = echo_report
) -> Iterator[None]:
    """Around a sync of many files: when only conflicts kept files from being copied,
    ``show`` the report, say how to resolve them, and exit with 4; other failures
    propagate."""
    try:
        yield
    except TransferError as error:
        conflicts = [e for e in error.failures.values() if isinstance(e, ConflictError)]
        if not isinstance(error.report, TransferReport) or len(conflicts) < len(error.failures):
            raise
        show(error.report, as_json)
        echo(
            f"octstore: error: {len(conflicts)} files were not copied: each differs at the "
            "destination (changed on both sides since the last sync, or never synchronised): "
            "merge them, or run again with --overwrite to replace them with the source's "
            "version",
            err=True,
        )
        sys.exit(CONFLICT_EXIT)


@contextlib.contextmanager
def refusing_conflicts(settings: Settings) -> Iterator[None]:
    """Around the copy of one file: other content at its destination (without
    ``--overwrite``), or a change made there meanwhile, is a conflict: the error on one
    line, and exit code 4."""
    try:
        yield
    except (AlreadyExistsError, ConflictError) as error:
        echo_error(settings, error, message_for(error))
        sys.exit(CONFLICT_EXIT)
