"""The README works as written: its examples run, its set-up is two commands that can be
pasted one after the other into one shell, and its links stay inside the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
INSTALL = "python3 -m pip install "


def _section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


SETUP_COMMANDS = [block.strip() for block in CONSOLE_BLOCK.findall(_section("Set-up"))]


def _without_install(command: str) -> str:
    """``command`` without its leading ``pip install ... &&`` (the tests' environment has
    octstore installed already)."""
    install, separator, rest = command.partition("&&")
    assert separator, f"no '&&' after the install step in: {command}"
    assert install.strip().startswith(INSTALL), f"does not start with an install: {command}"
    return rest.strip()


def test_the_setup_is_two_console_commands() -> None:
    assert len(SETUP_COMMANDS) == 2


def test_the_tour_succeeds_and_leaves_the_shell_where_it_was(tmp_path: Path) -> None:
    start = tmp_path / "clone"
    start.mkdir()
    tour = _without_install(SETUP_COMMANDS[0])
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{tour}\npwd"],
        cwd=start,
        capture_output=True,
        text=True,
        timeout=120,
        # mktemp makes the tour's folder under tmp_path, removed with it
        env={**os.environ, "PATH": path, "TMPDIR": str(tmp_path)},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "north.csv" in result.stdout  # the file the filter keeps
    assert result.stdout.splitlines()[-1] == str(start)


def test_the_second_command_runs_the_tests_from_the_clone() -> None:
    assert SETUP_COMMANDS[1] == "python3 -m pip install nox && python3 -m nox -s tests"


#: Variables the suite's own servers and settings put in this process's environment, which a
#: user's fresh shell does not have.
_NOT_IN_A_FRESH_SHELL = ("AWS_", "STORAGE_EMULATOR", "GOOGLE_", "OCTSTORE_", "PYTEST_", "COV_")


def _what_went_wrong(result: subprocess.CompletedProcess[str]) -> str:
    """The end of each stream, where the inner suite's summary of failures is, without the
    lines pip prints for each package an offline index has no folder for."""

    def quiet(text: str, keep: int) -> str:
        lines = [line for line in text.splitlines() if "is ignored: it is neither" not in line]
        return "\n".join(lines)[-keep:]

    stdout, stderr = quiet(result.stdout, 8000), quiet(result.stderr, 2000)
    return f"--- stdout (end) ---\n{stdout}\n--- stderr (end) ---\n{stderr}"


@pytest.mark.readme_setup
@pytest.mark.timeout(3600)
def test_the_two_commands_succeed_pasted_into_one_fresh_shell_in_a_clean_clone(
    tmp_path: Path,
) -> None:
    """The Set-up section as a newcomer meets it: a clean clone, a new virtualenv's python3
    first on PATH (as after ``python3 -m venv``), and the two commands pasted one after the
    other into one new shell. The second runs the whole suite from the clone; this test is
    left out of it (``nox -s readme`` runs it), so it does not run itself."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_NOT_IN_A_FRESH_SHELL) and name not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    env["TMPDIR"] = str(tmp_path)
    # Pasted one after the other: each runs whatever the one before did, and says how it ended.
    pasted = "".join(
        f'{command}\necho "command {n} exited $?"\n'
        for n, command in enumerate(SETUP_COMMANDS, start=1)
    )

    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f"{pasted}pwd"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=3500,
        env=env,
        check=False,
    )

    shown = _what_went_wrong(result)
    ended = [line for line in result.stdout.splitlines() if line.startswith("command ")]
    assert ended == ["command 1 exited 0", "command 2 exited 0"], shown
    assert "north.csv" in result.stdout  # the tour's filter kept it
    assert re.search(r"^=+ \d+ passed", result.stdout, re.M), shown  # the suite ran
    assert result.stdout.splitlines()[-1] == str(clone)  # the shell is still in the clone


def test_the_first_command_installs_octstore_with_every_extra() -> None:
    install = SETUP_COMMANDS[0].partition("&&")[0].strip()

    assert install == 'python3 -m pip install -e ".[all]"'


def test_the_readme_examples_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocks = PYTHON_BLOCK.findall(README)
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("readme")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"README.md (python block {number})", "exec"), module.__dict__)

    assert len(blocks) >= 2  # one Datafile example, one Dataset example


@pytest.mark.parametrize("target", LINK.findall(README))
def test_the_readme_links_only_to_files_in_the_repository(target: str) -> None:
    path = (ROOT / target.partition("#")[0]).resolve()

    assert "://" not in target
    assert path.is_relative_to(ROOT.resolve())
    assert path.exists()


def test_the_readme_names_no_path_outside_the_repository() -> None:
    assert "../" not in README
