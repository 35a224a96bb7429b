"""The console script, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import octstore
from octstore.hashing import crc32c_bytes


def run(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    return subprocess.run([executable, *args], capture_output=True, text=True, timeout=60)


def test_version_prints_the_package_version() -> None:
    result = run("--version")

    assert result.returncode == 0
    assert octstore.__version__ in result.stdout


def test_hash_prints_each_files_crc32c(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "empty.txt").write_bytes(b"")

    result = run("hash", str(tmp_path / "a.txt"), str(tmp_path / "empty.txt"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"mnG7TA==  {tmp_path / 'a.txt'}",
        f"AAAAAA==  {tmp_path / 'empty.txt'}",
    ]


def test_hash_json_output_parses(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01" * 1000)

    result = run("hash", "--json", str(path))

    assert json.loads(result.stdout) == {str(path): crc32c_bytes(b"\x00\x01" * 1000)}


def test_missing_file_exits_with_usage_error_on_one_line(tmp_path: Path) -> None:
    result = run("hash", str(tmp_path / "missing.txt"))

    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
