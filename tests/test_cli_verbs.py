"""``cat``, ``cp``, ``mv`` and ``rm``, and glob patterns in every argument that takes many
files: the console script run as a user runs it, on local files, S3 and GCS."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from octstore import Datafile, Dataset, NotFoundError
from octstore.cli.options import exit_code
from tests.conftest import Backend
from tests.test_cli import content_gets, ok, on_backends, on_cloud, one_line_error, run, write
from tests.test_datafile import http_root  # noqa: F401 - a fixture

#: The exit code of a missing file (see ``octstore.cli.options.exit_code``).
NOT_FOUND = exit_code(NotFoundError("x"))
CONFLICT = 4
USAGE = 2
BINARY = bytes(range(256)) * 3 + b"\r\n\x00end"


def run_for_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    return subprocess.run([executable, *args], capture_output=True, timeout=120)


def stored(backend: Backend, name: str) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options)


def exists(backend: Backend, name: str) -> bool:
    backend.fs.invalidate_cache()
    return bool(backend.fs.exists(backend.url(name)))


def names_under(backend: Backend, folder: str = "") -> list[str]:
    """Every file or object under ``folder``, hidden ones included, relative to it."""
    root = backend.url(folder) if folder else backend.root
    backend.fs.invalidate_cache()
    if not backend.fs.exists(root):
        return []
    prefix = backend.fs._strip_protocol(root).rstrip("/") + "/"
    return sorted(path[len(prefix) :] for path in backend.fs.find(root))


def as_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


def test_help_lists_cat_cp_mv_and_rm() -> None:
    out = ok("--help")

    for command in ("cat", "cp", "mv", "rm"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), command


# --- cat ------------------------------------------------------------------------------------


@on_backends
def test_cat_writes_each_files_bytes_in_turn(backend: Backend) -> None:
    write(backend, "a.bin", BINARY)
    write(backend, "b.bin", b"second\n")

    result = run_for_bytes("cat", backend.url("a.bin"), backend.url("b.bin"))

    assert result.returncode == 0, result.stderr
    assert result.stdout == BINARY + b"second\n"


def test_cat_prints_the_others_and_names_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a\n")
    (tmp_path / "c.txt").write_bytes(b"c\n")

    result = run("cat", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), str(tmp_path / "c.txt"))

    assert result.returncode == NOT_FOUND
    assert result.stdout == "a\nc\n"
    assert str(tmp_path / "b.txt") in one_line_error(result)


def test_cat_of_an_hdf5_name_gives_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "not-really.h5").write_bytes(b"\x89HDF-ish bytes")

    assert run_for_bytes("cat", str(tmp_path / "not-really.h5")).stdout == b"\x89HDF-ish bytes"


def test_cat_reads_an_http_url(http_root: tuple[str, Path]) -> None:  # noqa: F811
    base, directory = http_root
    (directory / "page.bin").write_bytes(BINARY)

    assert run_for_bytes("cat", f"{base}/page.bin").stdout == BINARY


# --- cp -------------------------------------------------------------------------------------


@on_backends
def test_cp_copies_the_content_with_labels_tags_and_timestamp(backend: Backend) -> None:
    source = write(
        backend, "a.csv", b"speed\n4.2\n", labels=["raw"], tags={"site": "north"}, timestamp=0
    )

    ok("cp", backend.url("a.csv"), backend.url("copy.csv"))

    copy = stored(backend, "copy.csv")
    assert backend.read("copy.csv") == b"speed\n4.2\n"
    assert (copy.labels, copy.tags, copy.timestamp) == (
        {"raw"},
        {"site": "north"},
        source.timestamp,
    )
    assert copy.id == stored(backend, "a.csv").id  # as the library's copies: the file's id
    assert backend.read("a.csv") == b"speed\n4.2\n"


@on_backends
def test_cp_refuses_other_content_unless_overwrite(backend: Backend) -> None:
    write(backend, "a.csv", b"new")
    write(backend, "b.csv", b"old", labels=["kept"])

    refused = run("cp", backend.url("a.csv"), backend.url("b.csv"))

    assert refused.returncode == CONFLICT
    assert "--overwrite" in one_line_error(refused)
    assert backend.read("b.csv") == b"old"
    assert stored(backend, "b.csv").labels == {"kept"}

    ok("cp", "--overwrite", backend.url("a.csv"), backend.url("b.csv"))
    assert backend.read("b.csv") == b"new"


@on_backends
def test_cp_of_the_same_content_again_is_a_no_op(backend: Backend) -> None:
    write(backend, "a.csv", b"same", labels=["raw"])
    ok("cp", backend.url("a.csv"), backend.url("b.csv"))

    again = as_json("cp", backend.url("a.csv"), backend.url("b.csv"))

    assert again == [
        {
            "source": stored(backend, "a.csv").path,
            "destination": backend.url("b.csv"),
            "outcome": "skipped",
        }
    ]


@on_cloud
def test_cp_between_local_disk_and_the_cloud_and_within_it(
    backend: Backend, tmp_path: Path
) -> None:
    local = Datafile(tmp_path / "a.csv", labels=["raw"], tags={"n": 1})
    with local.open("wb") as f:
        f.write(BINARY)

    ok("cp", str(tmp_path / "a.csv"), backend.url("up.csv"))
    ok("cp", backend.url("up.csv"), backend.url("within.csv"))
    ok("cp", backend.url("within.csv"), str(tmp_path / "down.csv"))

    for copy in (stored(backend, "up.csv"), stored(backend, "within.csv")):
        assert (copy.labels, copy.tags) == ({"raw"}, {"n": 1})
    assert backend.read("within.csv") == BINARY
    down = Datafile(tmp_path / "down.csv")
    assert (tmp_path / "down.csv").read_bytes() == BINARY
    assert (down.labels, down.tags) == ({"raw"}, {"n": 1})


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_cp_within_gcs_moves_no_content_through_the_client(backend: Backend) -> None:
    write(backend, "a.bin", BINARY, labels=["raw"])

    with backend.server.recording() as requests:
        ok("cp", backend.url("a.bin"), backend.url("copy.bin"))
        ok("cp", backend.url("a.bin"), backend.url("copy.bin"), backend.url("folder/"))

    assert backend.read("copy.bin") == backend.read("folder/copy.bin") == BINARY
    assert stored(backend, "folder/a.bin").labels == {"raw"}
    assert (
        content_gets(backend, requests, "a.bin") + content_gets(backend, requests, "copy.bin") == 0
    )


@on_backends
def test_cp_of_several_files_into_a_folder(backend: Backend) -> None:
    write(backend, "a.csv", b"a", labels=["one"])
    write(backend, "b.csv", b"b", labels=["two"])

    copied = as_json("cp", backend.url("a.csv"), backend.url("b.csv"), backend.url("out") + "/")

    assert [(entry["destination"], entry["outcome"]) for entry in copied] == [
        (backend.url("out/a.csv"), "transferred"),
        (backend.url("out/b.csv"), "transferred"),
    ]
    assert stored(backend, "out/b.csv").labels == {"two"}
    assert backend.read("out/a.csv") == b"a"


@on_backends
def test_cp_of_several_files_needs_a_folder(backend: Backend) -> None:
    write(backend, "a.csv", b"a")
    write(backend, "b.csv", b"b")

    result = run("cp", backend.url("a.csv"), backend.url("b.csv"), backend.url("c.csv"))

    assert result.returncode == USAGE
    assert "end it with '/'" in one_line_error(result)
    assert not exists(backend, "c.csv")


@on_backends
def test_cp_r_copies_a_directory_or_prefix_with_its_metadata(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend, "survey/a.csv", b"a", labels=["raw"])
    write(backend, "survey/sub/b.csv", b"b", tags={"site": "north"})

    ok("cp", "-r", backend.url("survey"), backend.url("copy"))
    ok("cp", "-r", backend.url("survey"), str(tmp_path / "local"))

    assert backend.read("copy/sub/b.csv") == b"b"
    assert stored(backend, "copy/a.csv").labels == {"raw"}
    assert Datafile(tmp_path / "local" / "sub" / "b.csv").tags == {"site": "north"}
    assert len(Dataset(str(tmp_path / "local"))) == 2
    # Its contents into the copy, again: each file is there already.
    again = as_json("cp", "-r", backend.url("survey/*"), backend.url("copy/"))
    assert [(entry["destination"], entry["outcome"]) for entry in again] == [
        (backend.url("copy/a.csv"), "skipped"),
        (stored(backend, "copy/sub/b.csv").path, "skipped"),
    ]


@on_backends
def test_cp_goes_into_an_existing_folder_by_name(backend: Backend) -> None:
    write(backend, "survey/a.csv", b"a")
    write(backend, "copies/old.csv", b"old")

    ok("cp", "-r", backend.url("survey"), backend.url("copies"))

    assert backend.read("copies/survey/a.csv") == b"a"


@on_backends
def test_cp_of_a_directory_without_r_says_to_add_it(backend: Backend) -> None:
    write(backend, "survey/a.csv", b"a")

    result = run("cp", backend.url("survey"), backend.url("copy"))

    assert result.returncode == USAGE
    assert "add -r" in one_line_error(result)
    assert names_under(backend, "copy") == []


def test_cp_of_a_missing_file_copies_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"a")

    result = run("cp", str(tmp_path / "a.csv"), str(tmp_path / "nope.csv"), str(tmp_path / "out/"))

    assert result.returncode == NOT_FOUND
    assert "nope.csv" in one_line_error(result)
    assert not (tmp_path / "out").exists()


# --- mv -------------------------------------------------------------------------------------


@on_backends
def test_mv_moves_a_file_with_its_metadata_and_leaves_nothing_behind(backend: Backend) -> None:
    write(backend, "a.csv", b"content", labels=["raw"])
    write(backend, "other.csv", b"stays")

    moved = as_json("mv", backend.url("a.csv"), backend.url("moved/a.csv"))

    assert moved == [
        {
            "source": stored(backend, "a.csv").path,
            "destination": backend.url("moved/a.csv"),
            "outcome": "transferred",
            "removed": True,
        }
    ]
    assert backend.read("moved/a.csv") == b"content"
    assert stored(backend, "moved/a.csv").labels == {"raw"}
    assert [name for name in names_under(backend) if "a.csv" in name and "/" not in name] == []
    assert backend.read("other.csv") == b"stays"


@on_backends
def test_mv_refused_at_the_destination_leaves_the_source(backend: Backend) -> None:
    write(backend, "a.csv", b"mine", labels=["raw"])
    write(backend, "b.csv", b"theirs")

    result = run("mv", backend.url("a.csv"), backend.url("b.csv"))

    assert result.returncode == CONFLICT
    assert "--overwrite" in one_line_error(result)
    assert backend.read("a.csv") == b"mine"
    assert stored(backend, "a.csv").labels == {"raw"}
    assert backend.read("b.csv") == b"theirs"


@on_backends
def test_mv_r_moves_a_directory_and_its_manifest(backend: Backend) -> None:
    write(backend, "survey/a.csv", b"a", labels=["raw"])
    write(backend, "survey/sub/b.csv", b"b")
    ok("dataset", "index", backend.url("survey"))

    ok("mv", "-r", backend.url("survey"), backend.url("moved"))

    assert names_under(backend, "survey") == []
    assert stored(backend, "moved/a.csv").labels == {"raw"}
    assert backend.read("moved/sub/b.csv") == b"b"


def test_mv_onto_itself_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"a")
    (tmp_path / "d").mkdir()

    same = run("mv", str(tmp_path / "a.csv"), str(tmp_path))
    inside = run("mv", "-r", str(tmp_path / "d"), str(tmp_path / "d" / "sub"))

    assert (same.returncode, inside.returncode) == (USAGE, USAGE)
    assert "same file" in one_line_error(same)
    assert "into itself" in one_line_error(inside)
    assert (tmp_path / "a.csv").read_bytes() == b"a"


# --- rm -------------------------------------------------------------------------------------


@on_backends
def test_rm_removes_the_file_and_its_metadata(backend: Backend) -> None:
    write(backend, "a.csv", b"a", labels=["raw"], tags={"notes": "x" * 3000})  # spills on S3
    write(backend, "b.csv", b"b")

    removed = as_json("rm", backend.url("a.csv"))

    assert removed == [{"path": stored(backend, "a.csv").path, "removed": True}]
    assert [name for name in names_under(backend) if "a.csv" in name] == []
    sidecars = [".b.csv.octstore.json"] if backend.name == "local" else []
    assert names_under(backend) == [*sidecars, "b.csv"]


@on_backends
def test_rm_refuses_a_directory_without_r(backend: Backend) -> None:
    write(backend, "survey/a.csv", b"a")

    result = run("rm", backend.url("survey"))

    assert result.returncode == USAGE
    assert "add -r" in one_line_error(result)
    assert backend.read("survey/a.csv") == b"a"


@on_backends
def test_rm_r_removes_a_directory_with_its_manifest(backend: Backend) -> None:
    write(backend, "survey/a.csv", b"a", labels=["raw"])
    write(backend, "survey/sub/b.csv", b"b")
    write(backend, "kept.csv", b"kept")
    ok("dataset", "index", backend.url("survey"))

    out = ok("rm", "-r", backend.url("survey"))

    assert out.splitlines() == [
        f"removed {stored(backend, 'survey/a.csv').path}",
        f"removed {stored(backend, 'survey/sub/b.csv').path}",
    ]
    assert names_under(backend, "survey") == []
    assert not os.path.exists(backend.url("survey")) or backend.is_cloud
    assert backend.read("kept.csv") == b"kept"


@on_backends
def test_rm_of_a_missing_file_names_it_and_removes_nothing(backend: Backend) -> None:
    write(backend, "a.csv", b"a")

    result = run("rm", backend.url("a.csv"), backend.url("missing.csv"))

    assert result.returncode == NOT_FOUND
    assert "missing.csv" in one_line_error(result)
    assert backend.read("a.csv") == b"a"


# --- glob patterns --------------------------------------------------------------------------


@pytest.fixture
def raw(backend: Backend) -> Backend:
    """Two .csv files and a .txt file in raw/, one more .csv below it, all with metadata."""
    write(backend, "raw/a.csv", b"a", labels=["raw"])
    write(backend, "raw/b.csv", b"bb", labels=["raw"])
    write(backend, "raw/notes.txt", b"notes", labels=["raw"])
    write(backend, "raw/deep/c.csv", b"ccc", labels=["raw"])
    return backend


def paths(raw: Backend, *names: str) -> list[str]:
    return [stored(raw, name).path for name in names]


@on_backends
def test_info_and_hash_take_a_pattern(raw: Backend) -> None:
    info = as_json("info", raw.url("raw/*.csv"))
    hashes = as_json("hash", raw.url("raw/**/*.csv"))

    assert [entry["path"] for entry in info] == paths(raw, "raw/a.csv", "raw/b.csv")
    assert [entry["path"] for entry in hashes] == paths(
        raw, "raw/a.csv", "raw/b.csv", "raw/deep/c.csv"
    )


@on_backends
def test_ls_takes_a_pattern(raw: Backend) -> None:
    listed = ok("ls", raw.url("raw/*.csv")).splitlines()
    everything = ok("ls", "-r", raw.url("raw/*")).splitlines()

    assert listed == paths(raw, "raw/a.csv", "raw/b.csv")
    assert everything == paths(raw, "raw/a.csv", "raw/b.csv", "raw/deep/c.csv", "raw/notes.txt")


@on_backends
def test_label_and_tag_take_a_pattern(raw: Backend) -> None:
    ok("label", "add", raw.url("raw/*.csv"), "checked")
    ok("tag", "set", raw.url("raw/[ab].csv"), raw.url("raw/*.txt"), "--", "site=north")

    assert stored(raw, "raw/b.csv").labels == {"raw", "checked"}
    assert stored(raw, "raw/notes.txt").labels == {"raw"}
    assert stored(raw, "raw/deep/c.csv").labels == {"raw"}
    assert stored(raw, "raw/notes.txt").tags == {"site": "north"}
    assert stored(raw, "raw/a.csv").tags == {"site": "north"}


@on_backends
def test_exec_and_cat_take_a_pattern(raw: Backend) -> None:
    counted = ok("exec", raw.url("raw/*.csv"), "--", "wc", "-c", "{}")
    printed = ok("cat", raw.url("raw/?.csv"))

    assert [line.split()[0] for line in counted.splitlines()[:2]] == ["1", "2"]
    assert printed == "abb"


@on_backends
def test_cp_mv_and_rm_take_a_pattern(raw: Backend) -> None:
    ok("cp", raw.url("raw/*.csv"), raw.url("copies") + "/")
    ok("mv", raw.url("raw/*.txt"), raw.url("moved") + "/")
    ok("rm", raw.url("copies/b*"))

    assert [name for name in names_under(raw, "copies") if not name.startswith(".")] == ["a.csv"]
    assert stored(raw, "moved/notes.txt").labels == {"raw"}
    assert not exists(raw, "raw/notes.txt")


@on_backends
def test_a_pattern_matching_nothing_is_not_found(raw: Backend) -> None:
    for command in (["info"], ["cat"], ["rm"], ["ls"], ["cp", raw.url("out") + "/"]):
        arguments = [raw.url("raw/*.parquet"), *command[1:]]
        result = run(command[0], *arguments)

        assert result.returncode == NOT_FOUND, command
        assert f"nothing matches {raw.url('raw/*.parquet')}" in one_line_error(result)


@on_backends
def test_a_pattern_never_matches_octstores_own_files(raw: Backend) -> None:
    ok("dataset", "index", raw.url("raw"))

    listed = as_json("info", raw.url("raw/*"))

    assert [entry["name"] for entry in listed] == ["a.csv", "b.csv", "notes.txt"]


def test_a_file_named_like_a_pattern_is_taken_as_itself(tmp_path: Path) -> None:
    (tmp_path / "[x].csv").write_bytes(b"bracketed")

    assert ok("cat", str(tmp_path / "[x].csv")) == "bracketed"


def test_cat_into_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(BINARY * 10_000)
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))

    with subprocess.Popen(
        [executable, "cat", str(tmp_path / "big.bin")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(5) == BINARY[:5]
        process.stdout.close()  # as `| head -c 5` does
        error = process.stderr.read()
        process.wait(timeout=60)

    assert error == b""


def test_rm_of_a_file_named_twice_removes_it_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_bytes(b"a")

    out = ok("rm", "-r", str(tmp_path / "d"), str(tmp_path / "d" / "a.csv"), str(tmp_path / "d/*"))

    assert out.splitlines() == [f"removed {tmp_path / 'd' / 'a.csv'}"]
    assert not (tmp_path / "d").exists()
