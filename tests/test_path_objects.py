"""Every path object users hold is taken where octstore takes a location: str (chained URLs
included), pathlib, universal_pathlib's UPath, cloudpathlib's CloudPath and fsspec
(filesystem, path) pairs; anything else is an InvalidArgumentError, never a local file."""

from __future__ import annotations

import os
import pathlib
import uuid
import zipfile
from pathlib import Path
from typing import Any

import fsspec
import pytest
from cloudpathlib import GSClient, GSPath, S3Client, S3Path
from upath import UPath

from octstore import Datafile, Dataset, InvalidArgumentError, OctstoreError, Store
from octstore.location import Location
from tests.servers import DUMMY_AWS_CREDENTIALS, GCS_BUCKET, S3_BUCKET, GcsServer, S3Server


@pytest.fixture
def memory_root() -> Any:
    root = f"/octstore-paths/{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("memory")
    yield root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _write(datafile: Datafile, text: str) -> None:
    with datafile.open("w") as f:
        f.write(text)


def _read(datafile: Datafile) -> str:
    with datafile.open() as f:
        text: str = f.read()
    return text


def _s3_client(server: S3Server) -> S3Client:
    return S3Client(
        endpoint_url=server.endpoint_url,
        aws_access_key_id=DUMMY_AWS_CREDENTIALS["key"],
        aws_secret_access_key=DUMMY_AWS_CREDENTIALS["secret"],
    )


def _gs_client(server: GcsServer) -> GSClient:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="octstore-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": server.endpoint_url},
    )
    return GSClient(storage_client=client)


# --- str, chained URLs included -------------------------------------------------------------


def test_a_chained_url_reads_the_file_it_names(memory_root: str) -> None:
    fsspec.filesystem("memory").pipe(f"{memory_root}/x.csv", b"a,b\n")

    assert _read(Datafile(f"simplecache::memory://{memory_root}/x.csv")) == "a,b\n"


def test_a_chained_url_into_an_archive_reads_its_member(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("inside/x.csv", "1,2\n")

    datafile = Datafile(f"zip://inside/x.csv::{archive}")

    assert datafile.name == "x.csv"
    assert _read(datafile) == "1,2\n"


# --- os.PathLike ----------------------------------------------------------------------------


def test_a_pathlib_path_is_that_local_file(tmp_path: Path) -> None:
    datafile = Datafile(tmp_path / "x.csv")
    _write(datafile, "local")

    assert datafile.path == str(tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text() == "local"


def test_any_os_pathlike_is_a_local_path(tmp_path: Path) -> None:
    class Held(os.PathLike[str]):
        def __fspath__(self) -> str:
            return str(tmp_path / "held.csv")

    assert Datafile(Held()).path == str(tmp_path / "held.csv")


# --- upath.UPath ----------------------------------------------------------------------------


def test_a_memory_upath_is_the_memory_file(memory_root: str) -> None:
    datafile = Datafile(UPath(f"memory://{memory_root}/x.csv"))
    _write(datafile, "in memory")

    assert datafile.path == f"memory://{memory_root.lstrip('/')}/x.csv"
    assert fsspec.filesystem("memory").cat(f"{memory_root}/x.csv") == b"in memory"


def test_a_local_upath_is_the_local_file(tmp_path: Path) -> None:
    assert Datafile(UPath(tmp_path / "x.csv")).path == str(tmp_path / "x.csv")
    assert Datafile(UPath(f"file://{tmp_path}/x.csv")).path == str(tmp_path / "x.csv")


def test_a_chained_upath_keeps_its_chain_and_options(memory_root: str) -> None:
    fsspec.filesystem("memory").pipe(f"{memory_root}/x.csv", b"cached")

    datafile = Datafile(UPath(f"simplecache::memory://{memory_root}/x.csv"))

    assert datafile.path.startswith("simplecache::memory://")
    assert _read(datafile) == "cached"


def test_an_s3_upath_carries_its_storage_options(
    s3_server: S3Server, s3fs_fs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")  # only the UPath says where the server is
    path = UPath(
        f"s3://{S3_BUCKET}/upath/x.csv",
        endpoint_url=s3_server.endpoint_url,
        key=DUMMY_AWS_CREDENTIALS["key"],
        secret=DUMMY_AWS_CREDENTIALS["secret"],
    )

    datafile = Datafile(path, labels=["raw"])
    _write(datafile, "to the bucket")

    assert datafile.storage_options["endpoint_url"] == s3_server.endpoint_url
    assert s3fs_fs.cat(f"{S3_BUCKET}/upath/x.csv") == b"to the bucket"
    assert Datafile(path).labels == {"raw"}


def test_explicit_storage_options_win_over_the_path_objects_key_by_key() -> None:
    path = UPath("s3://b/k.csv", endpoint_url="http://from-upath", key="upath-key")

    location = Location(path, {"endpoint_url": "http://given"})

    assert location.storage_options == {"endpoint_url": "http://given", "key": "upath-key"}


def test_an_fsspec_pair_given_other_options_gets_a_filesystem_with_them() -> None:
    fs = fsspec.filesystem("memory")

    assert Location((fs, "/x.csv")).fs is fs
    assert Location((fs, "/x.csv"), {"skip_instance_cache": True}).fs is not fs


# --- cloudpathlib.CloudPath -----------------------------------------------------------------


def test_a_cloudpathlib_s3path_writes_to_the_bucket_never_a_local_file(
    s3_server: S3Server, s3fs_fs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    path = S3Path(f"s3://{S3_BUCKET}/cloudpathlib/x.csv", client=_s3_client(s3_server))
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")  # only the client says where the server is

    datafile = Datafile(path)
    _write(datafile, "to the bucket")

    assert datafile.path == f"s3://{S3_BUCKET}/cloudpathlib/x.csv"
    assert s3fs_fs.cat(f"{S3_BUCKET}/cloudpathlib/x.csv") == b"to the bucket"
    assert not any(tmp_path.iterdir())


def test_a_cloudpathlib_s3path_carries_its_clients_endpoint_and_credentials(
    s3_server: S3Server,
) -> None:
    path = S3Path(f"s3://{S3_BUCKET}/x.csv", client=_s3_client(s3_server))

    options = Datafile(path).storage_options

    assert options["endpoint_url"] == s3_server.endpoint_url
    assert (options["key"], options["secret"]) == (
        DUMMY_AWS_CREDENTIALS["key"],
        DUMMY_AWS_CREDENTIALS["secret"],
    )


def test_credentials_a_cloudpathlib_client_found_itself_are_left_to_s3fs(
    s3_server: S3Server,
) -> None:
    path = S3Path(f"s3://{S3_BUCKET}/x.csv", client=S3Client(endpoint_url=s3_server.endpoint_url))

    assert "key" not in Datafile(path).storage_options  # s3fs reads the same environment


def test_a_cloudpathlib_gspath_writes_to_the_bucket(
    gcs_server: GcsServer, gcs_fs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = GSPath(f"gs://{GCS_BUCKET}/cloudpathlib/x.csv", client=_gs_client(gcs_server))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")  # only the client says where the server is

    datafile = Datafile(path, tags={"source": "cloudpathlib"})
    _write(datafile, "to the bucket")

    assert datafile.storage_options["endpoint_url"] == gcs_server.endpoint_url
    assert datafile.storage_options["token"] == "anon"
    assert gcs_fs.cat(f"{GCS_BUCKET}/cloudpathlib/x.csv") == b"to the bucket"
    assert Datafile(path).tags == {"source": "cloudpathlib"}


def test_a_dataset_lists_a_cloudpathlib_prefix(s3_server: S3Server, s3fs_fs: Any) -> None:
    s3fs_fs.pipe(f"{S3_BUCKET}/listed/a.csv", b"a")
    s3fs_fs.pipe(f"{S3_BUCKET}/listed/b.csv", b"b")

    dataset = Dataset(S3Path(f"s3://{S3_BUCKET}/listed", client=_s3_client(s3_server)))

    assert sorted(datafile.name for datafile in dataset) == ["a.csv", "b.csv"]


# --- fsspec (filesystem, path) pairs --------------------------------------------------------


def test_an_fsspec_pair_uses_that_filesystem(memory_root: str) -> None:
    fs = fsspec.filesystem("memory")

    datafile = Datafile((fs, f"{memory_root}/x.csv"))
    _write(datafile, "paired")

    assert datafile.path == f"memory://{memory_root.lstrip('/')}/x.csv"
    assert fs.cat(f"{memory_root}/x.csv") == b"paired"


def test_an_fsspec_pair_carries_the_filesystems_storage_options(
    s3_server: S3Server, s3fs_fs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3_server.storage_options)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")

    datafile = Datafile((fs, f"{S3_BUCKET}/paired/x.csv"))
    _write(datafile, "paired")

    assert datafile.path == f"s3://{S3_BUCKET}/paired/x.csv"
    assert datafile.storage_options["endpoint_url"] == s3_server.endpoint_url
    assert s3fs_fs.cat(f"{S3_BUCKET}/paired/x.csv") == b"paired"


def test_a_local_fsspec_pair_is_the_local_file(tmp_path: Path) -> None:
    datafile = Datafile((fsspec.filesystem("file"), str(tmp_path / "x.csv")))

    assert datafile.path == str(tmp_path / "x.csv")


def test_a_store_and_a_dataset_take_path_objects(memory_root: str) -> None:
    store = Store(UPath(f"memory://{memory_root}/store"))
    handle = store.add("memo.txt", b"Feed the cats!")
    fs = fsspec.filesystem("memory")

    assert store.open(handle).read() == b"Feed the cats!"
    assert len(Dataset((fs, f"{memory_root}/store"))) == 1


# --- anything else --------------------------------------------------------------------------


class OnlyPrintable:
    def __str__(self) -> str:
        return "/looks/like/a/path.csv"


@pytest.mark.parametrize(
    ("bogus", "named"),
    [
        (42, "int"),
        (object(), "object"),
        (OnlyPrintable(), "OnlyPrintable"),
        (b"/bytes/path.csv", "bytes"),
        (("not", "a pair"), "tuple"),
        ((fsspec.filesystem("memory"), 7), "int"),
    ],
    ids=["int", "object", "only-str-able", "bytes", "tuple", "pair-without-str"],
)
@pytest.mark.parametrize("taker", [Datafile, Dataset, Store], ids=lambda t: t.__name__)
def test_anything_else_is_an_invalid_argument_naming_its_type(
    bogus: object, named: str, taker: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match=named) as raised:
        taker(bogus)

    assert isinstance(raised.value, TypeError)
    assert isinstance(raised.value, OctstoreError)


def test_an_only_printable_object_never_becomes_a_local_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="OnlyPrintable"):
        Datafile(OnlyPrintable())

    assert not pathlib.Path("/looks/like/a/path.csv").exists()


def test_a_dataset_refuses_an_unknown_file_in_its_list() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot hold a int"):
        Dataset(files=[42])
