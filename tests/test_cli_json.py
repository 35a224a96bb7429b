"""``--json`` on every command that prints a result: one JSON document on stdout, a list
whenever the command takes several files, the Python API's field names; accepted anywhere on
the line, and refused by the commands that print no result."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest

from octstore import Dataset
from octstore.cli import cli
from tests.conftest import Backend
from tests.test_cli import (
    ok,
    on_backends,
    on_cloud,
    one_line_error,
    run,
    run_on_a_terminal,
    stored,
    write,
)

#: The commands that print no result of their own, and so refuse ``--json``: ``exec``
#: prints what its program prints, ``cat`` the content itself, ``serve`` logs requests.
WITHOUT_JSON = {"octstore cat", "octstore exec", "octstore serve"}


def _commands(group: click.Group, prefix: str) -> dict[str, click.Command]:
    """Every command under ``group`` (groups left out) by its full name."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix} {name}"))
        else:
            found[f"{prefix} {name}"] = command
    return found


def test_every_command_that_prints_a_result_takes_json() -> None:
    # A command added later lands here: give it json_option (octstore.cli.options) if it
    # prints a result, or name it in WITHOUT_JSON if it prints none.
    without = {
        name
        for name, command in _commands(cli, "octstore").items()
        if not any(param.name == "as_json" and param.expose_value for param in command.params)
    }

    assert without == WITHOUT_JSON


def _record(backend: Backend, name: str, **expected: Any) -> dict[str, Any]:
    """What ``--json`` prints of a file after a metadata edit: ``ls --json``'s fields."""
    datafile = stored(backend, name)
    return {
        "path": datafile.path,
        "name": datafile.name,
        "size": datafile.size,
        "id": datafile.id,
        "timestamp": None,
        **expected,
    }


# --- label and tag ----------------------------------------------------------------------------


@on_backends
@pytest.mark.parametrize(
    ("command", "labels", "tags"),
    [
        (["label", "add", "qa"], ["qa", "raw"], {"site": "north", "old": 1}),
        (["label", "remove", "raw"], [], {"site": "north", "old": 1}),
        (["tag", "set", "height_m=80"], ["raw"], {"site": "north", "old": 1, "height_m": 80}),
        (["tag", "unset", "old"], ["raw"], {"site": "north"}),
    ],
    ids=["label-add", "label-remove", "tag-set", "tag-unset"],
)
def test_a_metadata_edit_prints_a_list_with_the_files_metadata_after_it(
    backend: Backend, command: list[str], labels: list[str], tags: dict[str, Any]
) -> None:
    write(backend, "a.csv", b"abc", labels=["raw"], tags={"site": "north", "old": 1})
    group, verb, value = command

    edited = json.loads(ok(group, verb, "--json", backend.url("a.csv"), value))

    assert edited == [_record(backend, "a.csv", labels=labels, tags=tags)]
    assert stored(backend, "a.csv").labels == set(labels)


@on_backends
def test_label_add_json_over_several_files_lists_each_of_them(backend: Backend) -> None:
    write(backend, "a.csv", labels=["raw"])
    write(backend, "b.csv")

    edited = json.loads(
        ok("label", "add", "--json", backend.url("a.csv"), backend.url("b.csv"), "--", "qa")
    )

    assert edited == [
        _record(backend, "a.csv", labels=["qa", "raw"], tags={}),
        _record(backend, "b.csv", labels=["qa"], tags={}),
    ]


@on_backends
def test_tag_set_json_over_a_directory_lists_only_the_files_filtered(backend: Backend) -> None:
    write(backend, "d/north.csv", tags={"site": "north"})
    write(backend, "d/south.csv", tags={"site": "south"})

    result = run("tag", "set", "--json", "-f", "tags__site=north", backend.url("d"), "qa=true")

    assert result.returncode == 0, result.stderr
    edited = json.loads(result.stdout)  # the document alone: no "N updated" line
    assert edited == [
        _record(backend, "d/north.csv", labels=[], tags={"site": "north", "qa": True})
    ]
    assert stored(backend, "d/south.csv").tags == {"site": "south"}


# --- the attachment store and transfers ---------------------------------------------------------


@on_backends
def test_store_add_and_fetch_json(backend: Backend, tmp_path: Path) -> None:
    store = backend.url("attachments")
    (tmp_path / "memo.txt").write_bytes(b"Feed the cats!")

    [added] = json.loads(ok("store", "add", "--json", store, str(tmp_path / "memo.txt")))
    handle = added["handle"]
    fetched = json.loads(ok("store", "fetch", "--json", store, handle, f"{tmp_path / 'out'}/"))

    assert added == {"path": str(tmp_path / "memo.txt"), "handle": handle}
    assert handle.endswith("/memo.txt")
    assert fetched == {"handle": handle, "path": str(tmp_path / "out" / "memo.txt")}
    assert (tmp_path / "out" / "memo.txt").read_bytes() == b"Feed the cats!"


@on_backends
def test_dataset_index_json_describes_the_dataset(backend: Backend) -> None:
    write(backend, "a.csv")
    write(backend, "sub/b.csv")

    summary = json.loads(ok("--json", "dataset", "index", "--name", "survey", backend.root))

    dataset = Dataset(backend.root, storage_options=backend.storage_options)
    assert summary == {"path": dataset.path, "id": dataset.id, "name": "survey", "files": 2}


@on_cloud
def test_download_json_prints_the_transfer_report(backend: Backend, tmp_path: Path) -> None:
    write(backend, "a.csv", b"speed")

    report = json.loads(ok("download", "--json", backend.url("a.csv"), str(tmp_path)))

    assert report == {
        "destination": str(tmp_path / "a.csv"),
        "transferred": [str(tmp_path / "a.csv")],
        "metadata_updated": [],
        "skipped": [],
        "bytes_transferred": 5,
        "destination_changed": [],
        "conflicts": [],
    }


def test_json_on_a_terminal_leaves_the_progress_on_stderr(tmp_path: Path) -> None:
    for number in range(5):
        (tmp_path / "src" / f"{number}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "src" / f"{number}.txt").write_text(str(number))

    code, out, shown = run_on_a_terminal("--json", "download", "src", "out", cwd=tmp_path)

    assert code == 0
    assert b"downloading src" in shown
    assert len(json.loads(out)["transferred"]) == 5


# --- anywhere on the line, or refused ------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        ["--json", "info", "{a}"],
        ["info", "--json", "{a}"],
        ["info", "{a}", "--json"],
        ["-q", "--json", "info", "{a}", "-v"],
    ],
)
def test_json_goes_anywhere_on_the_line(tmp_path: Path, line: list[str]) -> None:
    (tmp_path / "a.csv").write_text("x")

    info = json.loads(ok(*(part.format(a=tmp_path / "a.csv") for part in line)))

    assert [item["path"] for item in info] == [str(tmp_path / "a.csv")]


def test_json_before_a_groups_command_reaches_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    edited = json.loads(ok("label", "--json", "add", str(tmp_path / "a.csv"), "raw"))
    cache_info = json.loads(ok("--json", "cache", "info"))

    assert [item["labels"] for item in edited] == [["raw"]]
    assert cache_info["root"] == os.environ["OCTSTORE_CACHE_DIR"]


@pytest.mark.parametrize(
    "line",
    [
        ["--json", "exec", "{a}", "--", "touch", "{marker}"],
        ["exec", "{a}", "--json", "--", "touch", "{marker}"],
        ["serve", "{store}", "--json", "--port", "0"],
        ["--json", "serve", "{store}", "--port", "0"],
    ],
)
def test_a_command_that_prints_no_result_refuses_json(tmp_path: Path, line: list[str]) -> None:
    (tmp_path / "a.csv").write_text("x")
    paths = {"a": tmp_path / "a.csv", "marker": tmp_path / "ran", "store": tmp_path / "store"}

    result = run(*(part.format(**paths) for part in line))

    assert result.returncode == 2
    command = "octstore exec" if "exec" in line else "octstore serve"
    assert f"'{command}' prints no result to give as JSON: leave out --json" in (
        one_line_error(result)
    )
    assert not (tmp_path / "ran").exists()


def test_json_after_exec_s_double_dash_is_the_programs(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")

    out = ok("exec", str(tmp_path / "a.csv"), "--", "echo", "--json", "{}")

    assert out == f"--json {tmp_path / 'a.csv'}\n"
