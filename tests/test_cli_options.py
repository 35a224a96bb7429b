"""The global options (``-o``, ``-q``, ``-v``, ``--debug``) anywhere on the line, and
commands over several files: a JSON list whatever their number, and the good files shown
when another is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octstore.hashing import crc32c_bytes
from tests.conftest import Backend
from tests.test_cli import ok, one_line_error, run, write

# --- global options anywhere ------------------------------------------------------------------


def test_quiet_after_the_subcommand_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    for line in (
        ("ls", str(tmp_path), "-q"),
        ("ls", "-q", str(tmp_path)),
        ("-q", "ls", str(tmp_path)),
    ):
        assert ok(*line).splitlines() == [str(tmp_path / "a.csv")], line


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path: Path) -> None:
    result = run("info", str(tmp_path / "missing.txt"), "--debug")

    assert result.returncode == 3  # not found
    assert "Traceback" in result.stderr


def test_a_bad_storage_option_after_the_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    result = run("ls", str(tmp_path), "-o", "endpoint_url")

    assert result.returncode == 2
    assert "'endpoint_url' is not NAME=VALUE" in one_line_error(result)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_storage_options_after_the_subcommand_reach_the_backend(backend: Backend) -> None:
    write(backend, "a.csv", b"speed")
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    # Without the endpoint in the environment, only the -o option can lead to the server.
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL_S3"}
    endpoint = backend.storage_options["endpoint_url"]

    result = subprocess.run(
        [executable, "hash", backend.url("a.csv"), "-o", f"endpoint_url={endpoint}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{crc32c_bytes(b'speed')}  {backend.url('a.csv')}\n"


def test_every_command_lists_the_global_options_in_its_help() -> None:
    for command in (("ls",), ("cache", "info"), ("store", "add"), ("label", "add")):
        out = ok(*command, "--help")
        for option in ("-q, --quiet", "-v, --verbose", "-o, --storage-option", "--debug"):
            assert option in out, (command, option)


# --- verbose ----------------------------------------------------------------------------------


def test_vv_anywhere_prints_octstores_debug_records_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    for line in (
        ("-vv", "info", str(tmp_path / "a.csv")),
        ("info", str(tmp_path / "a.csv"), "-v", "-v"),
    ):
        result = run(*line)
        assert result.returncode == 0, result.stderr
        assert f"octstore: DEBUG: octstore.location: reading {tmp_path / 'a.csv'}" in result.stderr
        assert result.stdout.startswith(f"path       {tmp_path / 'a.csv'}")


def test_one_v_leaves_out_debug_records_and_none_prints_no_log(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    for flags in (["-v"], []):
        result = run("info", str(tmp_path / "a.csv"), *flags)
        assert result.returncode == 0
        assert result.stderr == ""


def test_verbose_records_never_hold_a_credential() -> None:
    result = run("info", "-vv", "ftp://someone:pa55word@127.0.0.1:1/x.csv")

    assert result.returncode == 1
    assert "pa55word" not in result.stderr
    assert "octstore.location: reading ftp://***@127.0.0.1:1/x.csv" in result.stderr


# --- several files ----------------------------------------------------------------------------


def test_info_json_prints_a_list_even_for_one_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    info = json.loads(ok("info", "--json", str(tmp_path / "a.csv")))

    assert [item["path"] for item in info] == [str(tmp_path / "a.csv")]
    assert info[0]["hash_value"] == crc32c_bytes(b"x")


def test_hash_json_prints_a_list_of_paths_and_hash_values(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    hashes = json.loads(ok("hash", "--json", str(tmp_path / "a.csv")))

    assert hashes == [{"path": str(tmp_path / "a.csv"), "hash_value": crc32c_bytes(b"x")}]


def test_info_shows_the_good_file_and_reports_the_missing_one(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("x")

    result = run("info", str(tmp_path / "good.csv"), str(tmp_path / "missing.csv"))

    assert result.returncode == 3  # not found
    assert f"path       {tmp_path / 'good.csv'}" in result.stdout.splitlines()
    assert "missing.csv" not in result.stdout
    assert str(tmp_path / "missing.csv") in one_line_error(result)


def test_info_json_lists_the_good_files_and_reports_the_missing_one(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("x")

    result = run("info", "--json", str(tmp_path / "missing.csv"), str(tmp_path / "good.csv"))

    assert result.returncode == 3  # not found
    assert [item["path"] for item in json.loads(result.stdout)] == [str(tmp_path / "good.csv")]
    assert str(tmp_path / "missing.csv") in one_line_error(result)


def test_hash_prints_the_good_file_and_reports_the_missing_one(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("x")

    result = run("hash", str(tmp_path / "good.csv"), str(tmp_path / "missing.csv"))

    assert result.returncode == 3  # not found
    assert result.stdout == f"{crc32c_bytes(b'x')}  {tmp_path / 'good.csv'}\n"
    assert str(tmp_path / "missing.csv") in one_line_error(result)
