"""The command in a user's shell: completion as docs/cli.md says to set it up, and
``python -m octstore`` as the same command as the console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import octstore
from tests.test_cli import run

SCRIPT = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
#: The shells click writes a completion script for, and a line each script must hold.
SHELLS = {
    "bash": "complete -o nosort -F _octstore_completion octstore",
    "zsh": "compdef _octstore_completion octstore",
    "fish": 'complete --no-files --command octstore --arguments "(_octstore_completion)"',
}


def _with_script_on_path() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(SCRIPT).parent}{os.pathsep}{os.environ['PATH']}"}


# --- completion -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_the_completion_script_is_written_for_each_shell(shell: str) -> None:
    result = subprocess.run(
        [SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "_OCTSTORE_COMPLETE": f"{shell}_source"},
    )

    assert result.returncode == 0, result.stderr
    assert SHELLS[shell] in result.stdout


def _completions(*words: str) -> list[str]:
    """What bash offers for the last of ``words``, through the script the docs' line loads."""
    line = " ".join(words)
    script = f"""
        eval "$(_OCTSTORE_COMPLETE=bash_source octstore)"
        COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}
        _octstore_completion octstore
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=_with_script_on_path(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("octstore", "la"), ["label"]),
        (("octstore", "store", "f"), ["fetch"]),
        (("octstore", "label", ""), ["add", "remove"]),
        (("octstore", "ls", "--rev"), ["--reverse"]),
        (("octstore", "info", "a.csv", "--js"), ["--json"]),  # a global option, after
    ],
)
def test_bash_completes_commands_and_options(words: tuple[str, ...], offered: list[str]) -> None:
    assert _completions(*words) == offered


def test_the_completion_protocol_answers_a_partial_command() -> None:
    result = subprocess.run(
        [SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "_OCTSTORE_COMPLETE": "bash_complete",
            "COMP_WORDS": "octstore la",
            "COMP_CWORD": "1",
        },
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["plain,label"]


# --- python -m octstore -----------------------------------------------------------------------


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octstore", *args], capture_output=True, text=True, timeout=60
    )


def test_python_m_octstore_prints_the_version() -> None:
    result = _python_m("--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"octstore, version {octstore.__version__}\n"


def test_python_m_octstore_ls_is_the_console_scripts(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "b.csv").write_text("y")

    result = _python_m("ls", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'a.csv'}\n{tmp_path / 'b.csv'}\n"
    assert result.stdout == run("ls", str(tmp_path)).stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [(("info", "{missing}"), 3), (("ls", "--frobnicate"), 2), (("exec", "{a}", "--", "false"), 1)],
)
def test_python_m_octstore_exits_as_the_console_script(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    (tmp_path / "a.csv").write_text("x")
    line = [arg.format(missing=tmp_path / "missing.csv", a=tmp_path / "a.csv") for arg in args]

    as_module = _python_m(*line)
    as_script = run(*line)

    assert as_module.returncode == as_script.returncode == code
    assert as_module.stderr == as_script.stderr
