"""The root ``octstore`` group and running it: exit codes, one-line errors, signals."""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from octstore.__about__ import __version__
from octstore.cli.exits import ExitCode, exit_code, message_for
from octstore.cli.options import (
    Settings,
    echo,
    echo_error,
    global_options,
)
from octstore.errors import OctstoreError
from octstore.redaction import redact

# --- the root group -------------------------------------------------------------------------


class _Group(click.Group):
    """A group whose commands and groups take the global options too, anywhere after it."""

    group_class = type  # its groups are of this class too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        taken = {param.name for param in cmd.params}
        cmd.params.extend(option for option in global_options() if option.name not in taken)


@click.group(
    cls=_Group,
    params=global_options(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="octstore")
def cli() -> None:
    """Any file, local or in the cloud, as one object: metadata, transfers and a cache.

    \b
    A tour on a local folder:
      octstore label add north.csv raw
      octstore tag set north.csv site=north height_m=80
      octstore ls . --filter labels__contains=raw --filter tags__height_m__gt=50
      octstore exec north.csv -- wc -l {}

    The options -o, -q, -v, --debug and --json go anywhere on the line, before or after the
    command.

    \b
    Exit codes:
      0 done
      1 failed (the network, the service, ...)
      2 wrong usage (an option, a URL, a bucket name, a label or a filter)
      3 not found (a file, a directory, a bucket or a store)
      4 conflict (other content there, which --overwrite replaces; a change)
      5 access denied (permissions, credentials)
    exec exits with its program's code.
    """


# --- running ----------------------------------------------------------------------------------


def _format_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return redact(f"octstore: warning: {message}\n")


#: Loggers of filesystems whose warnings, printed by logging's last resort, would say before
#: octstore's one-line error what it says (gcsfs: "Could not determine bucket type ...").
_FILESYSTEM_LOGGERS = ("gcsfs", "s3fs")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line: one line on stderr and a non-zero exit code for any error."""
    settings = Settings()
    warnings.formatwarning = _format_warning
    for name in _FILESYSTEM_LOGGERS:
        logging.getLogger(name).addHandler(logging.NullHandler())
    for name in ("SIGTERM", "SIGHUP"):  # clean up as for Ctrl-C: temp files, programs
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        _run(settings, argv)
    finally:
        settings.hide_log()


def _run(settings: Settings, argv: Sequence[str] | None) -> None:
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="octstore",
            standalone_mode=False,
            obj=settings,
        )
    except (click.exceptions.Abort, KeyboardInterrupt):
        echo("octstore: interrupted", err=True)
        sys.exit(130)
    except _NO_ARGS_IS_HELP as error:  # a group with no command: its help, as typed
        echo(error.format_message(), err=True)
        sys.exit(ExitCode.USAGE)
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "octstore"
        _fail(settings, error, code=ExitCode.USAGE, suffix=f" (see '{command} --help')")
    except click.ClickException as error:
        _fail(settings, error, code=error.exit_code)
    except OctstoreError as error:
        _fail(settings, error, code=exit_code(error))
    except BrokenPipeError:
        # The reader went away (``octstore ls | head``): say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.FAILED)
    except Exception as error:  # a system's error octstore did not translate, or a bug
        code = exit_code(error) if isinstance(error, OSError) else ExitCode.FAILED
        _fail(settings, error, code=code, unexpected=True)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


#: A group run with no command, which shows its help (click 8.2 and later).
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)])
)


def _exit_on_signal(number: int, frame: object) -> None:
    raise SystemExit(128 + number)


def _fail(
    settings: Settings,
    error: BaseException,
    *,
    code: int,
    unexpected: bool = False,
    suffix: str = "",
) -> None:
    """Print ``error`` on one line (and its traceback under ``--debug``), and exit."""
    text = error.format_message() if isinstance(error, click.ClickException) else message_for(error)
    message = " ".join(text.split()) + suffix
    if unexpected:
        message = f"{type(error).__name__}: {message}"
        if not settings.debug:
            message += " (run with --debug for the traceback)"
    echo_error(settings, error, message)
    sys.exit(code)
