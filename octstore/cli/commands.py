"""The ``octstore`` command line: every capability at a prompt.

Commands take local paths and URLs alike (``s3://``, ``gs://``, ``memory://`` ...), reach the
cloud with each backend's own credentials (``AWS_*`` variables, Google application default
credentials) and ``-o KEY=VALUE`` storage options, print progress bars on stderr when it is a
terminal, and print JSON with ``--json``. Exit codes: 0 done, 1 failed, 2 wrong usage (an
unknown option, an invalid label or filter); errors are one line, with a traceback only
under ``--debug``. ``octstore exec`` exits with the program's own code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

import click
from fsspec.callbacks import Callback

from octstore import cache
from octstore.__about__ import __version__
from octstore.datafile import Datafile
from octstore.dataset import Dataset
from octstore.dataset.transfer import TransferReport, copy_one, fetch_all
from octstore.errors import (
    ConflictError,
    NotFoundError,
    OctstoreError,
    TransferError,
    UnsafePathError,
)
from octstore.filters import FilterSet
from octstore.hashing import crc32c_file
from octstore.location import Location, relative_path, translate_errors
from octstore.metadata import validate_label, validate_tag_name
from octstore.redaction import redact
from octstore.store import Store

__all__ = ["cli", "main"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d*)\}")
#: Signals a program run by ``exec`` handles itself, from the terminal, while octstore waits.
_PROGRAM_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGQUIT") if hasattr(signal, name)
)


# --- settings shared by every command ---------------------------------------------------------


@dataclass
class _Settings:
    """The global options, shared by every command through click's context object."""

    debug: bool = False
    quiet: bool = False
    storage_options: dict[str, Any] = field(default_factory=dict)

    def options_for(self, url: str) -> dict[str, Any] | None:
        """The storage options for ``url``: the ``-o`` ones, for remote URLs only."""
        return None if Location(url).is_local else dict(self.storage_options) or None

    def datafile(self, url: str) -> Datafile:
        """The datafile at ``url``; a local directory is refused, pointing at ``ls``."""
        location = Location(url)
        if location.is_local and os.path.isdir(location.url):
            raise OctstoreError(f"{url} is a directory: use 'octstore ls {url}' for its files")
        return Datafile(url, storage_options=self.options_for(url))

    def existing_datafile(self, url: str) -> Datafile:
        """The datafile at ``url``, or NotFoundError if there is no file there."""
        datafile = self.datafile(url)
        if not _exists(datafile):
            raise NotFoundError(f"there is no file at {datafile.path}: check the path or URL")
        return datafile

    def dataset(self, url: str, *, recursive: bool = True) -> Dataset:
        return Dataset(url, recursive=recursive, storage_options=self.options_for(url))

    @contextlib.contextmanager
    def progress(self, description: str) -> Iterator[Callback]:
        """An fsspec callback drawing a progress bar on stderr (none when it is no terminal)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        console = Console(stderr=True)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=self.quiet or not console.is_terminal,
        ) as progress:
            yield _ProgressCallback(progress, progress.add_task(description, total=None))

    @contextlib.contextmanager
    def activity(self, description: str) -> Iterator[None]:
        """A spinner on stderr while one file moves (none when it is no terminal)."""
        from rich.console import Console

        console = Console(stderr=True)
        if self.quiet or not console.is_terminal:
            yield
            return
        with console.status(description):
            yield


def _exists(datafile: Datafile) -> bool:
    """Whether the file exists, from the state its datafile read when it was made (or, if it
    found none, from one more look)."""
    try:
        datafile.size  # noqa: B018 - the state, read when the datafile was made
    except NotFoundError:
        return False
    return True


class _ProgressCallback(Callback):  # type: ignore[misc]  # fsspec is untyped
    """An fsspec callback that moves a rich progress bar: files done of files to do."""

    def __init__(self, progress: Any, task: Any) -> None:
        super().__init__()
        self._progress = progress
        self._task = task

    def call(self, *args: Any, **kwargs: Any) -> None:
        self._progress.update(self._task, total=self.size, completed=self.value)


# --- parameter types ------------------------------------------------------------------------


def _json_or_text(text: str) -> Any:
    """``text`` as a JSON value if it is one (``80``, ``true``, ``["a"]``), else as text.

    NaN and Infinity are text: they are not JSON values octstore can store.
    """

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        return text


def _labels(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[str]:
    """LABEL arguments, each checked before anything is read or written."""
    try:
        return [validate_label(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _assignments(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any]:
    """``KEY=VALUE`` arguments, each value JSON where it parses as JSON, text otherwise."""
    assigned: dict[str, Any] = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key:
            raise click.BadParameter(
                f"{value!r} is not NAME=VALUE: write e.g. site=north or height_m=80", ctx, param
            )
        assigned[key] = _json_or_text(text)
    return assigned


def _tags(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments whose keys are tag names."""
    tags = _assignments(ctx, param, values)
    try:
        return {validate_tag_name(key): value for key, value in tags.items()}
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
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


def _json_option(function: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def _echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print ``message`` (on stderr with ``err``), its credentials redacted: every line the
    command line prints goes through here."""
    click.echo(redact(message), err=err, nl=nl)


def _echo_json(value: Any) -> None:
    _echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _human_size(size: int) -> str:
    from pydantic import ByteSize

    return ByteSize(size).human_readable()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --- the commands ---------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="octstore")
@click.option(
    "-o",
    "--storage-option",
    "storage_options",
    multiple=True,
    callback=_assignments,
    metavar="KEY=VALUE",
    help="An fsspec storage option for remote URLs (e.g. -o endpoint_url=http://...).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_obj
def cli(settings: _Settings, storage_options: dict[str, Any], quiet: bool, debug: bool) -> None:
    """Any file, local or in the cloud, as one object: metadata, transfers and a cache.

    \b
    A tour on a local folder:
      octstore label add north.csv raw
      octstore tag set north.csv site=north height_m=80
      octstore ls . --filter labels__contains=raw --filter tags__height_m__gt=50
      octstore exec north.csv -- wc -l {}
    """
    settings.storage_options = storage_options
    settings.quiet = quiet
    settings.debug = debug


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@_json_option
@click.pass_obj
def info(settings: _Settings, urls: tuple[str, ...], as_json: bool) -> None:
    """Show each file's size, hash, id, labels, tags, timestamp and where its metadata is.

    No content is downloaded, except to hash a remote file whose backend does not know its
    CRC32C.
    """
    described = [_describe(settings.existing_datafile(url)) for url in urls]
    if as_json:
        _echo_json(described if len(urls) > 1 else described[0])
        return
    for number, record in enumerate(described):
        if number:
            _echo()
        _echo(f"path       {record['path']}")
        _echo(f"size       {record['size']} bytes ({_human_size(record['size'])})")
        _echo(f"hash       {record['hash_value']} (CRC32C)")
        stored = record["metadata_location"] is not None
        _echo(f"id         {record['id'] if stored else '- (none stored yet)'}")
        _echo(f"labels     {', '.join(record['labels']) or '-'}")
        tags = " ".join(f"{key}={_compact(value)}" for key, value in record["tags"].items())
        _echo(f"tags       {tags or '-'}")
        _echo(f"timestamp  {record['timestamp'] or '-'}")
        _echo(f"metadata   {record['metadata_location'] or 'none stored yet'}")


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


def _listed(datafile: Datafile) -> dict[str, Any]:
    metadata = datafile.metadata().model_dump(mode="json")
    return {"path": datafile.path, "name": datafile.name, "size": datafile.size, **metadata}


@cli.command("ls")
@click.argument("url", default=".")
@click.option("-r", "--recursive", is_flag=True, help="Include subdirectories.")
@click.option(
    "-f",
    "--filter",
    "lookups",
    multiple=True,
    callback=_assignments,
    metavar="LOOKUP=VALUE",
    help="Keep files matching a lookup, as in Python: labels__contains=raw, "
    "tags__site=north, size__gt=1000, timestamp__gte=2024-01-01. Repeat to combine.",
)
@click.option("--order-by", metavar="ATTRIBUTE", default="path", help="Sort by (default: path).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@click.option("-l", "--long", "long_format", is_flag=True, help="Show size, labels and tags.")
@_json_option
@click.pass_obj
def ls_command(
    settings: _Settings,
    url: str,
    recursive: bool,
    lookups: dict[str, Any],
    order_by: str,
    reverse: bool,
    long_format: bool,
    as_json: bool,
) -> None:
    """List the files under a directory or cloud prefix, filtered by their metadata.

    Values are JSON where they parse as JSON (80, true, ["a","b"]) and text otherwise; quote
    a number to compare it as text: tags__code='"042"'. One listing, no download.
    """
    location = Location(url)
    if location.is_local and os.path.isfile(location.url):
        files = FilterSet([settings.datafile(url)])
    else:
        files = settings.dataset(url, recursive=recursive).files
    selected = files.filter(**lookups).order_by(order_by, reverse)
    if as_json:
        _echo_json([_listed(datafile) for datafile in selected])
        return
    for datafile in selected:
        if not long_format:
            _echo(datafile.path)
            continue
        labels = ",".join(sorted(datafile.labels)) or "-"
        tags = _compact(dict(datafile.tags)) if datafile.tags else "-"
        _echo(f"{datafile.size:>12}  {labels}  {tags}  {datafile.path}")


def _edit_metadata(settings: _Settings, url: str, edit: Callable[[Datafile], object]) -> None:
    """Apply ``edit`` to the metadata of the file at ``url`` and store it, without content."""
    datafile = settings.existing_datafile(url)
    edit(datafile)
    datafile.update_metadata()


@cli.group()
def label() -> None:
    """Add or remove labels (metadata only: no content is transferred)."""


@label.command("add")
@click.argument("url")
@click.argument("labels", nargs=-1, required=True, callback=_labels)
@click.pass_obj
def label_add(settings: _Settings, url: str, labels: list[str]) -> None:
    """Add LABELS to the file at URL."""
    _edit_metadata(settings, url, lambda datafile: datafile.labels.update(labels))


@label.command("remove")
@click.argument("url")
@click.argument("labels", nargs=-1, required=True, callback=_labels)
@click.pass_obj
def label_remove(settings: _Settings, url: str, labels: list[str]) -> None:
    """Remove LABELS from the file at URL (labels it does not have are ignored)."""
    _edit_metadata(settings, url, lambda datafile: datafile.labels.difference_update(labels))


@cli.group()
def tag() -> None:
    """Set or unset tags (metadata only: no content is transferred)."""


@tag.command("set")
@click.argument("url")
@click.argument("tags", nargs=-1, required=True, callback=_tags)
@click.pass_obj
def tag_set(settings: _Settings, url: str, tags: dict[str, Any]) -> None:
    """Set tags KEY=VALUE on the file at URL.

    A value is JSON where it parses as JSON (80, 4.5, true, null, ["a"], {"k": 1}) and text
    otherwise (north); quote it to keep a number as text: code='"042"'.
    """
    _edit_metadata(settings, url, lambda datafile: datafile.tags.update(tags))


@tag.command("unset")
@click.argument("url")
@click.argument("keys", nargs=-1, required=True)
@click.pass_obj
def tag_unset(settings: _Settings, url: str, keys: tuple[str, ...]) -> None:
    """Remove the tags KEYS from the file at URL (keys it does not have are ignored)."""

    def unset(datafile: Datafile) -> None:
        for key in keys:
            datafile.tags.pop(key, None)

    _edit_metadata(settings, url, unset)


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option("--overwrite", is_flag=True, help="Replace a file there with other content.")
@_json_option
@click.pass_obj
def upload(
    settings: _Settings, source: str, destination: str, overwrite: bool, as_json: bool
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
        with settings.progress(f"uploading {dataset.name}") as callback, _synced(as_json):
            report = dataset.upload(
                destination,
                overwrite=overwrite,
                callback=callback,
                storage_options=settings.options_for(destination),
            )
        _echo_report(report, as_json)
        return
    datafile = settings.existing_datafile(source)
    target = _file_destination(
        destination, datafile.path, datafile.name, settings.options_for(destination)
    )
    with settings.activity(f"uploading {datafile.name} ({_human_size(datafile.size)})"):
        _echo_report(copy_one(datafile, target, overwrite=overwrite), as_json)


@cli.command()
@click.argument("url")
@click.argument("destination", required=False)
@click.option("--overwrite", is_flag=True, help="Replace a local file with other content.")
@_json_option
@click.pass_obj
def download(
    settings: _Settings, url: str, destination: str | None, overwrite: bool, as_json: bool
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
        if _exists(datafile):
            target = _file_destination(destination or ".", datafile.path, datafile.name, None)
            with settings.activity(f"downloading {datafile.name} ({_human_size(datafile.size)})"):
                report = copy_one(datafile, target, overwrite=overwrite)
            _echo_report(report, as_json)
            return
        if location.is_local:
            raise NotFoundError(f"there is no file or directory {location.url}: check the path")
    dataset = settings.dataset(url)
    if not len(dataset):
        raise NotFoundError(f"there is no file or dataset at {url}: check the URL")
    # The URL's own last part, not the dataset's name, which a manifest sets: a path there
    # could lead anywhere. A last part that is no safe folder name ("~", "..") is refused.
    default = _safe_name(location.name, url, "give a DESTINATION folder") if location.name else "."
    with settings.progress(f"downloading {dataset.name}") as callback, _synced(as_json):
        report = dataset.download(destination or default, overwrite=overwrite, callback=callback)
    _echo_report(report, as_json)


def _file_destination(
    destination: str, source: str, name: str, options: dict[str, Any] | None
) -> Location:
    """Where the file ``source``, called ``name``, copied to ``destination`` goes: into it if
    it is a directory or prefix (or ends with a slash), else to it.

    Raises:
        UnsafePathError: If it goes into a directory and ``name`` would leave it (``..``).
    """
    location = Location(destination, options)
    if destination.endswith(("/", os.sep)):
        return location.child(_safe_name(name, source, "give a DESTINATION file name"))
    if location.is_local:
        is_directory = os.path.isdir(location.url)
    else:
        with translate_errors(location.url, "looking at"):
            is_directory = location.fs.isdir(location.fs_path)
    if not is_directory:
        return location
    return location.child(_safe_name(name, source, "give a DESTINATION file name"))


def _safe_name(name: str, source: str, fix: str) -> str:
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


def _echo_report(report: TransferReport, as_json: bool) -> None:
    if as_json:
        _echo_json(dataclasses.asdict(report))
        return
    _echo(f"{report.destination}: {report}")
    for path in report.destination_changed:
        _echo(f"  left, changed at the destination since the last sync: {path}")
    for path in report.conflicts:
        _echo(f"  conflict, changed on both sides since the last sync: {path}")


#: The exit code of a sync that left conflicts (DESIGN.md: 4 conflict).
_CONFLICT_EXIT = 4


@contextlib.contextmanager
def _synced(as_json: bool) -> Iterator[None]:
    """Around a dataset sync: when only conflicts kept files from being copied, print the
    report, say how to resolve them, and exit with 4; other failures propagate."""
    try:
        yield
    except TransferError as error:
        conflicts = [e for e in error.failures.values() if isinstance(e, ConflictError)]
        if not isinstance(error.report, TransferReport) or len(conflicts) < len(error.failures):
            raise
        _echo_report(error.report, as_json)
        _echo(
            f"octstore: error: {len(conflicts)} files changed on both sides since the last "
            "sync and were not copied: merge them, or run again with --overwrite to replace "
            "them with the source's version",
            err=True,
        )
        sys.exit(_CONFLICT_EXIT)


@cli.command("hash")
@click.argument("urls", nargs=-1, required=True)
@_json_option
@click.pass_obj
def hash_command(settings: _Settings, urls: tuple[str, ...], as_json: bool) -> None:
    """Print the CRC32C (GCS's base64 encoding) of each file, local or remote.

    A remote file's hash comes from its backend when it knows it, with no download.
    """
    hashes = {url: settings.existing_datafile(url).hash_value for url in urls}
    if as_json:
        _echo_json(hashes)
        return
    for url, value in hashes.items():
        _echo(f"{value}  {url}")


class _ExecCommand(click.Command):
    """A command whose arguments after ``--`` are a program to run, kept apart from the URLs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            split = args.index("--")
            ctx.meta["octstore.program"] = args[split + 1 :]
            args = args[:split]
        return super().parse_args(ctx, args)


@cli.command("exec", cls=_ExecCommand)
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "--write",
    is_flag=True,
    help="Give the program writable copies, and write back each file it changed, atomically "
    "and only if nobody changed it meanwhile. Files that do not exist yet may be created.",
)
@click.option("--each", is_flag=True, help="Run the program once per file, {} being that file.")
@click.pass_context
def exec_command(ctx: click.Context, urls: tuple[str, ...], write: bool, each: bool) -> int:
    """Run a program on the local paths of files, local or remote: URL... -- CMD ARGS.

    In CMD ARGS, {} stands for every file's local path and {0}, {1} ... for one each, {{
    and }} for braces; with no placeholder the paths are appended. Remote files are
    downloaded (once, into the cache) only when they are not cached already. Exits with
    the program's exit code.

    \b
    octstore exec s3://bucket/readings.csv -- wc -l {}
    octstore exec --write gs://bucket/in.csv gs://bucket/out.csv -- sort {0} -o {1}
    """
    settings: _Settings = ctx.obj
    program: list[str] = ctx.meta.get("octstore.program", [])
    if not program:
        raise click.UsageError(
            "give the program to run after --: octstore exec URL... -- CMD {}", ctx
        )
    groups = [[url] for url in urls] if each else [list(urls)]
    for group in groups:
        _substitute(program, [f"<{url}>" for url in group])  # a usage error before any transfer
    for group in groups:
        datafiles = [
            settings.datafile(url) if write else settings.existing_datafile(url) for url in group
        ]
        code = _run_writing(datafiles, program) if write else _run(settings, datafiles, program)
        if code:
            return code
    return 0


def _substitute(program: Sequence[str], paths: Sequence[str]) -> list[str]:
    """``program`` with ``{}`` as every path and ``{N}`` as path N, ``{{`` and ``}}`` as
    braces; the paths appended if no placeholder is used."""
    used = False

    def replace(match: re.Match[str]) -> str:
        nonlocal used
        if match[0] in ("{{", "}}"):
            return match[0][0]
        used = True
        if not match[1]:
            if len(paths) > 1:
                raise click.UsageError(
                    f"{{}} inside {match.string!r} stands for {len(paths)} files: write {{}} "
                    "alone, or {0}, {1} ... for one file each ({{ and }} for braces)"
                )
            return paths[0]
        index = int(match[1])
        if index >= len(paths):
            raise click.UsageError(
                f"{{{index}}} names file {index}, but there are {len(paths)} (from {{0}}; "
                "write {{ and }} for braces)"
            )
        return paths[index]

    argv: list[str] = []
    for argument in program:
        if argument == "{}":
            used = True
            argv.extend(paths)
        else:
            argv.append(_PLACEHOLDER.sub(replace, argument))
    return argv if used else [*argv, *paths]


def _run(settings: _Settings, datafiles: list[Datafile], program: list[str]) -> int:
    remote = [datafile for datafile in datafiles if datafile.cloud_path is not None]
    if remote:
        with settings.progress("downloading") as callback:
            fetch_all(remote, callback=callback)
    return _call(_substitute(program, [datafile.local_path for datafile in datafiles]))


def _call(argv: list[str]) -> int:
    """Run ``argv``; its exit code, or 128 + N if signal N killed it, as shells say.

    While it runs, Ctrl-C and Ctrl-\\ are the program's to handle (the terminal sends them
    to it too): octstore waits for its verdict. If octstore itself is stopped, so is it.
    """
    try:
        process = subprocess.Popen(argv)
    except (FileNotFoundError, PermissionError) as error:
        _echo(f"octstore: error: cannot run {argv[0]!r}: {error.strerror}", err=True)
        return 127 if isinstance(error, FileNotFoundError) else 126
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in _PROGRAM_SIGNALS}
    try:
        code = process.wait()
    except BaseException:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return code if code >= 0 else 128 - code


class _Unchanged(Exception):
    """Raised into a write block to leave the file as it was."""


class _WritableCopy:
    """A datafile opened for writing, with a copy under its own name for a program to edit.

    The copy is linked (or copied) from the datafile's temporary file, in a temporary
    directory beside it (which listings skip); ``finish`` moves the program's result into
    the temporary file, and the datafile's own write-back stores it, with its
    preconditions, only if the program changed it. A new file the program did not write is
    not created; a file it deleted is left as it was.
    """

    def __init__(self, datafile: Datafile) -> None:
        self.datafile = datafile
        self._new = not _exists(datafile)
        self._context = datafile.open("wb" if self._new else "r+b")
        self._file: IO[bytes] = self._context.__enter__()
        self._temporary = self._file.name
        self._directory = tempfile.mkdtemp(
            prefix=f".{datafile.name}.", suffix=".tmp", dir=os.path.dirname(self._temporary)
        )
        self.path = os.path.join(self._directory, datafile.name)
        try:
            os.link(self._temporary, self.path)
        except OSError:
            shutil.copyfile(self._temporary, self.path)
        self._before = self._fingerprint()

    def _fingerprint(self) -> object:
        """What tells whether the program changed the copy: the content, or for a file that
        did not exist, whether anything was written at all."""
        if not os.path.exists(self.path):
            return None
        if self._new:
            stat = os.stat(self.path)
            return stat.st_ino, stat.st_mtime_ns, stat.st_size
        return crc32c_file(self.path)

    def finish(self, keep: bool) -> bool:
        """Write the program's result back if ``keep`` and it changed; else leave the file.

        Returns:
            Whether the file was written.

        Raises:
            NotWrittenError: If it could not be written; the error says where it was kept.
        """
        try:
            self._file.close()
            after = self._fingerprint()
            if keep and after is not None and after != self._before:
                if not os.path.samefile(self.path, self._temporary):
                    os.replace(self.path, self._temporary)
                self._context.__exit__(None, None, None)
                return True
            self._context.__exit__(_Unchanged, _Unchanged(), None)
            return False
        finally:
            shutil.rmtree(self._directory, ignore_errors=True)


def _run_writing(datafiles: list[Datafile], program: list[str]) -> int:
    """Run the program on writable copies, then write back what it changed, file by file.

    A failed write-back does not stop the others; when any fails, a line per file says what
    became of it.
    """
    copies: list[_WritableCopy] = []
    code = 1
    outcomes: list[tuple[str, str]] = []
    try:
        for datafile in datafiles:
            copies.append(_WritableCopy(datafile))
        code = _call(_substitute(program, [copy.path for copy in copies]))
    finally:
        stop: BaseException | None = None
        for copy in copies:
            try:
                written = copy.finish(keep=code == 0 and stop is None)
                outcomes.append((copy.datafile.path, "written" if written else "not changed"))
            except Exception as error:
                outcomes.append((copy.datafile.path, f"not written: {error}"))
            except BaseException as error:  # an interrupt: leave the rest as they were
                stop = error
                outcomes.append((copy.datafile.path, "interrupted while it was written"))
        if stop is not None:
            raise stop
    if code:
        _echo(f"octstore: {program[0]} exited with {code}: no file was written", err=True)
        return code
    if any(outcome.startswith("not written") for _, outcome in outcomes):
        for path, outcome in outcomes:
            _echo(f"octstore: {path}: {outcome}", err=True)
        return 1
    return 0


@cli.group()
def dataset() -> None:
    """Datasets: the files under a directory or cloud prefix."""


@dataset.command("index")
@click.argument("url")
@click.option("--name", help="The dataset's name (default: the manifest's, or the last part).")
@_json_option
@click.pass_obj
def dataset_index(settings: _Settings, url: str, name: str | None, as_json: bool) -> None:
    """Write or refresh the manifest .octstore-dataset.json under URL.

    The next load of the dataset is then one listing plus one read of the manifest.
    """
    loaded = settings.dataset(url)
    if name is not None:
        loaded.name = name
    loaded.update_metadata()
    summary = {"path": loaded.path, "id": loaded.id, "name": loaded.name, "files": len(loaded)}
    if as_json:
        _echo_json(summary)
    else:
        _echo(f"{loaded.path}: indexed {len(loaded)} files")


@cli.group("cache")
def cache_group() -> None:
    """The local cache of remote content (OCTSTORE_CACHE_DIR)."""


@cache_group.command("info")
@_json_option
def cache_info(as_json: bool) -> None:
    """Show where the cache is, what it holds and its size bound."""
    found = cache.info()
    if as_json:
        _echo_json(dataclasses.asdict(found))
        return
    _echo(f"root     {found.root}")
    _echo(f"entries  {found.entries}")
    _echo(f"size     {_human_size(found.bytes)} of {_human_size(found.max_bytes)}")


@cache_group.command("prune")
@click.option("--max-bytes", callback=_size, help="Prune to this size (default: the bound).")
@_json_option
def cache_prune(max_bytes: int | None, as_json: bool) -> None:
    """Evict least recently used entries until the cache fits; files in use are kept."""
    _echo_prune(cache.prune(max_bytes), as_json)


@cache_group.command("clear")
@_json_option
def cache_clear(as_json: bool) -> None:
    """Remove every entry that is not in use."""
    _echo_prune(cache.clear(), as_json)


def _echo_prune(report: cache.PruneReport, as_json: bool) -> None:
    if as_json:
        _echo_json(dataclasses.asdict(report))
        return
    kept = f", kept {report.kept_in_use} in use" if report.kept_in_use else ""
    _echo(f"removed {len(report.removed)} entries, freed {_human_size(report.freed_bytes)}{kept}")


# --- the attachment store ---------------------------------------------------------------------


def _store(settings: _Settings, name: str) -> Store:
    """The store configured as ``name``, or at the URL ``name``, with ``-o`` options on top."""
    from octstore import config

    resolved = config.load().store(name)
    options = {**resolved.to_storage_options(), **(settings.options_for(resolved.url) or {})}
    return Store(resolved.url, options or None)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """A duration from ``90s``, ``30m``, ``1h``, ``7d`` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration: write e.g. 90s, 30m, 1h or 7d")
    unit = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})


@cli.group("store")
def store_group() -> None:
    """Attachments kept once per content, addressed by SHA-256 handles.

    STORE is a store's name in the configuration (OCTSTORE_CONFIG, OCTSTORE_* variables) or
    a directory or URL.
    """


@store_group.command("add")
@click.argument("store")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", help="The file name to keep (default: each file's own; '-' needs it).")
@_json_option
@click.pass_obj
def store_add(
    settings: _Settings, store: str, paths: tuple[str, ...], name: str | None, as_json: bool
) -> None:
    """Add local files (or '-' for standard input) to STORE; print a handle for each.

    Content already in the store is not transferred again.
    """
    target = _store(settings, store)
    if name is not None and len(paths) > 1:
        raise click.UsageError("--name names one file: give one PATH with it")
    added = []
    with settings.progress("adding") as callback:
        callback.set_size(len(paths))
        for path in paths:
            if path == "-":
                if name is None:
                    raise click.UsageError("give --name for content from standard input")
                handle = target.add(name, sys.stdin.buffer)
            else:
                handle = target.add(name or os.path.basename(path), path)
            added.append({"path": path, "handle": handle})
            callback.relative_update(1)
    if as_json:
        _echo_json(added)
        return
    for item in added:
        _echo(item["handle"])


@store_group.command("fetch")
@click.argument("store")
@click.argument("handle")
@click.argument("destination", default=".")
@click.option("--overwrite", is_flag=True, help="Replace a local file with other content.")
@click.pass_obj
def store_fetch(
    settings: _Settings, store: str, handle: str, destination: str, overwrite: bool
) -> None:
    """Download HANDLE's content into DESTINATION (a directory, or a file path); print where.

    Identical content already there is left as it is.
    """
    target = _store(settings, store)
    if destination.endswith(("/", os.sep)):
        os.makedirs(destination, exist_ok=True)
    with settings.activity(f"fetching {handle}"):
        _echo(target.fetch(handle, destination, overwrite=overwrite))


@store_group.command("list")
@click.argument("store")
@_json_option
@click.pass_obj
def store_list(settings: _Settings, store: str, as_json: bool) -> None:
    """List every stored content: its SHA-256, size, when it was stored, and its names."""
    stored = _store(settings, store).list()
    if as_json:
        _echo_json([item.to_dict() for item in stored])
        return
    for item in stored:
        created = item.created.isoformat(timespec="seconds") if item.created else "-"
        _echo(f"{item.sha256}  {item.size:>12}  {created}  {', '.join(item.names)}")


@store_group.command("gc")
@click.argument("store")
@click.option(
    "--referenced",
    type=click.File("r"),
    required=True,
    help="A file of the handles still in use, one a line ('-': standard input).",
)
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    callback=_duration,
    help="Keep content added more recently than this (90s, 30m, 1h, 7d).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@_json_option
@click.pass_obj
def store_gc(
    settings: _Settings,
    store: str,
    referenced: IO[str],
    grace: timedelta,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete the content no referenced handle names and nobody added within --grace.

    Safe while others add to the store: content added during the collection is kept.
    """
    handles = {line.strip() for line in referenced if line.strip()}
    report = _store(settings, store).gc(handles, grace, dry_run=dry_run)
    if as_json:
        _echo_json(report.to_dict())
    else:
        _echo(str(report))


@cli.command()
@click.argument("store")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, help="The port (0: any free one).")
@click.option(
    "--max-upload-bytes",
    callback=_size,
    help="The largest upload accepted (default: octstore.http's limit).",
)
@click.option("--read-only", is_flag=True, help="Refuse uploads.")
@click.pass_obj
def serve(
    settings: _Settings,
    store: str,
    host: str,
    port: int,
    max_upload_bytes: int | None,
    read_only: bool,
) -> None:
    """Serve STORE over HTTP: GET /<handle> (ranges, conditional requests) and POST /.

    This is werkzeug's development server; in production run octstore.http.make_app under
    a WSGI server such as gunicorn.
    """
    from octstore import http

    options: dict[str, Any] = {"read_only": read_only}
    if max_upload_bytes is not None:
        options["max_upload_bytes"] = max_upload_bytes
    http.serve(_store(settings, store), host, port, **options)


# --- running ----------------------------------------------------------------------------------


def _format_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return redact(f"octstore: warning: {message}\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line: one line on stderr and a non-zero exit code for any error."""
    settings = _Settings()
    warnings.formatwarning = _format_warning
    for name in ("SIGTERM", "SIGHUP"):  # clean up as for Ctrl-C: temp files, programs
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="octstore",
            standalone_mode=False,
            obj=settings,
        )
    except (click.exceptions.Abort, KeyboardInterrupt):
        _echo("octstore: interrupted", err=True)
        sys.exit(130)
    except _NO_ARGS_IS_HELP as error:  # a group with no command: its help, as typed
        _echo(error.format_message(), err=True)
        sys.exit(2)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "octstore"
        _fail(settings, error, exit_code=2, suffix=f" (see '{command} --help')")
    except click.ClickException as error:
        _fail(settings, error, exit_code=error.exit_code)
    except OctstoreError as error:
        _fail(settings, error, exit_code=2 if isinstance(error, ValueError) else 1)
    except BrokenPipeError:
        # The reader went away (``octstore ls | head``): say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as error:
        _fail(settings, error, exit_code=1, unexpected=True)
    sys.exit(code if isinstance(code, int) else 0)


#: A group run with no command, which shows its help (click 8.2 and later).
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)])
)


def _exit_on_signal(number: int, frame: object) -> None:
    raise SystemExit(128 + number)


def _fail(
    settings: _Settings,
    error: BaseException,
    *,
    exit_code: int,
    unexpected: bool = False,
    suffix: str = "",
) -> None:
    """Print ``error`` on one line (and its traceback under ``--debug``), and exit."""
    if settings.debug:
        _echo("".join(traceback.format_exception(error)), err=True, nl=False)
    text = error.format_message() if isinstance(error, click.ClickException) else str(error)
    message = " ".join(text.split()) + suffix
    if unexpected:
        message = f"{type(error).__name__}: {message}"
        if not settings.debug:
            message += " (run with --debug for the traceback)"
    _echo(f"octstore: error: {message}", err=True)
    sys.exit(exit_code)
