"""Every example in docs/ and in docstrings runs, so the documentation cannot drift."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import octstore

DOCS = Path(__file__).parent.parent / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = sorted(DOCS.glob("*.md"))
MODULES = sorted(
    module.name for module in pkgutil.walk_packages(octstore.__path__, prefix="octstore.")
)


def test_docs_have_examples() -> None:
    assert any(PYTHON_BLOCK.search(page.read_text()) for page in PAGES)
    assert any(SHELL_BLOCK.search(page.read_text()) for page in PAGES)


#: The widest code line that fits the site's content column (Material, both sidebars shown)
#: without a scroll bar; docs/ruff.toml formats the python blocks to it.
PAGE_WIDTH = 80
#: Fenced blocks and the language each is in; a diagram is drawn, not shown as code.
ANY_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_docs_code_blocks_fit_the_page(page: Path) -> None:
    too_wide = [
        line
        for language, block in ANY_BLOCK.findall(page.read_text())
        if language != "mermaid"
        for line in block.splitlines()
        if len(line) > PAGE_WIDTH
    ]

    assert too_wide == [], f"wider than {PAGE_WIDTH} columns in {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_docs_page_examples_run(
    page: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The page's python blocks run in order, in one namespace, in an empty directory; then
    its bash blocks run there too, with this environment's ``octstore`` script on the PATH.

    Pages that use ``s3://`` or ``gs://`` URLs run against the test servers, which the
    environment points URL-only code at, each with an empty ``octstore-test`` bucket.
    """
    text = page.read_text()
    if "s3://" in text:
        request.getfixturevalue("s3fs_fs")
    if "gs://" in text:
        request.getfixturevalue("gcs_fs")
    monkeypatch.chdir(tmp_path)
    # A real module, so that code needing one (dataclasses, pickling) works as in a script.
    module = types.ModuleType(f"docs_{page.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for number, block in enumerate(PYTHON_BLOCK.findall(text), start=1):
        code = compile(block, f"{page.name} (python block {number})", "exec")
        exec(code, module.__dict__)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for number, script in enumerate(SHELL_BLOCK.findall(text), start=1):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PATH": path},
        )
        assert result.returncode == 0, f"{page.name} (bash block {number}): {result.stderr}"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)

    failures, _ = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )

    assert failures == 0
