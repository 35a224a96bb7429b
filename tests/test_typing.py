"""octstore's types as a user's type checker sees them: mypy --strict on the files in
``tests/typechecked``, which state the expected types with ``assert_type``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = sorted((ROOT / "tests" / "typechecked").glob("*.py"))


@pytest.mark.parametrize("path", CHECKED, ids=[path.stem for path in CHECKED])
def test_types_are_as_stated(path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # octstore's own errors are the typecheck session's
            "--no-error-summary",
            str(path.relative_to(ROOT)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
