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
