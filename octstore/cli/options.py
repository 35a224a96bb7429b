"""What every command shares: the global settings, option parsers and printing."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from fsspec.callbacks import Callback

from octstore.cli import arguments
from octstore.cli.exits import exit_code, message_for
from octstore.cli.progress import bar as progress_bar
from octstore.cli.progress import spinner
from octstore.datafile import Datafile
from octstore.dataset import Dataset
from octstore.errors import NotFoundError, OctstoreError, OctstoreWarning
from octstore.location import Location
from octstore.metadata import validate_label, validate_tag_name
from octstore.protocols import lookup
from octstore.redaction import RedactingFilter, get_logger, redact

# --- settings shared by every command ---------------------------------------------------------


@dataclass
class Settings:
    """The global options, shared by every command through click's context object."""

    debug: bool = False
    quiet: bool = False
    verbosity: int = 0
    as_json: bool = False
    storage_options: dict[str, Any] = field(default_factory=dict)
    _log_handler: logging.Handler | None = field(default=None, repr=False)

    def show_log(self) -> None:
        """Print the ``octstore`` logger's records on stderr: INFO and up at verbosity 1,
        DEBUG and up at 2 or more; nothing more at 0. Records stay redacted: each octstore
        logger's filter redacts them, and the handler's redacts again."""
        if not self.verbosity:
            return
        logger = get_logger("octstore")
        if self._log_handler is None:
            self._log_handler = logging.StreamHandler(sys.stderr)
            self._log_handler.setFormatter(
                logging.Formatter("octstore: %(levelname)s: %(name)s: %(message)s")
            )
            self._log_handler.addFilter(RedactingFilter())
            logger.addHandler(self._log_handler)
        logger.setLevel(logging.INFO if self.verbosity == 1 else logging.DEBUG)

    def hide_log(self) -> None:
        """Undo :meth:`show_log`, when the command is over."""
        if self._log_handler is not None:
            logger = get_logger("octstore")
            logger.removeHandler(self._log_handler)
            logger.setLevel(logging.NOTSET)
            self._log_handler = None

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
        """The datafile at ``url``, or NotFoundError if there is no file there (saying so
        of its bucket, if that is what is missing)."""
        datafile = self.datafile(url)
        if not exists(datafile):
            location = Location(datafile.path, self.options_for(url))
            buckets = lookup(location.protocol).buckets
            missing = buckets.look_for(location.fs, location.url) if buckets else None
            raise missing or NotFoundError(
                f"there is no file at {datafile.path}: check the path or URL"
            )
        return datafile

    def existing_datafiles(
        self, urls: Sequence[str]
    ) -> tuple[dict[str, Datafile], list[OctstoreError]]:
        """The datafiles at those of ``urls`` that exist, by URL as given (a pattern's by
        each URL it matches), and an error for each of the others (missing, a directory, out
        of reach, a pattern matching nothing): a command shows the first and then reports
        the second with :func:`exit_for_failures`."""
        found: dict[str, Datafile] = {}
        failures: list[OctstoreError] = []
        for url in urls:
            try:
                for match in self.expand([url]):  # a pattern: what it matches
                    found[match] = self.existing_datafile(match)
            except OctstoreError as error:
                failures.append(error)
        return found, failures

    def expand(self, urls: Sequence[str], *, directories: bool = False) -> list[str]:
        """``urls`` with each glob pattern replaced by the files (and ``directories``) it
        matches; see :func:`octstore.cli.arguments.expand`."""
        return arguments.expand(urls, self.options_for, directories=directories)

    def dataset(self, url: str, *, recursive: bool = True) -> Dataset:
        """The dataset at ``url``; NotFoundError for a local directory that does not exist
        (the Python API's empty dataset there would make a typo look like an empty folder).
        The API's warning that a dataset is empty is not shown: each command says so its
        own way (``ls`` lists nothing, ``download`` finds nothing)."""
        location = Location(url)
        if location.is_local and not os.path.isdir(location.url):
            raise NotFoundError(f"there is no directory at {location.url}: check the path")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "the dataset at .* is empty", OctstoreWarning)
            return Dataset(url, recursive=recursive, storage_options=self.options_for(url))

    def progress(
        self, description: str, *, in_bytes: bool = False
    ) -> contextlib.AbstractContextManager[Callback]:
        """An fsspec callback drawing a progress bar on stderr while the block runs, of files
        or ``in_bytes`` of bytes; nothing drawn with -q or off a terminal, and the bar erased
        before the block ends (see :mod:`octstore.cli.progress`)."""
        return progress_bar(description, in_bytes=in_bytes, quiet=self.quiet)

    def activity(self, description: str) -> contextlib.AbstractContextManager[None]:
        """A spinner on stderr while the block runs, for work with no bytes or files to
        count; as :meth:`progress`, none with -q or off a terminal, and erased at the end."""
        return spinner(description, quiet=self.quiet)


def exists(datafile: Datafile) -> bool:
    """Whether the file exists, from the state its datafile read when it was made (or, if it
    found none, from one more look)."""
    try:
        datafile.size  # noqa: B018 - the state, read when the datafile was made
    except NotFoundError:
        return False
    return True


# --- the global options ---------------------------------------------------------------------


def global_options() -> list[click.Parameter]:
    """The options every group and command takes, so that they go anywhere on the line
    (``octstore -q ls DIR`` or ``octstore ls DIR -q``): each merges into the Settings."""
    return [
        click.Option(
            ["-o", "--storage-option", "storage_options"],
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=_merge_storage_options,
            help="An fsspec storage option for remote URLs (e.g. -o endpoint_url=http://...).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_set_flag,
            help="No progress bars.",
        ),
        click.Option(
            ["-v", "--verbose", "verbosity"],
            count=True,
            expose_value=False,
            callback=_add_verbosity,
            help="Log what octstore does on stderr (-v: info, -vv: debug).",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_set_flag,
            help="Show tracebacks of errors.",
        ),
        click.Option(
            ["--json", "as_json"],
            is_flag=True,
            expose_value=False,
            callback=_set_json,
            help="Print the result as one JSON document (commands that print a result).",
        ),
    ]


def _merge_storage_options(ctx: click.Context, param: click.Parameter, values: Any) -> None:
    ctx.ensure_object(Settings).storage_options.update(parse_assignments(ctx, param, values))


def _set_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:  # absent after the subcommand does not undo given before it
        setattr(ctx.ensure_object(Settings), str(param.name), True)


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--json`` on a group, or on a command without :func:`json_option`: one that prints
    no result, and so refuses it, given there or before it."""
    _set_flag(ctx, param, value)
    if ctx.ensure_object(Settings).as_json and not isinstance(ctx.command, click.Group):
        raise click.UsageError(
            f"'{ctx.command_path}' prints no result to give as JSON: leave out --json", ctx
        )


def _add_verbosity(ctx: click.Context, param: click.Parameter, count: int) -> None:
    settings = ctx.ensure_object(Settings)
    settings.verbosity += count  # -v before the subcommand and -v after it: -vv
    settings.show_log()


# --- errors ---------------------------------------------------------------------------------


def echo_error(settings: Settings, error: BaseException, message: str) -> None:
    """Print ``message``, about ``error``, on one line of stderr (and ``error``'s traceback
    first under ``--debug``)."""
    if settings.debug:
        echo("".join(traceback.format_exception(error)), err=True, nl=False)
    echo(f"octstore: error: {' '.join(message.split())}", err=True)


def exit_for_failures(settings: Settings, failures: Sequence[OctstoreError]) -> None:
    """Once a command has shown what it could: one error line for each of ``failures``,
    and the exit code of the first. Nothing if there are none."""
    for error in failures:
        echo_error(settings, error, message_for(error))
    if failures:
        sys.exit(exit_code(failures[0]))


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


def parse_labels(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> list[str]:
    """LABEL arguments, each checked before anything is read or written."""
    try:
        return [validate_label(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def parse_assignments(
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


def parse_tags(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments whose keys are tag names."""
    tags = parse_assignments(ctx, param, values)
    try:
        return {validate_tag_name(key): value for key, value in tags.items()}
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


# --- printing -------------------------------------------------------------------------------


def filter_option(function: Any) -> Any:
    """The ``-f``/``--filter LOOKUP=VALUE`` option (repeatable), passed as ``lookups``."""
    return click.option(
        "-f",
        "--filter",
        "lookups",
        multiple=True,
        callback=parse_assignments,
        metavar="LOOKUP=VALUE",
        help="Keep files matching a lookup, as in Python: labels__contains=raw, "
        "tags__site=north, size__gt=1000, timestamp__gte=2024-01-01. Repeat to combine.",
    )(function)


def json_option(function: Any) -> Any:
    """The ``--json`` flag, passed to the command as ``as_json``: given after the command,
    or anywhere before it (the global ``--json``, in the Settings)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_read_json,
        help="Print the result as one JSON document on stdout.",
    )(function)


def _read_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    _set_flag(ctx, param, value)
    return bool(ctx.ensure_object(Settings).as_json)


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print ``message`` (on stderr with ``err``), its credentials redacted: every line the
    command line prints goes through here."""
    click.echo(redact(message), err=err, nl=nl)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (what ``--json`` prints)."""
    echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def human_size(size: int) -> str:
    """``size`` bytes for people to read: ``1.5MiB``."""
    from pydantic import ByteSize

    return ByteSize(size).human_readable()
