"""The library's errors say what happened: an invalid or a missing bucket, a URL with one
slash, the files that lack what ``order_by`` names, a local destination it may not write;
and a fix that names a keyword argument carries it, for the command line to spell its way."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from octstore import (
    AccessDeniedError,
    AlreadyExistsError,
    BucketNotFoundError,
    Datafile,
    Dataset,
    InvalidPathError,
    MissingAttributeError,
    NotFoundError,
    NotWrittenError,
    Store,
)
from octstore.dataset.transfer import copy_one
from octstore.errors import Keyword
from octstore.filters import FilterList
from octstore.location import Location
from tests.conftest import Backend

on_cloud = pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)

# --- bucket names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://Bad_Bucket!/x.csv", "it holds '!'"),
        ("s3://" + "b" * 256 + "/x.csv", "it has 256 characters"),
        ("s3:///x.csv", "it is empty"),
        ("gs://ab/x.csv", "it has 2 characters"),
        ("gs://" + "b" * 64 + "/x.csv", "it has 64 characters"),
        ("gcs://Bad_Bucket/x.csv", "it holds 'B'"),
        ("gs://bucket-/x.csv", "it ends with '-'"),
        ("gs://" + "b" * 64 + ".c/x.csv", "it has a part of 64 characters"),
        ("az://Data/x.csv", "it holds 'D'"),
        ("az://my_data/x.csv", "it holds '_'"),
        ("az://ab/x.csv", "it has 2 characters"),
        ("abfs://my--data/x.csv", "it holds '--'"),
        ("az://-data/x.csv", "it starts with '-'"),
    ],
)
def test_a_bucket_name_no_server_can_have_is_refused_before_any_request(url: str, why: str) -> None:
    with pytest.raises(InvalidPathError, match=r"(bucket|container) names are") as raised:
        Location(url)

    assert f"is invalid: {why}" in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "s3://octstore-test/x.csv",
        "s3://My_Old_Bucket/x.csv",  # older S3 buckets may hold uppercase letters and '_'
        "s3://b/x.csv",  # an S3-compatible server may allow short names
        "s3://KEY:SECRET@bucket/x.csv",
        "s3://arn:aws:s3:us-west-2:123456789012:accesspoint/ap/x.csv",
        "gs://octstore-test/x.csv",
        "gs://my_bucket.example.com/x.csv",
        "gs://" + "b" * 63,
        "simplecache::s3://octstore-test/x.csv",
        "az://octstore-test/x.csv",
        "az://$web/index.html",
        "abfs://octstore-test@account.dfs.core.windows.net/x.csv",
        "abfs://account.dfs.core.windows.net/octstore-test/x.csv",
    ],
)
def test_a_valid_bucket_name_is_accepted(url: str) -> None:
    assert Location(url).url


def test_an_invalid_bucket_name_costs_no_request(s3_server: object, s3fs_fs: object) -> None:
    with (
        s3_server.recording() as requests,  # type: ignore[attr-defined]
        pytest.raises(InvalidPathError),
    ):
        Datafile("s3://Bad_Bucket!/x.csv").size  # noqa: B018

    assert requests == []


# --- missing buckets --------------------------------------------------------------------------


def test_a_password_in_an_azure_url_is_never_shown_as_its_container() -> None:
    with pytest.raises(InvalidPathError) as raised:
        Location("az://user:pw12@Account/x.csv")

    assert "pw12" not in str(raised.value)
    assert "'Account'" in str(raised.value)


def _in_missing_bucket(backend: Backend, path: str) -> str:
    return f"{backend.url().split('://')[0]}://no-such-bucket-xyz/{path}"


#: What each cloud calls a bucket, as its errors say.
KIND = {"s3": "bucket", "gs": "bucket", "az": "container"}


def _missing(backend: Backend) -> str:
    return f"the {KIND[backend.url().split('://')[0]]} 'no-such-bucket-xyz' does not exist"


@on_cloud
def test_listing_in_a_missing_bucket_says_the_bucket_does_not_exist(backend: Backend) -> None:
    with pytest.raises(BucketNotFoundError, match=_missing(backend)):
        Dataset(_in_missing_bucket(backend, "survey"))


@on_cloud
def test_writing_to_a_missing_bucket_says_the_bucket_does_not_exist(backend: Backend) -> None:
    with pytest.raises(NotWrittenError) as raised:
        Datafile(_in_missing_bucket(backend, "a.csv")).write_bytes(b"x")

    assert _missing(backend) in str(raised.value)
    assert raised.value.kept_at is not None
    assert Path(raised.value.kept_at).read_bytes() == b"x"  # the content, kept


@on_cloud
def test_adding_to_a_store_in_a_missing_bucket_fails_at_once(backend: Backend) -> None:
    store = Store(_in_missing_bucket(backend, "attachments"))

    kind = KIND[backend.url().split("://")[0]]
    with pytest.raises(BucketNotFoundError, match=f"check the {kind} name, the "):
        store.add("a.csv", b"x")


@on_cloud
def test_a_missing_bucket_is_also_a_not_found_error(backend: Backend) -> None:
    with pytest.raises(NotFoundError):
        Dataset(_in_missing_bucket(backend, "survey"))
    with pytest.raises(FileNotFoundError):
        Dataset(_in_missing_bucket(backend, "survey"))


# --- URLs with one slash ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("s3:/bucket/x.csv", "s3://bucket/x.csv"),
        ("gs:/bucket", "gs://bucket"),
        ("gcs:bucket/x.csv", "gcs://bucket/x.csv"),
        ("s3:", "s3://"),
        ("memory:/dir/x.csv", "memory://dir/x.csv"),
    ],
)
def test_a_url_with_one_slash_is_refused_with_the_url_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str, meant: str
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(InvalidPathError, match=f"did you mean {meant}\\?"):
        Datafile(given)


@pytest.mark.parametrize("name", ["s3:notes.csv", "gs:", "x:y.csv", "file:name.csv"])
def test_a_local_path_with_a_colon_is_a_local_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(b"x")

    assert Location(name).url == str(tmp_path / name)
    assert Datafile(name).read_bytes() == b"x"


def test_a_new_local_file_named_after_an_unknown_protocol_can_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    Datafile("notes:2024.csv").write_bytes(b"x")

    assert (tmp_path / "notes:2024.csv").read_bytes() == b"x"


# --- order_by on what some objects lack -------------------------------------------------------


def test_order_by_a_key_some_objects_lack_names_each_of_them() -> None:
    items = FilterList(
        [
            SimpleNamespace(name="a", tags={"x": 1}),
            SimpleNamespace(name="b", tags={}),
            SimpleNamespace(name="c", tags={"x": 2}),
            SimpleNamespace(name="d", tags={}),
        ]
    )

    with pytest.raises(MissingAttributeError) as raised:
        items.order_by("tags__x")

    message = str(raised.value)
    assert message.startswith("cannot order by 'tags__x': namespace(name='b', tags={}), ")
    assert "namespace(name='d', tags={}) have no key 'x' in 'tags' (2 of 4 objects)" in message
    assert ".filter(tags__contains='x').order_by('tags__x')" in message
    assert [item.name for item in raised.value.missing] == ["b", "d"]
    assert raised.value.keep == {"tags__contains": "x"}


def test_order_by_names_the_datafiles_lacking_a_tag(tmp_path: Path) -> None:
    Datafile(tmp_path / "a.csv", tags={"x": 1}).write_bytes(b"a")
    Datafile(tmp_path / "b.csv").write_bytes(b"b")

    with pytest.raises(MissingAttributeError, match=r"<Datafile\('b.csv'\)> has no key 'x'"):
        Dataset(tmp_path).files.order_by("tags__x")


def test_order_by_names_at_most_a_few_of_many_objects_lacking_it() -> None:
    items = FilterList([SimpleNamespace(n=n, tags={}) for n in range(100)])

    with pytest.raises(MissingAttributeError, match=r"and 95 more have .* \(100 of 100") as raised:
        items.order_by("tags__x")

    assert len(raised.value.missing) == 100


# --- local destinations it may not write ------------------------------------------------------


def test_downloading_into_an_unwritable_folder_names_the_file_not_a_temp_file(
    backend: Backend, unwritable: Path
) -> None:
    source = Datafile(backend.url("a.csv"), storage_options=backend.storage_options)
    source.write_bytes(b"content")
    before = sorted(os.listdir(unwritable))

    with pytest.raises(AccessDeniedError) as raised:
        copy_one(source, Location(str(unwritable / "a.csv")))

    assert str(raised.value) == (
        f"cannot write to {unwritable / 'a.csv'}: permission denied (check the folder's "
        "permissions or choose another destination)"
    )
    assert sorted(os.listdir(unwritable)) == before


def test_a_dataset_downloaded_into_an_unwritable_folder_is_refused(
    backend: Backend, unwritable: Path
) -> None:
    Datafile(backend.url("survey/a.csv"), storage_options=backend.storage_options).write_bytes(b"x")
    dataset = Dataset(backend.url("survey"), storage_options=backend.storage_options)

    with pytest.raises(AccessDeniedError, match=r"cannot write to .*: permission denied"):
        dataset.download(unwritable / "survey")


# --- fixes that name keyword arguments --------------------------------------------------------


def test_a_fix_naming_a_keyword_argument_carries_it(backend: Backend, tmp_path: Path) -> None:
    source = Datafile(tmp_path / "a.csv")
    source.write_bytes(b"mine")
    Datafile(backend.url("a.csv"), storage_options=backend.storage_options).write_bytes(b"theirs")
    destination = Location(backend.url("a.csv"), backend.storage_options)

    with pytest.raises(AlreadyExistsError) as raised:
        copy_one(source, destination, overwrite=False)

    assert raised.value.keywords == (Keyword("overwrite", True),)
    assert "(with overwrite=True)" in str(raised.value)
