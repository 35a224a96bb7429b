"""``octstore exec``: run a program on the local paths of files, local or remote."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from typing import IO

import click

from octstore.cli.options import Settings, echo, exists
from octstore.cli.root import cli
from octstore.datafile import Datafile, interface
from octstore.dataset.transfer import fetch_all
from octstore.hashing import crc32c_file

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d*)\}")
#: Signals a program run by ``exec`` handles itself, from the terminal, while octstore waits.
_PROGRAM_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGQUIT") if hasattr(signal, name)
)


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
    and }} for braces; with no placeholder the paths are appended. A URL may be a glob
    pattern ('s3://bucket/raw/*.csv'), which stands for the files it matches, sorted.
    Remote files are downloaded (once, into the cache) only when they are not cached
    already. Exits with the program's exit code.

    \b
    octstore exec s3://bucket/readings.csv -- wc -l {}
    octstore exec --write gs://b/in.csv gs://b/out.csv -- sort {0} -o {1}
    """
    settings: Settings = ctx.obj
    program: list[str] = ctx.meta.get("octstore.program", [])
    if not program:
        raise click.UsageError(
            "give the program to run after --: octstore exec URL... -- CMD {}", ctx
        )
    matched = settings.expand(urls)  # glob patterns: the files they match
    groups = [[url] for url in matched] if each else [matched]
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


def _run(settings: Settings, datafiles: list[Datafile], program: list[str]) -> int:
    remote = [datafile for datafile in datafiles if interface.is_remote(datafile)]
    if remote:
        what = remote[0].name if len(remote) == 1 else f"{len(remote)} files"
        with settings.progress(f"downloading {what}", in_bytes=True) as callback:
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
        echo(f"octstore: error: cannot run {argv[0]!r}: {error.strerror}", err=True)
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
        self._new = not exists(datafile)
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
        echo(f"octstore: {program[0]} exited with {code}: no file was written", err=True)
        return code
    if any(outcome.startswith("not written") for _, outcome in outcomes):
        for path, outcome in outcomes:
            echo(f"octstore: {path}: {outcome}", err=True)
        return 1
    return 0
