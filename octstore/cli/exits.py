"""How a command ends: its exit code by the kind of error, and the error's message in the
command line's own words (``--overwrite`` where the library says ``overwrite=True``)."""

from __future__ import annotations

import enum
import json

from octstore.errors import AlreadyExistsError, ConflictError, Keyword, TransferError

__all__ = ["ExitCode", "exit_code", "message_for"]


class ExitCode(enum.IntEnum):
    """What ``octstore`` exits with (``octstore --help`` and docs/cli.md list them)."""

    OK = 0
    #: Any other failure: the network, the service, a file octstore cannot read.
    FAILED = 1
    #: Wrong usage: an unknown option, an invalid URL, bucket name, label, tag or filter.
    USAGE = 2
    #: No file, directory, bucket or store where the command looked.
    NOT_FOUND = 3
    #: Other content where a file would be written (``--overwrite`` replaces it), or a file
    #: changed by someone else since it was read.
    CONFLICT = 4
    #: The system or the storage service refused: no permission, no credentials.
    ACCESS_DENIED = 5


def exit_code(error: BaseException) -> ExitCode:
    """The exit code for ``error``, by the builtin exception it is (a transfer's: its
    failures', when they share one)."""
    if isinstance(error, TransferError) and error.failures:
        codes = {exit_code(failure) for failure in error.failures.values()}
        return codes.pop() if len(codes) == 1 else ExitCode.FAILED
    kinds: list[tuple[type[BaseException] | tuple[type[BaseException], ...], ExitCode]] = [
        ((ConflictError, AlreadyExistsError), ExitCode.CONFLICT),
        (FileNotFoundError, ExitCode.NOT_FOUND),
        (PermissionError, ExitCode.ACCESS_DENIED),
        (ValueError, ExitCode.USAGE),
    ]
    return next((code for kind, code in kinds if isinstance(error, kind)), ExitCode.FAILED)


def message_for(error: BaseException) -> str:
    """``error``'s message as the command line says it: the keyword arguments its fix names
    (``overwrite=True``) as the options that pass them (``--overwrite``)."""
    message = str(error)
    for keyword in getattr(error, "keywords", ()):
        message = message.replace(str(keyword), _as_option(keyword))
    return message


def _as_option(keyword: Keyword) -> str:
    """How the command line passes ``keyword``: ``--name`` for a flag, ``-o KEY=VALUE`` for
    each storage option."""
    if keyword.name == "storage_options" and isinstance(keyword.value, dict):
        return " ".join(
            f"-o {key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in keyword.value.items()
        )
    option = "--" + keyword.name.replace("_", "-")
    return option if keyword.value is True else f"{option} {keyword.value}"
