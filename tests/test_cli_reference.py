"""The docs' CLI reference page, rendered by the mkdocs hook docs/hooks/cli_reference.py from
the commands themselves: every command, its usage and options, on lines that fit the page."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

from octstore.cli import cli
from octstore.cli.options import global_options

ROOT = Path(__file__).parent.parent
HOOK = ROOT / "docs" / "hooks" / "cli_reference.py"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", HOOK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sections(page: str) -> dict[str, str]:
    """The page's sections by heading (``octstore label add``)."""
    parts = re.split(r"^## (.+)$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _commands(group: click.Group, path: str) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {path: group}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{path} {name}"))
        else:
            found[f"{path} {name}"] = command
    return found


def test_every_command_has_a_section_with_its_usage_help_and_options() -> None:
    sections = _sections(_hook().render())
    shared = {option.name for option in global_options()}

    for path, command in _commands(cli, "octstore").items():
        section = sections[path]
        assert f"Usage: {path} [OPTIONS]" in section, path
        first_line = (command.help or "").split("\n", 1)[0]
        assert " ".join(first_line.split()[:6]) in " ".join(section.split()), path
        for param in command.params:
            listed = re.search(rf"^ +(-\w, )?{re.escape(param.opts[-1])} ", section, re.MULTILINE)
            if param.name in shared and not param.expose_value:
                assert not listed, (path, param.opts)  # listed once, at the top
            elif isinstance(param, click.Option):
                assert listed, (path, param.opts)


def test_the_global_options_are_listed_once_at_the_top() -> None:
    page = _hook().render()

    globals_section = _sections(page)["Global options"]
    for option in global_options():
        assert page.count(f"{option.opts[-1]} ") >= 1
        assert option.opts[-1] in globals_section
    assert page.count("--storage-option") == 1


def test_a_command_added_later_is_in_the_reference_with_no_edit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @click.group("zz-later")
    def later() -> None:
        """A group added after the reference was written."""

    @later.command("frob")
    @click.option("--wobble", help="How much to wobble.")
    def frob(wobble: str) -> None:
        """Frobnicate, thoroughly."""

    monkeypatch.setitem(cli.commands, "zz-later", later)

    sections = _sections(_hook().render())

    assert "frob  Frobnicate, thoroughly." in sections["octstore zz-later"]
    assert "--wobble TEXT  How much to wobble." in sections["octstore zz-later frob"]


def test_every_code_line_of_the_reference_fits_the_page() -> None:
    hook = _hook()
    blocks = re.findall(r"^```text\n(.*?)^```", hook.render(), re.MULTILINE | re.DOTALL)

    assert blocks
    assert max(len(line) for block in blocks for line in block.splitlines()) <= hook.WIDTH


def test_the_hook_prints_the_page_for_review() -> None:
    result = subprocess.run(
        [sys.executable, str(HOOK)], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout == _hook().render()
