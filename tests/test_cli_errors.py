"""Errors at the command line: one line that says what happened and what to do, in the
command line's own syntax, and an exit code per kind (0 done, 1 failed, 2 wrong usage,
3 not found, 4 conflict, 5 access denied), each seen in a real run of the console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Backend
from tests.test_cli import ok, on_backends, on_cloud, one_line_error, run, write

# --- the exit codes ---------------------------------------------------------------------------


def test_help_lists_the_exit_codes() -> None:
    out = " ".join(ok("--help").split())

    for code in (
        "0 done",
        "1 failed",
        "2 wrong usage",
        "3 not found",
        "4 conflict",
        "5 access denied",
    ):
        assert code in out, code


def test_a_failure_of_another_kind_exits_1() -> None:
    result = run("info", "ftp://127.0.0.1:1/x.csv")  # nothing listens there

    assert result.returncode == 1
    assert "ftp://127.0.0.1:1/x.csv" in one_line_error(result)


@pytest.mark.parametrize(
    "args",
    [["ls", "--frobnicate"], ["label", "add", "{dir}/a.csv", "Raw"], ["info", "nosuch://b/x"]],
    ids=["unknown option", "invalid label", "unknown protocol"],
)
def test_wrong_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a.csv").write_text("x")

    result = run(*(arg.format(dir=tmp_path) for arg in args))

    assert result.returncode == 2
    one_line_error(result)


@on_backends
def test_a_missing_file_exits_3(backend: Backend) -> None:
    result = run("info", backend.url("missing.txt"))

    assert result.returncode == 3
    assert f"there is no file at {backend.url('missing.txt')}" in one_line_error(result)


@on_backends
def test_uploading_onto_other_content_exits_4_and_says_overwrite(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend, "a.csv", b"theirs")
    (tmp_path / "a.csv").write_bytes(b"mine")

    result = run("upload", str(tmp_path / "a.csv"), backend.url("a.csv"))

    assert result.returncode == 4
    error = one_line_error(result)
    assert f"{backend.url('a.csv')} exists with other content" in error
    assert "--overwrite" in error
    assert "overwrite=True" not in error
    assert backend.read("a.csv") == b"theirs"


@on_backends
def test_downloading_onto_other_content_exits_4_and_says_overwrite(
    backend: Backend, tmp_path: Path
) -> None:
    write(backend, "a.csv", b"theirs")
    (tmp_path / "a.csv").write_bytes(b"mine")

    result = run("download", backend.url("a.csv"), str(tmp_path))

    assert result.returncode == 4
    error = one_line_error(result)
    assert f"{tmp_path / 'a.csv'} exists with other content" in error
    assert "(with --overwrite)" in error
    assert "overwrite=True" not in error
    assert (tmp_path / "a.csv").read_bytes() == b"mine"


def test_fetching_from_a_store_onto_other_content_exits_4_and_says_overwrite(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.csv").write_bytes(b"stored")
    handle = ok("store", "add", str(tmp_path / "store"), str(tmp_path / "a.csv")).strip()
    (tmp_path / "a.csv").write_bytes(b"mine")

    result = run("store", "fetch", str(tmp_path / "store"), handle, str(tmp_path / "a.csv"))

    assert result.returncode == 4
    error = one_line_error(result)
    assert "--overwrite" in error
    assert "overwrite=True" not in error
    assert (tmp_path / "a.csv").read_bytes() == b"mine"


def _without_aws_credentials() -> dict[str, str]:
    """This environment with no AWS credentials anywhere botocore would look."""
    return {
        **{
            key: value
            for key, value in os.environ.items()
            if key not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")
        },
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_no_credentials_for_s3_exits_5_and_says_how_to_give_them(s3fs_fs: object) -> None:
    result = _run_with(_without_aws_credentials(), "info", "s3://octstore-test/a.csv")

    assert result.returncode == 5
    error = one_line_error(result)
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in error
    assert "-o anon=true for a public bucket" in error
    assert "storage_options" not in error


def test_no_credentials_for_a_dataset_names_the_dataset_not_its_manifest(
    s3fs_fs: object,
) -> None:
    result = _run_with(_without_aws_credentials(), "ls", "s3://octstore-test/raw")

    assert result.returncode == 5
    error = one_line_error(result)
    assert "s3://octstore-test/raw" in error
    assert ".octstore-dataset.json" not in error
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in error


def test_no_credentials_for_azure_exits_5_and_says_how_to_give_them() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZURE_")}

    result = _run_with(env, "info", "az://octstore-test/a.csv")

    assert result.returncode == 5
    error = one_line_error(result)
    assert "set AZURE_STORAGE_CONNECTION_STRING" in error
    assert "-o account_name=ACCOUNT -o anon=true for a public container" in error
    assert "storage_options" not in error


def _run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))
    return subprocess.run([executable, *args], capture_output=True, text=True, timeout=120, env=env)


# --- bucket names and missing buckets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "url", "why"),
    [
        ("ls", "s3://Bad_Bucket!/x", "it holds '!'"),
        ("info", "s3://a b/x.csv", "it holds ' '"),
        ("ls", "gs://ab", "it has 2 characters"),
        ("info", "gs://Bad_Bucket/x.csv", "it holds 'B'"),
        ("info", "gs://-bucket/x.csv", "it starts with '-'"),
        ("ls", "az://Data", "it holds 'D'"),
    ],
)
def test_an_invalid_bucket_name_exits_2_saying_why(
    s3fs_fs: object, gcs_fs: object, command: str, url: str, why: str
) -> None:
    result = run(command, url)

    assert result.returncode == 2
    error = one_line_error(result)
    bucket, kind = url.split("/")[2], KIND[url.split(":")[0]][0]
    assert f"the {kind} name {bucket!r} in {url!r} is invalid: {why}" in error
    assert f"{kind} names are" in error
    assert "network" not in error


#: What each cloud calls a bucket, and what decides which ones a client sees.
KIND = {
    "s3": ("bucket", "the endpoint"),
    "gs": ("bucket", "the endpoint"),
    "az": ("container", "the storage account"),
}


@on_cloud
@pytest.mark.parametrize("command", ["ls", "info", "download", "dataset index"])
def test_a_missing_bucket_exits_3_saying_so(backend: Backend, command: str) -> None:
    scheme = backend.url().split("://")[0]
    url = f"{scheme}://no-such-bucket-xyz/data/x.csv"

    kind, reach = KIND[scheme]

    result = run(*command.split(), url)

    assert result.returncode == 3
    error = one_line_error(result)
    assert f"the {kind} 'no-such-bucket-xyz' does not exist (" in error
    assert f"check the {kind} name, {reach}" in error


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_a_missing_gcs_bucket_is_one_line_with_gcsfs_bucket_type_lookups(
    backend: Backend,
) -> None:
    """gcsfs's own warnings (its bucket-type lookup, on by default for users) would print
    before octstore's error, through logging's last resort."""
    env = {**os.environ, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "true"}

    result = _run_with(env, "ls", "gs://no-such-bucket-xyz/data")

    assert result.returncode == 3
    assert "the bucket 'no-such-bucket-xyz' does not exist" in one_line_error(result)


@on_cloud
def test_adding_to_a_store_in_a_missing_bucket_exits_3_at_once(
    backend: Backend, tmp_path: Path
) -> None:
    scheme = backend.url().split("://")[0]
    (tmp_path / "a.csv").write_bytes(b"x")

    result = run("store", "add", f"{scheme}://no-such-bucket-xyz/store", str(tmp_path / "a.csv"))

    assert result.returncode == 3
    assert f"the {KIND[scheme][0]} 'no-such-bucket-xyz' does not exist" in one_line_error(result)


# --- URLs with one slash ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("s3:/octstore-test/x.csv", "s3://octstore-test/x.csv"),
        ("gs:/b", "gs://b"),
        ("s3:bucket", "s3://bucket"),
        ("s3:", "s3://"),
        ("memory:/dir/x.csv", "memory://dir/x.csv"),
    ],
)
def test_a_url_with_one_slash_exits_2_with_the_url_meant(
    tmp_path: Path, given: str, meant: str
) -> None:
    result = run("info", given, cwd=tmp_path)

    assert result.returncode == 2
    assert f"did you mean {meant}?" in one_line_error(result)


def test_uploading_to_a_url_with_one_slash_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")

    result = run("upload", "a.csv", "s3:/octstore-test/a.csv", cwd=tmp_path)

    assert result.returncode == 2
    assert "did you mean s3://octstore-test/a.csv?" in one_line_error(result)
    assert sorted(os.listdir(tmp_path)) == ["a.csv"]


@pytest.mark.parametrize("name", ["s3:notes.csv", "a:b.csv", "gs:"])
def test_a_local_file_whose_name_looks_like_a_url_is_still_read(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")

    assert ok("hash", name, cwd=tmp_path).split() == ["qTxfkw==", name]


# --- stores -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["list"], ["fetch", "{handle}"], ["gc", "--referenced", "{referenced}"]],
    ids=["list", "fetch", "gc"],
)
def test_a_store_that_does_not_exist_exits_3_saying_how_to_make_one(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "referenced.txt").write_text("")
    handle = "0" * 64 + "/a.csv"
    args = [arg.format(handle=handle, referenced=tmp_path / "referenced.txt") for arg in command]

    result = run("store", args[0], "./nostore", *args[1:], cwd=tmp_path)

    assert result.returncode == 3
    error = one_line_error(result)
    assert f"there is no store at {tmp_path / 'nostore'}" in error
    assert "octstore store add ./nostore FILE" in error
    assert not (tmp_path / "nostore").exists()


def test_an_empty_folder_is_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()

    assert ok("store", "list", str(tmp_path / "store")) == ""


# --- ordering by a tag some files lack --------------------------------------------------------


@on_backends
def test_ordering_by_a_tag_some_files_lack_names_them_and_the_filter_to_use(
    backend: Backend,
) -> None:
    write(backend, "a.csv", b"a", tags={"x": 1})
    write(backend, "b.csv", b"b")
    write(backend, "c.csv", b"c")

    result = run("ls", backend.url(), "--order-by", "tags__x")

    assert result.returncode == 2
    error = one_line_error(result)
    assert "cannot order by 'tags__x': 2 of 3 files have no tag 'x'" in error
    assert f"{backend.url('b.csv')}, {backend.url('c.csv')}" in error
    assert "keep the files that have it first: --filter tags__contains=x" in error
    assert ".filter(" not in error


# --- unwritable destinations ------------------------------------------------------------------


@on_backends
def test_downloading_into_an_unwritable_folder_exits_5_and_leaves_nothing(
    backend: Backend, unwritable: Path
) -> None:
    write(backend, "a.csv", b"content")
    before = sorted(os.listdir(unwritable))

    result = run("download", backend.url("a.csv"), f"{unwritable}/")

    assert result.returncode == 5
    assert one_line_error(result) == (
        f"octstore: error: cannot write to {unwritable / 'a.csv'}: permission denied (check "
        "the folder's permissions or choose another destination)"
    )
    assert sorted(os.listdir(unwritable)) == before


@on_backends
def test_downloading_a_prefix_into_an_unwritable_folder_exits_5(
    backend: Backend, unwritable: Path
) -> None:
    write(backend, "survey/a.csv", b"content")
    before = sorted(os.listdir(unwritable))

    result = run("download", backend.url("survey") + "/", str(unwritable / "survey"))

    assert result.returncode == 5
    error = one_line_error(result)
    assert f"cannot write to {unwritable / 'survey'}: permission denied" in error
    assert ".tmp" not in error
    assert sorted(os.listdir(unwritable)) == before


def test_uploading_into_an_unwritable_folder_exits_5(tmp_path: Path, unwritable: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"content")
    before = sorted(os.listdir(unwritable))

    result = run("upload", str(tmp_path / "a.csv"), f"{unwritable}/")

    assert result.returncode == 5
    assert f"cannot write to {unwritable / 'a.csv'}: permission denied" in one_line_error(result)
    assert sorted(os.listdir(unwritable)) == before
