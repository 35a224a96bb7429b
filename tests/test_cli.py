"""The console script, run as a user runs it: a real subprocess, on local files, S3 and GCS.

The servers' addresses reach the subprocess through the environment the session fixtures
set (``AWS_ENDPOINT_URL_S3``, ``STORAGE_EMULATOR_HOST``), as they would reach a user's shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import octstore
from octstore import Datafile, Dataset, cache
from octstore.hashing import crc32c_bytes
from tests.conftest import Backend

#: GCS and Azure, for the command-line tests: these test the command line, which is the same
#: code on every cloud, and start a process for each command, so they run on GCS and Azure in
#: ``nox -s slow`` (CI runs it too). The library's own tests run on every backend by default.
LATER_CLOUDS = [pytest.param(name, marks=pytest.mark.slow) for name in ("gcs", "az")]
#: Backends a separate process can reach (``memory://`` lives in one process only).
on_backends = pytest.mark.parametrize("backend", ["local", "s3", *LATER_CLOUDS], indirect=True)
on_cloud = pytest.mark.parametrize("backend", ["s3", *LATER_CLOUDS], indirect=True)
README = Path(__file__).parent.parent / "README.md"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    return subprocess.run([executable, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def ok(*args: str, cwd: Path | None = None) -> str:
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed run, checking there is exactly one and no traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("octstore: error: ")
    return lines[0]


def write(backend: Backend, name: str, data: bytes = b"x", **metadata: Any) -> Datafile:
    """Write a file with octstore, leaving nothing in the cache (a fresh start for the CLI)."""
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with df.open("wb") as f:
        f.write(data)
    cache.clear()
    return df


def stored(backend: Backend, name: str) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options)


def content_gets(backend: Backend, requests: list[dict[str, Any]], name: str) -> int:
    key = backend.url(name).split("/", 3)[3]
    count: int = backend.server.content_gets(requests, key)
    return count


# --- basics ---------------------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    assert octstore.__version__ in ok("--version")


def test_help_lists_every_command() -> None:
    out = ok("--help")

    for command in ("info", "ls", "label", "tag", "upload", "download", "hash", "exec"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command
    for command in ("dataset", "cache", "store", "serve"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


def test_hash_prints_each_files_crc32c(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "empty.txt").write_bytes(b"")

    out = ok("hash", str(tmp_path / "a.txt"), str(tmp_path / "empty.txt"))

    assert out.splitlines() == [
        f"mnG7TA==  {tmp_path / 'a.txt'}",
        f"AAAAAA==  {tmp_path / 'empty.txt'}",
    ]


@on_cloud
def test_hash_of_a_remote_file_needs_no_download(backend: Backend) -> None:
    write(backend, "a.bin", b"\x00\x01" * 1000)

    with backend.server.recording() as requests:
        out = ok("hash", "--json", backend.url("a.bin"))

    assert json.loads(out) == [
        {"path": stored(backend, "a.bin").path, "hash_value": crc32c_bytes(b"\x00\x01" * 1000)}
    ]
    assert content_gets(backend, requests, "a.bin") == 0


@on_backends
def test_a_missing_object_exits_3_with_one_line(backend: Backend) -> None:
    result = run("info", backend.url("missing.txt"))

    assert result.returncode == 3
    assert "missing.txt" in one_line_error(result)


def test_a_wrong_url_exits_non_zero_with_one_line() -> None:
    result = run("info", "nosuchprotocol://bucket/x.csv")

    assert result.returncode == 2
    assert "nosuchprotocol" in one_line_error(result)


def test_an_unknown_option_is_a_usage_error_on_one_line() -> None:
    result = run("ls", "--frobnicate")

    assert result.returncode == 2
    assert "--frobnicate" in one_line_error(result)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "info", str(tmp_path / "missing.txt"))

    assert result.returncode == 3
    assert "Traceback" in result.stderr
    assert "octstore: error: " in result.stderr


# --- info and ls ------------------------------------------------------------------------------


@on_backends
def test_info_shows_size_hash_and_metadata_without_downloading(backend: Backend) -> None:
    df = write(backend, "a.csv", b"speed\n4.2\n", labels=["raw"], tags={"site": "north"})

    if backend.is_cloud:
        with backend.server.recording() as requests:
            out = ok("info", "--json", backend.url("a.csv"))
        assert content_gets(backend, requests, "a.csv") == 0
    else:
        out = ok("info", "--json", backend.url("a.csv"))

    [info] = json.loads(out)
    assert info["path"] == df.path
    assert info["size"] == 10
    assert info["hash_value"] == crc32c_bytes(b"speed\n4.2\n")
    assert info["id"] == df.id
    assert info["labels"] == ["raw"]
    assert info["tags"] == {"site": "north"}
    assert info["metadata_hash_value"] == df.metadata_hash_value
    if backend.name == "az":
        assert info["metadata_location"] == "blob metadata (octstore_* keys)"
    elif backend.is_cloud:
        assert info["metadata_location"] == "object metadata (octstore-* keys)"
    else:
        assert info["metadata_location"] == backend.url(".a.csv.octstore.json")


def test_info_prints_one_field_per_line(tmp_path: Path) -> None:
    write_local = Datafile(tmp_path / "a.csv", labels=["raw", "qa"], tags={"height_m": 80})
    with write_local.open("w") as f:
        f.write("x")

    out = ok("info", str(tmp_path / "a.csv"))

    assert f"path       {tmp_path / 'a.csv'}" in out.splitlines()
    assert "labels     qa, raw" in out.splitlines()
    assert "tags       height_m=80" in out.splitlines()


@on_backends
def test_ls_filters_with_the_python_lookup_syntax(backend: Backend) -> None:
    write(backend, "north.csv", labels=["raw"], tags={"site": "north", "height_m": 80})
    write(backend, "south.csv", labels=["raw"], tags={"site": "south", "height_m": 40})
    write(backend, "clean.csv", labels=["clean"], tags={"site": "north", "height_m": 90})

    out = ok(
        "ls",
        backend.root,
        "--filter",
        "labels__contains=raw",
        "--filter",
        "tags__height_m__gt=50",
    )

    assert out.splitlines() == [backend.url("north.csv")]
    expected = Dataset(backend.root, storage_options=backend.storage_options).files.filter(
        labels__contains="raw", tags__height_m__gt=50
    )
    assert [df.path for df in expected] == [backend.url("north.csv")]


@on_backends
def test_ls_json_lists_each_files_metadata(backend: Backend) -> None:
    north = write(backend, "north.csv", b"abc", labels=["raw"], tags={"site": "north"})
    write(backend, "south.csv", labels=["raw"], tags={"site": "south"})

    listed = json.loads(ok("ls", "--json", backend.root, "-f", "tags__site=north"))

    assert listed == [
        {
            "path": north.path,
            "name": "north.csv",
            "size": 3,
            "id": north.id,
            "timestamp": None,
            "labels": ["raw"],
            "tags": {"site": "north"},
        }
    ]


def test_ls_is_recursive_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.txt").write_text("x")

    assert ok("ls", str(tmp_path)).splitlines() == [str(tmp_path / "top.txt")]
    assert ok("ls", "-r", str(tmp_path)).splitlines() == [
        str(tmp_path / "sub" / "deep.txt"),
        str(tmp_path / "top.txt"),
    ]


def test_ls_orders_and_compares_timestamps_given_as_text(tmp_path: Path) -> None:
    for name, day in [("a.txt", 3), ("b.txt", 1), ("c.txt", 2)]:
        with Datafile(tmp_path / name, timestamp=f"2024-05-0{day}T12:00:00").open("w") as f:
            f.write(name)

    out = ok(
        "ls",
        str(tmp_path),
        "--filter",
        "timestamp__gt=2024-05-01T12:00:00",
        "--order-by",
        "timestamp",
        "--reverse",
    )

    assert out.splitlines() == [str(tmp_path / "a.txt"), str(tmp_path / "c.txt")]


def test_an_unknown_filter_action_is_a_usage_error_naming_the_valid_ones(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")

    result = run("ls", str(tmp_path), "--filter", "size__frob=1")

    assert result.returncode == 2
    line = one_line_error(result)
    assert "frob" in line
    assert "gt, gte" in line


# --- labels and tags --------------------------------------------------------------------------


@on_backends
def test_label_add_and_remove_store_the_labels(backend: Backend) -> None:
    write(backend, "a.csv", labels=["old"])

    ok("label", "add", backend.url("a.csv"), "raw", "wind-speed")
    assert stored(backend, "a.csv").labels == {"old", "raw", "wind-speed"}

    ok("label", "remove", backend.url("a.csv"), "old", "never-there")
    assert stored(backend, "a.csv").labels == {"raw", "wind-speed"}


@on_backends
def test_tag_values_are_json_where_they_parse_and_text_otherwise(backend: Backend) -> None:
    write(backend, "a.csv")

    ok(
        "tag",
        "set",
        backend.url("a.csv"),
        "site=north",
        "height_m=80",
        "ok=true",
        'code="042"',
        'turbines=["t1","t2"]',
        "ratio=NaN",
    )

    assert stored(backend, "a.csv").tags == {
        "site": "north",
        "height_m": 80,
        "ok": True,
        "code": "042",
        "turbines": ["t1", "t2"],
        "ratio": "NaN",
    }
    ok("tag", "unset", backend.url("a.csv"), "site", "not-a-tag")
    assert "site" not in stored(backend, "a.csv").tags


@on_cloud
def test_label_and_tag_transfer_no_content(backend: Backend) -> None:
    write(backend, "a.csv", b"x" * 100_000)

    with backend.server.recording() as requests:
        ok("label", "add", backend.url("a.csv"), "raw")
        ok("tag", "set", backend.url("a.csv"), "site=north")

    assert content_gets(backend, requests, "a.csv") == 0
    assert not [r for r in requests if r["method"] in ("PUT", "POST") and "upload" in r["path"]]
    assert backend.read("a.csv") == b"x" * 100_000


def test_a_bad_label_exits_2_with_the_fix_and_changes_nothing(tmp_path: Path) -> None:
    df = Datafile(tmp_path / "a.csv", labels=["raw"])
    with df.open("w") as f:
        f.write("x")

    result = run("label", "add", str(tmp_path / "a.csv"), "ok", "Wind Speed")

    assert result.returncode == 2
    assert "try 'wind-speed'" in one_line_error(result)
    assert Datafile(tmp_path / "a.csv").labels == {"raw"}


def test_a_bad_tag_name_exits_2(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    result = run("tag", "set", str(tmp_path / "a.csv"), "Bad-Name=1")

    assert result.returncode == 2
    assert "Bad-Name" in one_line_error(result)


@pytest.mark.parametrize("command", [["ls"], ["dataset", "index"]])
def test_a_missing_directory_is_not_found_rather_than_an_empty_dataset(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(*command, str(tmp_path / "typo"))

    assert result.returncode == 3  # as any missing object (test_a_missing_object_exits_3...)
    assert f"there is no directory at {tmp_path / 'typo'}" in one_line_error(result)
    assert not (tmp_path / "typo").exists()


def test_labelling_a_missing_file_exits_3(tmp_path: Path) -> None:
    result = run("label", "add", str(tmp_path / "missing.csv"), "raw")

    assert result.returncode == 3
    assert "missing.csv" in one_line_error(result)
    assert not list(tmp_path.iterdir())


# --- transfers --------------------------------------------------------------------------------


@on_cloud
def test_upload_and_download_a_file_with_its_metadata(backend: Backend, tmp_path: Path) -> None:
    source = Datafile(tmp_path / "a.csv", labels=["raw"], tags={"site": "north"})
    with source.open("w") as f:
        f.write("speed\n4.2\n")

    report = json.loads(ok("upload", "--json", str(tmp_path / "a.csv"), backend.root + "/"))
    assert report["transferred"] == [backend.url("a.csv")]
    assert backend.read("a.csv") == b"speed\n4.2\n"
    assert stored(backend, "a.csv").tags == {"site": "north"}

    (tmp_path / "out").mkdir()
    ok("download", backend.url("a.csv"), str(tmp_path / "out"))
    assert (tmp_path / "out" / "a.csv").read_bytes() == b"speed\n4.2\n"
    assert Datafile(tmp_path / "out" / "a.csv").labels == {"raw"}


@on_cloud
def test_download_keeps_a_different_local_file_unless_told(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend, "a.csv", b"remote")
    (tmp_path / "a.csv").write_bytes(b"local edits")

    result = run("download", backend.url("a.csv"), str(tmp_path))
    assert result.returncode == 4
    assert "--overwrite" in one_line_error(result)
    assert (tmp_path / "a.csv").read_bytes() == b"local edits"

    ok("download", "--overwrite", backend.url("a.csv"), str(tmp_path))
    assert (tmp_path / "a.csv").read_bytes() == b"remote"


@on_cloud
def test_upload_and_download_a_directory_as_a_dataset(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "survey"
    for name in ("a.csv", "sub/b.csv"):
        df = Datafile(source / name, labels=["raw"])
        with df.open("w") as f:
            f.write(name)

    report = json.loads(ok("upload", "--json", str(source), backend.url("survey")))
    assert sorted(report["transferred"]) == [
        backend.url("survey/a.csv"),
        backend.url("survey/sub/b.csv"),
    ]
    assert backend.read("survey/sub/b.csv") == b"sub/b.csv"

    again = json.loads(ok("upload", "--json", str(source), backend.url("survey")))
    assert again["transferred"] == []

    ok("download", backend.url("survey"), str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "sub" / "b.csv").read_text() == "sub/b.csv"
    assert Datafile(tmp_path / "copy" / "a.csv").labels == {"raw"}


def test_download_of_nothing_exits_3(s3fs_fs: Any) -> None:
    result = run("download", "s3://octstore-test/no/such/prefix")

    assert result.returncode == 3
    assert "s3://octstore-test/no/such/prefix" in one_line_error(result)


# --- exec -------------------------------------------------------------------------------------


@on_backends
def test_exec_runs_a_program_on_local_paths(backend: Backend) -> None:
    write(backend, "a.csv", b"1\n2\n3\n")
    write(backend, "b.csv", b"1\n")

    out = ok("exec", backend.url("a.csv"), backend.url("b.csv"), "--", "wc", "-l", "{}")

    counts = [line.split()[0] for line in out.splitlines()]
    assert counts == ["3", "1", "4"]


def test_exec_numbered_placeholders_and_appended_paths(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "b.txt").write_text("B")
    a, b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")

    assert ok("exec", a, b, "--", "cat", "{1}", "{0}") == "BA"
    assert ok("exec", a, b, "--", "cat") == "AB"
    assert ok("exec", a, b, "--", "sh", "-c", "cat {1}") == "B"


def test_exec_each_runs_once_per_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "b.txt").write_text("B")

    out = ok("exec", "--each", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--", "echo")

    assert out.splitlines() == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]


def test_exec_exits_with_the_programs_code(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")

    assert run("exec", str(tmp_path / "a.txt"), "--", "sh", "-c", "exit 3").returncode == 3
    missing = run("exec", str(tmp_path / "a.txt"), "--", "no-such-program-here")
    assert missing.returncode == 127
    assert "no-such-program-here" in one_line_error(missing)


def test_exec_placeholder_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")

    result = run("exec", str(tmp_path / "a.txt"), "--", "cat", "{1}")

    assert result.returncode == 2
    assert "{1}" in one_line_error(result)


@on_cloud
def test_exec_downloads_once_then_uses_the_cache(backend: Backend) -> None:
    write(backend, "a.csv", b"1\n2\n")

    with backend.server.recording() as requests:
        ok("exec", backend.url("a.csv"), "--", "cat", "{}")
        ok("exec", backend.url("a.csv"), "--", "cat", "{}")

    assert content_gets(backend, requests, "a.csv") == 1


@on_backends
def test_exec_write_stores_what_the_program_changed(backend: Backend) -> None:
    write(backend, "in.csv", b"b\na\nc\n", labels=["raw"])
    write(backend, "untouched.csv", b"same\n")

    ok(
        "exec",
        "--write",
        backend.url("in.csv"),
        backend.url("out.csv"),
        backend.url("untouched.csv"),
        "--",
        "sh",
        "-c",
        'sort "$0" > "$1" && sed -i s/a/A/ "$0" && touch "$2"',
        "{0}",
        "{1}",
        "{2}",
    )

    assert backend.read("in.csv") == b"b\nA\nc\n"
    assert backend.read("out.csv") == b"a\nb\nc\n"
    assert stored(backend, "in.csv").labels == {"raw"}
    assert backend.read("untouched.csv") == b"same\n"


@on_backends
def test_exec_write_of_a_failing_program_writes_nothing(backend: Backend) -> None:
    write(backend, "a.csv", b"original\n")

    result = run(
        "exec", "--write", backend.url("a.csv"), "--", "sh", "-c", 'echo more >> "$0"; exit 5', "{}"
    )

    assert result.returncode == 5
    assert "no file was written" in result.stderr
    assert backend.read("a.csv") == b"original\n"


@on_cloud
def test_exec_write_never_overwrites_a_change_made_meanwhile(backend: Backend) -> None:
    write(backend, "a.csv", b"original\n")
    overwrite = (
        "import fsspec, sys; from octstore import Datafile; "
        "df = Datafile(sys.argv[1]); f = df.open('w'); "
        "h = f.__enter__(); h.write('theirs\\n'); f.__exit__(None, None, None)"
    )

    result = run(
        "exec",
        "--write",
        backend.url("a.csv"),
        "--",
        "sh",
        "-c",
        f'"{sys.executable}" -c "{overwrite}" "$1" && echo mine > "$0"',
        "{}",
        backend.url("a.csv"),
    )

    assert result.returncode == 1
    assert "changed since you read it" in result.stderr
    assert backend.read("a.csv") == b"theirs\n"
    kept = re.search(r"kept at (\S+?):", result.stderr)
    assert kept is not None
    assert Path(kept[1]).read_text() == "mine\n"


# --- datasets and the cache -------------------------------------------------------------------


@on_backends
def test_dataset_index_writes_the_manifest(backend: Backend) -> None:
    write(backend, "a.csv", labels=["raw"])
    write(backend, "b.csv")

    summary = json.loads(ok("dataset", "index", "--json", "--name", "survey", backend.root))

    assert summary["files"] == 2
    manifest = json.loads(backend.read(".octstore-dataset.json"))
    assert manifest["name"] == "survey"
    assert sorted(entry["path"] for entry in manifest["files"]) == ["a.csv", "b.csv"]


@on_cloud
def test_cache_info_prune_and_clear(backend: Backend) -> None:
    write(backend, "a.bin", b"x" * 10_000)
    ok("exec", backend.url("a.bin"), "--", "true")

    info = json.loads(ok("cache", "info", "--json"))
    assert info["entries"] == 1
    assert info["bytes"] == 10_000
    assert info["root"] == os.environ["OCTSTORE_CACHE_DIR"]

    pruned = json.loads(ok("cache", "prune", "--json", "--max-bytes", "1MB"))
    assert pruned["removed"] == []

    cleared = json.loads(ok("cache", "clear", "--json"))
    assert cleared["freed_bytes"] >= 10_000
    assert json.loads(ok("cache", "info", "--json"))["entries"] == 0


def test_cache_prune_refuses_a_size_that_is_not_one() -> None:
    result = run("cache", "prune", "--max-bytes", "lots")

    assert result.returncode == 2
    assert "500MB" in one_line_error(result)


# --- secrets and the README -------------------------------------------------------------------


def test_storage_options_are_never_printed(s3fs_fs: Any) -> None:
    secret = "sEcReT-vAlUe-123"

    result = run(
        "-o",
        f"secret={secret}",
        "-o",
        "key=testing-key-id",
        "--debug",
        "info",
        "s3://octstore-test/missing.csv",
    )

    assert result.returncode == 3  # not found
    assert secret not in result.stderr + result.stdout


def test_the_readme_tour_runs_verbatim(tmp_path: Path) -> None:
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(), re.DOTALL)
    tour = blocks[0]
    install = 'python3 -m pip install -e ".[all]" && '
    assert tour.startswith(install), "the README's first command installs, then tours"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tour.removeprefix(install)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    listed, *counted = result.stdout.splitlines()
    assert listed.endswith("/north.csv")
    assert '"site":"north"' in listed
    assert [line.split()[0] for line in counted] == ["3", "2", "5"]


def run_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str, bytes]:
    """Run the CLI with stderr on a pseudo-terminal: exit code, stdout, and what stderr got."""
    import pty

    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    with subprocess.Popen(
        [executable, *args], stdout=subprocess.PIPE, stderr=terminal, cwd=cwd, env=env, text=True
    ) as process:
        os.close(terminal)
        out, _ = process.communicate(timeout=120)
    shown = b""
    with contextlib.suppress(OSError):  # the terminal closes when the process ends
        while chunk := os.read(controller, 65536):
            shown += chunk
    os.close(controller)
    return process.returncode, out, shown


def test_transfers_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    for number in range(20):
        (tmp_path / "src" / f"{number}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "src" / f"{number}.txt").write_text(str(number))

    code, out, shown = run_on_a_terminal("download", "src", "on-terminal", cwd=tmp_path)
    assert code == 0
    assert b"downloading src" in shown
    assert "20 transferred" in out

    code, _, shown = run_on_a_terminal("--quiet", "download", "src", "quiet", cwd=tmp_path)
    assert code == 0
    assert shown == b""

    piped = run("download", "src", "piped", cwd=tmp_path)
    assert piped.returncode == 0
    assert piped.stderr == ""


# --- found in review --------------------------------------------------------------------------


@on_cloud
def test_upload_goes_into_an_existing_prefix_and_keeps_other_content(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("survey/old.csv", b"old")
    (tmp_path / "a.csv").write_bytes(b"mine")
    ok("upload", str(tmp_path / "a.csv"), backend.url("survey"))
    assert backend.read("survey/a.csv") == b"mine"

    (tmp_path / "a.csv").write_bytes(b"edited")
    refused = run("upload", str(tmp_path / "a.csv"), backend.url("survey"))
    assert refused.returncode == 4
    assert "--overwrite" in one_line_error(refused)
    assert backend.read("survey/a.csv") == b"mine"

    ok("upload", "--overwrite", str(tmp_path / "a.csv"), backend.url("survey"))
    assert backend.read("survey/a.csv") == b"edited"


@on_cloud
def test_download_of_a_prefix_lands_by_the_urls_name_not_the_manifests(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend, "survey/a.csv", b"a")
    ok("dataset", "index", "--name", "../../escaped", backend.url("survey"))
    (tmp_path / "work").mkdir()

    ok("download", backend.url("survey"), cwd=tmp_path / "work")

    assert (tmp_path / "work" / "survey" / "a.csv").read_bytes() == b"a"
    assert not list(tmp_path.parent.glob("escaped"))


def test_exec_write_creates_no_file_the_program_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x\n")

    ok("exec", "--write", str(tmp_path / "in.csv"), str(tmp_path / "typo.csv"), "--", "cat", "{0}")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]


def test_exec_write_creates_an_empty_file_the_program_made(tmp_path: Path) -> None:
    ok("exec", "--write", str(tmp_path / "new.txt"), "--", "touch", "{}")

    assert (tmp_path / "new.txt").read_bytes() == b""


def test_exec_braces_are_written_doubled(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("12\n3\n")

    out = ok("exec", str(tmp_path / "a.txt"), "--", "grep", "-cE", "^[0-9]{{2}}$", "{0}")

    assert out.strip() == "1"


def test_exec_leaves_ctrl_c_to_the_program(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("before\n")
    started = tmp_path / "started"
    script = f'trap "echo caught" INT; touch {started}; sleep 2; echo after >> "$0"'
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))

    with subprocess.Popen(
        [executable, "exec", "--write", str(tmp_path / "a.txt"), "--", "sh", "-c", script, "{}"],
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        for _ in range(600):
            if started.exists():
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)  # to octstore alone: it must wait for the program
        _, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert (tmp_path / "a.txt").read_text() == "before\nafter\n"


def test_exec_reports_each_file_when_a_write_back_fails(s3fs_fs: Any, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")

    result = run(
        "exec",
        "--write",
        str(tmp_path / "a.txt"),
        "s3://no-such-bucket-here/b.txt",
        "--",
        "sh",
        "-c",
        'echo x >> "$0"; echo y > "$1"',
        "{0}",
        "{1}",
    )

    assert result.returncode == 1
    assert f"{tmp_path / 'a.txt'}: written" in result.stderr
    assert "s3://no-such-bucket-here/b.txt: not written" in result.stderr
    assert (tmp_path / "a.txt").read_text() == "a\nx\n"


def test_listings_leave_out_octstores_temp_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / ".a.csv.abcd_123.tmp").write_text("half written")
    (tmp_path / ".b.csv.x1y2z3w4.tmp").mkdir()
    (tmp_path / ".b.csv.x1y2z3w4.tmp" / "b.csv").write_text("a program's copy")

    assert ok("ls", "-r", str(tmp_path)).splitlines() == [str(tmp_path / "a.csv")]


def test_credentials_in_a_url_are_never_printed() -> None:
    result = run("info", "ftp://someone:pa55word@127.0.0.1:1/x.csv")

    assert result.returncode == 1
    assert "pa55word" not in result.stderr
    assert "ftp://***@127.0.0.1:1/x.csv" in one_line_error(result)


def test_a_group_without_a_command_shows_its_help() -> None:
    result = run("label")

    assert result.returncode == 2
    assert "add" in result.stderr
    assert "remove" in result.stderr


def test_info_of_a_file_with_no_stored_metadata_shows_no_id(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x")

    [info] = json.loads(ok("info", "--json", str(tmp_path / "plain.txt")))

    assert info["id"] is None
    assert info["metadata_location"] is None
    assert "none stored yet" in ok("info", str(tmp_path / "plain.txt"))


# --- the attachment store ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_store_add_list_fetch_and_gc(backend: Backend, tmp_path: Path) -> None:
    store = backend.url("attachments")
    (tmp_path / "memo.txt").write_bytes(b"Feed the cats!")
    (tmp_path / "old.txt").write_bytes(b"no longer needed")

    memo, old = ok(
        "store", "add", store, str(tmp_path / "memo.txt"), str(tmp_path / "old.txt")
    ).split()
    assert memo.endswith("/memo.txt")
    assert old.endswith("/old.txt")
    assert ok("store", "add", store, str(tmp_path / "memo.txt")).strip() == memo  # stored once

    listed = json.loads(ok("store", "list", "--json", store))
    assert sorted((item["size"], item["names"]) for item in listed) == [
        (14, ["memo.txt"]),
        (16, ["old.txt"]),
    ]

    fetched = ok("store", "fetch", store, memo, str(tmp_path / "out") + "/").strip()
    assert Path(fetched).read_bytes() == b"Feed the cats!"
    assert Path(fetched) == tmp_path / "out" / "memo.txt"

    (tmp_path / "referenced").write_text(memo + "\n")
    report = json.loads(
        ok(
            "store",
            "gc",
            "--json",
            store,
            "--referenced",
            str(tmp_path / "referenced"),
            "--grace",
            "0s",
        )
    )
    assert [item["names"] for item in report["deleted"]] == [["old.txt"]]
    assert [item["names"] for item in json.loads(ok("store", "list", "--json", store))] == [
        ["memo.txt"]
    ]


def test_store_gc_needs_the_referenced_handles(tmp_path: Path) -> None:
    result = run("store", "gc", str(tmp_path / "store"))

    assert result.returncode == 2
    assert "--referenced" in one_line_error(result)


def test_store_add_reads_standard_input_under_a_name(tmp_path: Path) -> None:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    result = subprocess.run(
        [executable, "store", "add", str(tmp_path / "store"), "-", "--name", "piped.txt"],
        input=b"from a pipe",
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip().endswith("/piped.txt")


def test_a_malformed_handle_exits_2_with_the_form_of_one(tmp_path: Path) -> None:
    result = run("store", "fetch", str(tmp_path / "store"), "../../etc/passwd")

    assert result.returncode == 2
    assert "<sha256 hex>/<file name>" in one_line_error(result)


def test_serve_answers_ranges_over_real_http(tmp_path: Path) -> None:
    (tmp_path / "memo.txt").write_bytes(b"Feed the cats!")
    handle = ok("store", "add", str(tmp_path / "store"), str(tmp_path / "memo.txt")).strip()
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))

    with subprocess.Popen(
        [executable, "serve", str(tmp_path / "store"), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stderr is not None
            line = server.stderr.readline()
            address = re.search(r"http://127\.0\.0\.1:\d+/", line)
            assert address is not None, line
            request = urllib.request.Request(address[0] + handle, headers={"Range": "bytes=0-3"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 206
                assert response.read() == b"Feed"
                assert "attachment" in response.headers["Content-Disposition"]
        finally:
            server.terminate()
            server.wait(timeout=30)
