"""What octue's users do with a ``Datafile`` works on octstore with only the import changed
(issue 19): the constructor's ``mode``/``local_path``/``cloud_path``, ``with Datafile(...) as
(datafile, f)``, uploads that move the datafile, and octue's names."""

from __future__ import annotations

import contextlib
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from octstore import AlreadyExistsError, ConflictError, Datafile, Dataset, OctstoreError
from tests.conftest import Backend

REMOTE = ["memory", "s3", "gcs", "az"]


def make(backend: Backend, name: str = "data.csv", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def local_file(tmp_path: Path, name: str = "local.csv", content: str = "a,b\n") -> Datafile:
    path = tmp_path / name
    path.write_text(content)
    return Datafile(path, labels=["raw"], tags={"site": "north"})


# --- the constructor and the context manager ---------------------------------------------


def test_with_datafile_in_write_mode_gives_the_datafile_and_its_file(backend: Backend) -> None:
    with make(backend, mode="w", labels=["new"]) as (datafile, f):
        f.write("x,y\n")
        datafile.tags["rows"] = 1

    stored = make(backend)
    assert backend.read("data.csv") == b"x,y\n"
    assert (stored.labels, stored.tags) == ({"new"}, {"rows": 1})
    assert datafile.id == stored.id


def test_with_datafile_reads_by_default_and_stores_metadata_changed_in_the_block(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"content")

    with make(backend) as (datafile, f):
        assert f.read() == "content"
        datafile.labels.add("seen")

    assert make(backend).labels == {"seen"}


def test_with_datafile_that_raises_stores_nothing(backend: Backend) -> None:
    backend.write("data.csv", b"before")

    with pytest.raises(RuntimeError), make(backend, mode="w") as (datafile, f):
        f.write("half")
        datafile.labels.add("never")
        raise RuntimeError("stop")

    assert backend.read("data.csv") == b"before"
    assert make(backend).labels == set()


def test_a_datafile_cannot_be_entered_twice_at_once(backend: Backend) -> None:
    datafile = make(backend, mode="w")
    with datafile, pytest.raises(OctstoreError, match="already open"):
        datafile.__enter__()


def test_stored_metadata_wins_over_the_constructors_unless_ignored(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    make(backend, labels=["stored"], tags={"k": 1}).update_metadata()

    assert make(backend, labels=["given"]).labels == {"stored"}
    ignoring = make(backend, labels=["given"], tags={"k": 2}, ignore_stored_metadata=True)
    assert (ignoring.labels, ignoring.tags) == ({"given"}, {"k": 2})


def test_a_datafile_pickles_with_its_metadata_and_links(backend: Backend, tmp_path: Path) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    datafile.labels.add("unsaved")

    copy = pickle.loads(pickle.dumps(datafile))

    assert copy == datafile
    assert copy.labels == {"raw", "unsaved"}
    assert copy.cloud_path == datafile.cloud_path


# --- octue's names ------------------------------------------------------------------------


def test_octues_names_describe_a_remote_file(backend: Backend) -> None:
    backend.write("dir/data.csv", b"12345")
    datafile = make(backend, "dir/data.csv", timestamp=datetime(2024, 5, 1, tzinfo=timezone.utc))
    bucket, _, key = backend.url("dir/data.csv").split("://", 1)[-1].partition("/")

    assert datafile.size_bytes == 5
    assert datafile.posix_timestamp == datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp()
    if backend.name == "local":
        assert (datafile.bucket_name, datafile.path_in_bucket) == (None, None)
    else:
        assert (datafile.bucket_name, datafile.path_in_bucket) == (bucket, key)


def test_a_new_datafile_has_no_size_and_the_empty_contents_hash(backend: Backend) -> None:
    datafile = make(backend, "new.csv")

    assert datafile.size_bytes is None
    assert datafile.posix_timestamp is None
    assert datafile.hash_value == "AAAAAA=="


def test_datafiles_order_by_path(backend: Backend) -> None:
    first, second = make(backend, "a.csv"), make(backend, "b.csv")

    assert first < second
    assert second > first
    assert sorted([second, first]) == [first, second]
    with pytest.raises(TypeError):
        assert first < "b.csv"  # type: ignore[operator]


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_update_cloud_metadata_stores_a_remote_files_metadata(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    datafile = make(backend)
    datafile.labels.add("cloud")

    datafile.update_cloud_metadata()

    assert make(backend).labels == {"cloud"}


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_update_cloud_metadata_of_a_local_file_stores_it_at_its_cloud_copy(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    datafile.labels.add("later")

    datafile.update_cloud_metadata()

    assert make(backend, "copy.csv").labels == {"raw", "later"}
    assert Datafile(datafile.path).labels == set()  # no local sidecar is written


def test_update_cloud_metadata_of_a_local_file_with_no_cloud_copy_says_what_to_do(
    tmp_path: Path,
) -> None:
    with pytest.raises(OctstoreError, match=r"upload\(cloud_path\)"):
        local_file(tmp_path).update_cloud_metadata()


def test_update_local_metadata_stores_a_local_files_sidecar(tmp_path: Path) -> None:
    datafile = local_file(tmp_path)
    datafile.tags["site"] = "south"

    datafile.update_local_metadata()

    assert Datafile(datafile.path).tags == {"site": "south"}


# --- uploads that move the datafile -------------------------------------------------------


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_an_uploaded_local_file_keeps_its_path_and_gains_a_cloud_path(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    url = backend.url("copy.csv")

    assert datafile.upload(url, storage_options=backend.storage_options) == url

    assert (datafile.path, datafile.local_path) == (str(tmp_path / "local.csv"),) * 2
    assert datafile.cloud_path == url
    assert datafile.exists_in_cloud
    assert backend.read("copy.csv") == b"a,b\n"
    assert make(backend, "copy.csv").labels == {"raw"}


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_uploading_an_unchanged_local_file_again_makes_no_request(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)

    with backend.server.recording() as requests:
        again = datafile.upload()

    assert again == backend.url("copy.csv")
    assert requests == []


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_later_upload_sends_changes_to_the_same_cloud_copy(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    with datafile.open("a") as f:
        f.write("1,2\n")
    datafile.labels.add("appended")

    datafile.upload()

    assert backend.read("copy.csv") == b"a,b\n1,2\n"
    assert make(backend, "copy.csv").labels == {"raw", "appended"}


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_later_upload_does_not_overwrite_a_change_made_to_the_cloud_copy_meanwhile(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    with make(backend, "copy.csv").open("w") as f:
        f.write("someone else's\n")
    datafile.labels.add("mine")

    with pytest.raises(ConflictError):
        datafile.upload()

    assert backend.read("copy.csv") == b"someone else's\n"
    assert make(backend, "copy.csv").labels == {"raw"}


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_write_to_a_local_file_goes_to_its_cloud_copy_unless_that_changed_meanwhile(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    with datafile.open("a") as f:
        f.write("1,2\n")
    assert backend.read("copy.csv") == b"a,b\n1,2\n"
    with make(backend, "copy.csv").open("w") as f:
        f.write("someone else's\n")

    with pytest.raises(ConflictError), datafile.open("a") as f:
        f.write("mine\n")

    assert backend.read("copy.csv") == b"someone else's\n"
    assert Path(datafile.path).read_text() == "a,b\n1,2\nmine\n"  # the local write stands


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_remote_file_uploaded_elsewhere_is_moved_there(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    datafile = make(backend, labels=["moved"])
    datafile.update_metadata()

    url = datafile.upload(backend.url("elsewhere/data.csv"))

    assert url == backend.url("elsewhere/data.csv")
    assert datafile.path == datafile.cloud_path == url
    assert backend.read("elsewhere/data.csv") == b"content"
    assert make(backend, "elsewhere/data.csv").labels == {"moved"}
    assert backend.read("data.csv") == b"content"  # the original is left where it was


def test_a_misspelt_upload_keyword_is_an_error_not_a_storage_option(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        local_file(tmp_path).upload("memory://b/x.csv", update_cloud_metdata=False)  # type: ignore[call-arg]


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_octues_update_cloud_metadata_keyword_keeps_the_cloud_metadata(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("copy.csv", b"old")
    make(backend, "copy.csv", labels=["theirs"]).update_metadata()

    local_file(tmp_path).upload(
        backend.url("copy.csv"),
        storage_options=backend.storage_options,
        update_cloud_metadata=False,
    )

    assert backend.read("copy.csv") == b"a,b\n"
    assert make(backend, "copy.csv").labels == {"theirs"}


def test_update_metadata_and_its_octue_name_cannot_disagree(tmp_path: Path) -> None:
    with pytest.raises(OctstoreError, match="give only update_metadata"):
        local_file(tmp_path).upload(
            "memory://b/x.csv", update_metadata=False, update_cloud_metadata=True
        )


def test_the_cloud_path_setter_uploads_and_none_forgets_it(tmp_path: Path) -> None:
    datafile = local_file(tmp_path)

    datafile.cloud_path = "memory://octstore-test/setter/local.csv"

    assert Datafile("memory://octstore-test/setter/local.csv").labels == {"raw"}
    datafile.cloud_path = None
    assert datafile.cloud_path is None
    assert not datafile.exists_in_cloud


def test_a_cloud_path_given_to_the_constructor_gets_the_content_as_octues_does(
    tmp_path: Path,
) -> None:
    (tmp_path / "old.csv").write_text("x")
    Datafile(tmp_path / "old.csv", cloud_path="memory://octstore-test/ctor/old.csv")
    assert Datafile("memory://octstore-test/ctor/old.csv").exists_in_cloud

    new = Datafile(tmp_path / "new.csv", cloud_path="memory://octstore-test/ctor/new.csv")
    assert new.cloud_path == "memory://octstore-test/ctor/new.csv"
    assert not new.exists_in_cloud  # no content yet: nothing sent
    with Datafile(
        tmp_path / "new.csv", cloud_path="memory://octstore-test/ctor/new.csv", mode="w"
    ) as (_, f):
        f.write("y")
    with Datafile("memory://octstore-test/ctor/new.csv").open() as f:
        assert f.read() == "y"


# --- a remote file's local copy -----------------------------------------------------------


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_remote_files_local_path_can_be_a_file_of_the_users_choice(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("data.csv", b"content")
    datafile = make(backend)
    target = tmp_path / "mine.csv"

    datafile.local_path = target

    assert datafile.local_path == str(target)
    assert target.read_bytes() == b"content"
    assert datafile.exists_locally
    with open(datafile) as f:
        assert f.read() == "content"


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_local_path_holding_other_content_is_refused_and_left_alone(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("data.csv", b"content")
    target = tmp_path / "mine.csv"
    target.write_text("precious")

    with pytest.raises(AlreadyExistsError, match="other content"):
        make(backend).local_path = target

    assert target.read_text() == "precious"


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_the_local_copy_follows_writes_and_its_edits_are_uploaded(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("data.csv", b"one")
    datafile = make(backend, local_path=tmp_path / "mine.csv")
    with datafile.open("w") as f:
        f.write("two")
    assert Path(datafile.local_path).read_text() == "two"

    Path(datafile.local_path).write_text("three")
    datafile.upload()

    assert backend.read("data.csv") == b"three"
    assert Path(datafile.local_path).read_text() == "three"


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_edits_to_the_local_copy_are_never_overwritten(backend: Backend, tmp_path: Path) -> None:
    backend.write("data.csv", b"one")
    datafile = make(backend, local_path=tmp_path / "mine.csv")
    Path(datafile.local_path).write_text("my edit")
    with make(backend).open("w") as f:
        f.write("someone else's")

    assert Path(datafile.local_path).read_text() == "my edit"
    with pytest.raises(ConflictError):
        datafile.upload()
    assert backend.read("data.csv") == b"someone else's"


def test_setting_a_local_files_local_path_moves_it_to_a_new_file(tmp_path: Path) -> None:
    datafile = local_file(tmp_path)
    datafile.update_metadata()

    datafile.local_path = tmp_path / "moved.csv"

    assert datafile.path == datafile.local_path == str(tmp_path / "moved.csv")
    assert Path(datafile.path).read_text() == "a,b\n"
    assert Datafile(tmp_path / "moved.csv").labels == {"raw"}
    assert (tmp_path / "local.csv").read_text() == "a,b\n"  # the original is left


def test_a_local_files_local_path_cannot_be_an_existing_other_file(tmp_path: Path) -> None:
    datafile = local_file(tmp_path)
    (tmp_path / "other.csv").write_text("precious")

    with pytest.raises(AlreadyExistsError):
        datafile.local_path = tmp_path / "other.csv"

    assert (tmp_path / "other.csv").read_text() == "precious"
    assert datafile.path == str(tmp_path / "local.csv")


# --- octue's other arguments and forms ----------------------------------------------------


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_hypothetical_datafile_reads_nothing_and_its_first_write_adds_its_metadata(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"content")
    make(backend, labels=["stored"]).update_metadata()

    with backend.server.recording() if backend.server else contextlib.nullcontext([]) as requests:
        datafile = make(backend, labels=["given"], hypothetical=True)
    assert requests == []
    assert datafile.labels == {"given"}

    datafile.update_metadata()
    assert make(backend).labels == {"given", "stored"}  # added to what is stored: none lost


def test_deserialise_reads_octues_serialised_form(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    serialised = {
        "id": "0b4ae7a0-2d7c-4a71-8c3a-0f0e2d2b1a11",
        "name": "a.csv",
        "path": "a.csv",
        "cloud_path": None,
        "timestamp": {"_type": "datetime", "value": "2024-05-01T12:00:00"},
        "tags": {"site": "north"},
        "labels": ["raw"],
        "_cloud_metadata": {},
    }

    datafile = Datafile.deserialise(serialised, path_from=str(tmp_path))

    assert datafile.path == str(tmp_path / "a.csv")
    assert datafile.id == serialised["id"]
    assert datafile.timestamp == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert (datafile.labels, datafile.tags) == ({"raw"}, {"site": "north"})


def test_to_primitive_has_octues_keys_and_round_trips(tmp_path: Path) -> None:
    datafile = local_file(tmp_path)

    primitive = datafile.to_primitive()

    assert set(primitive) == {
        "id", "name", "path", "local_path", "cloud_path", "timestamp", "tags", "labels",
        "_cloud_metadata",
    }  # fmt: skip
    assert Datafile.deserialise(primitive) == datafile


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_uploading_an_unchanged_loaded_remote_file_makes_no_request(backend: Backend) -> None:
    with make(backend, labels=["raw"]).open("w") as f:
        f.write("content")
    loaded = next(iter(Dataset(backend.root, storage_options=backend.storage_options)))

    with backend.server.recording() as requests:
        assert loaded.upload() == loaded.path

    assert requests == []


# --- what a review found ------------------------------------------------------------------


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_update_cloud_metadata_keeps_a_label_another_writer_added_there(
    backend: Backend, tmp_path: Path
) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    theirs = make(backend, "copy.csv")
    theirs.labels.add("reviewed")
    theirs.update_metadata()
    datafile.labels.add("mine")

    datafile.update_cloud_metadata()

    assert make(backend, "copy.csv").labels == {"raw", "reviewed", "mine"}
    with datafile.open("a") as f:  # and a later upload is no conflict with our own change
        f.write("1,2\n")
    assert backend.read("copy.csv") == b"a,b\n1,2\n"


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_metadata_kept_by_an_upload_is_sent_by_the_next_one(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("copy.csv", b"old")
    datafile = local_file(tmp_path)
    datafile.upload(
        backend.url("copy.csv"), storage_options=backend.storage_options, update_metadata=False
    )
    assert make(backend, "copy.csv").labels == set()

    datafile.upload()

    assert make(backend, "copy.csv").labels == {"raw"}


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_conflicting_upload_says_where_the_content_is(backend: Backend, tmp_path: Path) -> None:
    datafile = local_file(tmp_path)
    datafile.upload(backend.url("copy.csv"), storage_options=backend.storage_options)
    with make(backend, "copy.csv").open("w") as f:
        f.write("theirs")
    Path(datafile.path).write_text("mine")

    with pytest.raises(ConflictError) as raised:
        datafile.upload()

    assert raised.value.kept_at == datafile.path
    assert Path(raised.value.kept_at).read_text() == "mine"
    assert "cloud_path = None" in str(raised.value)


@pytest.mark.parametrize("backend", REMOTE, indirect=True)
def test_a_cloud_path_given_to_the_constructor_never_replaces_other_content(
    backend: Backend, tmp_path: Path
) -> None:
    backend.write("copy.csv", b"newer, in the cloud")
    (tmp_path / "stale.csv").write_text("stale")

    with pytest.raises(AlreadyExistsError, match="upload"):
        Datafile(
            tmp_path / "stale.csv",
            cloud_path=backend.url("copy.csv"),
            storage_options=backend.storage_options,
        )

    assert backend.read("copy.csv") == b"newer, in the cloud"


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_a_move_within_gcs_is_one_rewrite_and_no_content_transfer(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    datafile = make(backend, labels=["moved"])

    with backend.server.recording() as requests:
        datafile.upload(backend.url("elsewhere.csv"))

    paths = [request["path"] for request in requests]
    assert sum("rewriteTo" in path for path in paths) == 1
    assert not any("alt=media" in path or "/upload/" in path for path in paths)
    assert make(backend, "elsewhere.csv").labels == {"moved"}
