"""Byte progress as a user sees it: the console script run on a pseudo-terminal.

Each test runs the real ``octstore`` with its stdout and stderr on a pseudo-terminal (as in a
shell), feeds everything it writes there to a terminal emulator (pyte), and asserts what the
screen showed while it ran and what it shows at the end: a bar with bytes done of a total, a
percentage, a rate and the time left while bytes move, and, once the command is over, no bar
left, the summary (or error) on a line of its own from column 0. Without a terminal, or with
``-q``, there is no progress output at all.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyte
import pytest

from octstore import Datafile, Dataset, cache
from tests.conftest import Backend

#: GCS in ``nox -s slow``, as the other command-line tests' later clouds (tests/test_cli.py).
LATER_GCS = pytest.param("gcs", marks=pytest.mark.slow)
on_backends = pytest.mark.parametrize("backend", ["local", "s3", LATER_GCS], indirect=True)
on_cloud = pytest.mark.parametrize("backend", ["s3", LATER_GCS], indirect=True)

COLUMNS, ROWS = 110, 24
MiB = 2**20
#: What a byte progress bar shows: bytes done of the total, the percentage, the rate.
BAR = re.compile(
    r"━+\s+(?P<done>[\d.]+)/(?P<total>[\d.]+) (?P<unit>[kMG]?B)\s+(?P<percent>\d+)%\s+"
    r"(?P<rate>[\d.]+ [kMG]?B/s|\?)"
)
#: What any progress output would contain: rich's bar, a rate, a spinner.
PROGRESS_TEXT = re.compile(r"━|B/s|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|\x1b\[")


@dataclass
class Terminal:
    """What a command run on a pseudo-terminal wrote there.

    Attributes:
        code: Its exit code.
        output: Every byte written to the terminal.
        frames: The screen's lines after each write that reached it, and before each
            carriage return in it.
        screen: The screen's lines when the command was over (trailing blanks stripped).
        stdout: What it wrote to stdout, when stdout was a pipe rather than the terminal.
    """

    code: int
    output: bytes
    frames: list[list[str]] = field(repr=False)
    screen: list[str]
    stdout: str | None = None

    def bars(self) -> list[re.Match[str]]:
        """Every byte progress bar the screen showed, in order."""
        return [
            bar for frame in self.frames for line in unwrapped(frame) if (bar := BAR.search(line))
        ]

    def lines(self) -> list[str]:
        """The screen's lines at the end, without the blank ones (a line the terminal
        wrapped, such as a long path, as one)."""
        return [line for line in unwrapped(self.screen) if line]


def unwrapped(rows: list[str]) -> list[str]:
    """``rows`` of the screen (right-stripped) with each row that fills the screen's width
    joined to the next, as the terminal wrapped one line onto both."""
    lines: list[str] = []
    carried = ""
    for row in rows:
        if len(row) == COLUMNS:
            carried += row
            continue
        lines.append(carried + row)
        carried = ""
    return [*lines, carried] if carried else lines


def octstore_executable() -> str:
    return shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))


def in_terminal(*args: str, cwd: Path | None = None, stdout_too: bool = True) -> Terminal:
    """Run ``octstore ARGS`` with stderr (and ``stdout_too``, stdout) on a pseudo-terminal of
    COLUMNS x ROWS, as a user's shell would."""
    main, side = os.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    environment = {**os.environ, "COLUMNS": str(COLUMNS), "LINES": str(ROWS), "TERM": "xterm"}
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [octstore_executable(), *args],
        stdin=subprocess.DEVNULL,
        stdout=side if stdout_too else subprocess.PIPE,
        stderr=side,
        env=environment,
        cwd=cwd,
    )
    os.close(side)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    output, frames = b"", []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if not select.select([main], [], [], 1)[0]:
                continue
            try:
                data = os.read(main, 1 << 16)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            output += data
            # rich starts each redraw with a carriage return: the screen before each one is
            # a frame the user saw, even when one write carries several
            for piece in re.split(rb"(?=\r)", data):
                stream.feed(piece)
                frames.append([line.rstrip() for line in screen.display])
        stdout = process.stdout.read().decode() if process.stdout else None
        code = process.wait(timeout=60)
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return Terminal(code, output, frames, [line.rstrip() for line in screen.display], stdout)


def plain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``octstore ARGS`` with stdout and stderr captured: no terminal at all."""
    return subprocess.run(
        [octstore_executable(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def megabytes(size: int) -> str:
    """``size`` bytes as rich's byte columns write it: ``16.8`` (MB)."""
    return f"{size / 1e6:.1f}"


def remote_file(backend: Backend, name: str, size: int) -> str:
    """A file of ``size`` random bytes at ``name`` on ``backend``, not in the cache."""
    df = Datafile(backend.url(name), storage_options=backend.storage_options)
    with df.open("wb") as f:
        f.write(os.urandom(size))
    cache.clear()
    return df.path


def assert_showed_byte_progress(terminal: Terminal, size: int) -> None:
    """The screen showed bars of ``size`` bytes in total, all the way to 100%, with a rate."""
    bars = terminal.bars()
    assert bars, terminal.output.decode(errors="replace")
    assert {(bar["total"], bar["unit"]) for bar in bars} == {(megabytes(size), "MB")}
    assert bars[-1]["done"] == bars[-1]["total"]
    assert bars[-1]["percent"] == "100"
    assert any(bar["rate"].endswith("B/s") for bar in bars), [bar[0] for bar in bars]


def assert_clean_end(terminal: Terminal, first_line: str) -> None:
    """Nothing of the bar is left on the screen, and the screen's first line (the summary,
    or an error) is ``first_line`` from column 0 on a line of its own."""
    assert terminal.lines()
    assert terminal.lines()[0].startswith(first_line), terminal.screen
    for line in terminal.lines():
        assert not PROGRESS_TEXT.search(line), terminal.screen


# --- one large file -------------------------------------------------------------------------


@on_backends
def test_download_of_a_large_file_shows_bytes_percent_and_rate_then_a_clean_summary(
    backend: Backend, tmp_path: Path
) -> None:
    size = 24 * MiB
    url = remote_file(backend, "big.bin", size)
    (tmp_path / "out").mkdir()

    terminal = in_terminal("download", url, str(tmp_path / "out"))

    assert terminal.code == 0
    assert_showed_byte_progress(terminal, size)
    assert_clean_end(terminal, f"{tmp_path / 'out' / 'big.bin'}: 1 transferred")
    assert (tmp_path / "out" / "big.bin").stat().st_size == size


@on_backends
def test_upload_of_a_large_file_shows_bytes_percent_and_rate_then_a_clean_summary(
    backend: Backend, tmp_path: Path
) -> None:
    size = 40 * MiB  # GCS sends more than 32 MiB in chunks: several updates there too
    (tmp_path / "big.bin").write_bytes(os.urandom(size))

    terminal = in_terminal("upload", str(tmp_path / "big.bin"), backend.url("big.bin"))

    assert terminal.code == 0
    assert_showed_byte_progress(terminal, size)
    assert_clean_end(terminal, f"{backend.url('big.bin')}: 1 transferred")
    assert Datafile(backend.url("big.bin"), storage_options=backend.storage_options).size == size


@on_cloud
def test_upload_bar_moves_while_one_file_is_sent(backend: Backend, tmp_path: Path) -> None:
    size = 128 * MiB  # long enough to send that the bar redraws on the way, even under load
    (tmp_path / "big.bin").write_bytes(os.urandom(size))

    terminal = in_terminal("upload", str(tmp_path / "big.bin"), backend.url("big.bin"))

    # bytes are counted as they are sent, not all at once at the end
    partway = {bar["done"] for bar in terminal.bars() if 0 < int(bar["percent"]) < 100}
    assert partway, [bar[0] for bar in terminal.bars()]


def test_summary_goes_to_stdout_when_only_stderr_is_a_terminal(
    s3fs_fs: object, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(8 * MiB))

    terminal = in_terminal(
        "upload", str(tmp_path / "big.bin"), "s3://octstore-test/big.bin", stdout_too=False
    )

    assert terminal.code == 0
    assert terminal.stdout == "s3://octstore-test/big.bin: 1 transferred (8388608 bytes), " + (
        "0 metadata only, 0 already there\n"
    )
    assert terminal.bars()
    assert terminal.lines() == []  # the bar was erased, and nothing else was written there


# --- many files -----------------------------------------------------------------------------


@on_backends
def test_dataset_download_counts_bytes_across_all_files_known_up_front(
    backend: Backend, tmp_path: Path
) -> None:
    sizes = {"a.bin": 4 * MiB, "sub/b.bin": 8 * MiB, "c.bin": 12 * MiB}
    for name, size in sizes.items():
        remote_file(backend, f"survey/{name}", size)

    terminal = in_terminal("download", backend.url("survey"), str(tmp_path / "copy"))

    assert terminal.code == 0
    # every bar, from the first, shows the bytes of all files as its total
    assert_showed_byte_progress(terminal, sum(sizes.values()))
    assert_clean_end(terminal, f"{tmp_path / 'copy'}: 3 transferred")


@on_backends
def test_dataset_upload_counts_bytes_across_all_files(backend: Backend, tmp_path: Path) -> None:
    sizes = {"a.bin": 4 * MiB, "sub/b.bin": 8 * MiB, "c.bin": 12 * MiB}
    for name, size in sizes.items():
        (tmp_path / "survey" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "survey" / name).write_bytes(os.urandom(size))

    terminal = in_terminal("upload", str(tmp_path / "survey"), backend.url("survey"))

    assert terminal.code == 0
    assert_showed_byte_progress(terminal, sum(sizes.values()))
    assert_clean_end(terminal, f"{backend.url('survey')}: 3 transferred")


# --- the store and exec ---------------------------------------------------------------------


@on_backends
def test_store_add_and_fetch_show_byte_progress(backend: Backend, tmp_path: Path) -> None:
    size = 40 * MiB  # GCS sends more than 32 MiB in chunks: several updates there too
    (tmp_path / "big.bin").write_bytes(os.urandom(size))
    store = backend.url("store")

    added = in_terminal("store", "add", store, str(tmp_path / "big.bin"))

    assert added.code == 0
    assert_showed_byte_progress(added, size)
    handle = added.lines()[0]
    assert re.fullmatch(r"[0-9a-f]{64}/big\.bin", handle), added.screen
    assert_clean_end(added, handle)

    cache.clear()
    (tmp_path / "out").mkdir()
    fetched = in_terminal("store", "fetch", store, handle, str(tmp_path / "out") + "/")

    assert fetched.code == 0
    assert_showed_byte_progress(fetched, size)
    assert_clean_end(fetched, str(tmp_path / "out" / "big.bin"))


@on_cloud
def test_exec_shows_its_downloads_then_leaves_the_terminal_to_the_program(
    backend: Backend,
) -> None:
    size = 24 * MiB
    url = remote_file(backend, "big.bin", size)

    terminal = in_terminal("exec", url, "--", "wc", "-c", "{}")

    assert terminal.code == 0
    assert_showed_byte_progress(terminal, size)
    assert_clean_end(terminal, f"{size} ")


# --- errors, -q and no terminal -------------------------------------------------------------


@on_cloud
def test_an_error_after_a_bar_is_one_clean_line(backend: Backend, tmp_path: Path) -> None:
    remote_file(backend, "survey/big.bin", 16 * MiB)
    remote_file(backend, "survey/notes.txt", 100)
    assert in_terminal("download", backend.url("survey"), str(tmp_path / "copy")).code == 0
    (tmp_path / "copy" / "notes.txt").write_text("my edits")
    remote_file(backend, "survey/notes.txt", 200)  # changed on both sides: a conflict
    remote_file(backend, "survey/big.bin", 16 * MiB)

    terminal = in_terminal("download", backend.url("survey"), str(tmp_path / "copy"))

    assert terminal.code == 4
    assert terminal.bars()
    assert_clean_end(terminal, f"{tmp_path / 'copy'}: 1 transferred")
    error = "octstore: error: 1 files were not copied: each differs at the destination"
    assert any(line.startswith(error) for line in terminal.lines()), terminal.screen


@on_backends
def test_quiet_shows_no_progress_on_a_terminal(backend: Backend, tmp_path: Path) -> None:
    url = remote_file(backend, "big.bin", 16 * MiB)
    (tmp_path / "out").mkdir()

    terminal = in_terminal("download", url, str(tmp_path / "out"), "-q")

    assert terminal.code == 0
    summary = f"{tmp_path / 'out' / 'big.bin'}: 1 transferred (16777216 bytes), 0 metadata "
    assert terminal.output.decode() == summary + "only, 0 already there\r\n"


@on_backends
def test_no_progress_output_when_stderr_is_not_a_terminal(backend: Backend, tmp_path: Path) -> None:
    url = remote_file(backend, "survey/big.bin", 16 * MiB)
    remote_file(backend, "survey/small.bin", MiB)
    (tmp_path / "out").mkdir()
    # FORCE_COLOR makes rich take a pipe for a terminal: still no progress on a pipe
    forced = {"FORCE_COLOR": "1"}

    commands = [
        ("download", url, str(tmp_path / "out")),
        ("upload", str(tmp_path / "out" / "big.bin"), backend.url("again.bin")),
        ("download", backend.url("survey"), str(tmp_path / "copy")),
        ("upload", str(tmp_path / "copy"), backend.url("copy")),
        ("store", "add", backend.url("store"), str(tmp_path / "out" / "big.bin")),
        ("exec", url, "--", "true"),
    ]
    for command in commands:
        result = plain(*command, env=forced)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", command
    assert len(Dataset(backend.url("copy"), storage_options=backend.storage_options)) == 2
