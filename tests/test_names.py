"""File names are names, never patterns: every name a filesystem allows round-trips with its
metadata on every backend, and the names octstore keeps for itself are refused clearly."""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octstore import Datafile, Dataset, InvalidPathError, TransferError
from octstore.datafile.names import is_reserved_name
from tests.conftest import BACKENDS, Backend

# Names that fsspec would take as glob patterns, or that look like relative path parts.
AWKWARD_NAMES = [
    "[ab].csv",
    "a*b.csv",
    "q?.txt",
    "x{1,2}.txt",
    "..notes.txt",
    "...",
    "::",  # fsspec's chain separator (simplecache::s3://b/k), in a name it is a name
    "a::b.csv",
    "data::v2.csv",  # data is a protocol, but not one that reads through another
    "file::",
    "[!a].csv",
    "**",
    "a[.txt",
    "sp ace.txt",
    "#hash.txt",
    "per%20cent.txt",
    "ünïcödé-ß-日本.txt",
    "plus+and=amp&.txt",
    "semi;colon,comma.txt",
    "quote'dq\".txt",
    "tab\there.txt",
    "~tilde",
    ".octstore.json",  # shaped like a sidecar, but of no file: data
    ".octstore-lock",
    "x" * 200,
    "é" * 100,  # 200 bytes
    "日本" * 33,  # 198 bytes
]


def _write(backend: Backend, folder: str, name: str, label: str) -> None:
    datafile = Datafile(
        backend.url(folder, name),
        labels=[label],
        tags={"name": name},
        storage_options=backend.storage_options,
    )
    with datafile.open("wb") as file:
        file.write(name.encode("utf-8"))


def _check_round_trip(backend: Backend, folder: str, names: dict[str, str]) -> None:
    """Each name reads back with its content and metadata, alone and in a listing."""
    for name, label in names.items():
        datafile = Datafile(backend.url(folder, name), storage_options=backend.storage_options)
        assert datafile.name == name
        assert set(datafile.labels) == {label}, name
        assert datafile.tags == {"name": name}
        with datafile.open("rb") as file:
            assert file.read() == name.encode("utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing about these files may be "ignored"
        dataset = Dataset(backend.url(folder), storage_options=backend.storage_options)
    listed = {datafile.name: datafile for datafile in dataset.files}
    assert set(listed) == set(names)
    for name, label in names.items():
        assert set(listed[name].labels) == {label}, name
        assert listed[name].tags == {"name": name}


#: Names that on Azure would name another blob, and that octstore refuses there: adlfs drops
#: a tab, CR or LF, and an empty "?" query or "#" fragment (``urlsplit`` does); Azure reads
#: a backslash as "/".
CHANGED_ON_AZURE = [
    "tab\there.txt",
    "line\nfeed.txt",
    "carriage\rreturn.txt",
    "back\\slash.txt",
    "question?",
    "hash#",
    "empty?#query",
]


def _changed_on_azure(name: str) -> bool:
    """Whether adlfs would read ``name`` as another blob's (octstore refuses those), or
    Azure would (a backslash)."""
    from adlfs import AzureBlobFileSystem

    return "\\" in name or AzureBlobFileSystem._strip_protocol(f"az://c/{name}") != f"c/{name}"


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        (backend, name)
        for backend in BACKENDS
        for name in AWKWARD_NAMES
        if not (backend == "az" and _changed_on_azure(name))
    ],
    indirect=["backend"],
    ids=repr,
)
def test_a_name_with_glob_or_dot_characters_round_trips_with_its_metadata(
    backend: Backend, name: str
) -> None:
    _write(backend, "folder", name, "mine")
    _write(backend, "folder", "plain.txt", "plain")
    _check_round_trip(backend, "folder", {name: "mine", "plain.txt": "plain"})


@pytest.mark.parametrize("backend", ["az"], indirect=True)
@pytest.mark.parametrize("name", CHANGED_ON_AZURE, ids=repr)
def test_a_name_that_adlfs_would_change_is_refused_on_azure_and_nothing_written(
    backend: Backend, name: str
) -> None:
    with pytest.raises(InvalidPathError, match="would name another blob"):
        datafile = Datafile(backend.url("folder", name), storage_options=backend.storage_options)
        with datafile.open("w") as file:
            file.write("content")

    backend.fs.invalidate_cache()
    assert backend.fs.find(backend.root) == []


def test_a_pattern_name_does_not_take_its_matches_metadata(backend: Backend) -> None:
    """``[ab].csv`` is one file, not a pattern matching ``a.csv`` and ``b.csv``."""
    for name, label in (("a.csv", "a"), ("b.csv", "b"), ("[ab].csv", "both"), ("*", "star")):
        _write(backend, "folder", name, label)
    _check_round_trip(
        backend, "folder", {"a.csv": "a", "b.csv": "b", "[ab].csv": "both", "*": "star"}
    )


def test_deleting_a_pattern_name_deletes_only_that_file(backend: Backend) -> None:
    for name, label in (("a.csv", "a"), ("[ab].csv", "both")):
        _write(backend, "folder", name, label)
    Datafile(backend.url("folder", "[ab].csv"), storage_options=backend.storage_options).delete()
    _check_round_trip(backend, "folder", {"a.csv": "a"})


def _names(backend: str) -> st.SearchStrategy[str]:
    # Object stores refuse control characters in keys (GCS: CR and LF; S3 lists keys in XML).
    excluded = ("Cs", "Cc") if backend in ("s3", "gcs", "az") else ("Cs",)
    characters = st.characters(blacklist_categories=excluded, blacklist_characters="/\0")
    return st.text(characters, min_size=1, max_size=80).filter(
        lambda name: (
            name not in (".", "..")
            and not (backend == "az" and _changed_on_azure(name))
            and len(name.encode("utf-8")) <= 200
            and not is_reserved_name(name)
        )
    )


NAMES_PER_BACKEND: dict[str, int] = {}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_name_the_filesystem_allows_round_trips_with_its_metadata(
    backend: Backend, data: st.DataObject
) -> None:
    names = data.draw(st.lists(_names(backend.name), min_size=1, max_size=5, unique=True))
    folder = uuid.uuid4().hex
    for index, name in enumerate(names):
        _write(backend, folder, name, f"label-{index}")
    _check_round_trip(backend, folder, {name: f"label-{i}" for i, name in enumerate(names)})
    NAMES_PER_BACKEND[backend.name] = NAMES_PER_BACKEND.get(backend.name, 0) + len(names)


RESERVED_NAMES = [
    ".x.csv.octstore.json",
    ".x.csv.octstore.json.pending",
    ".x.csv.octstore-lock",
    ".x.csv.octstore-lease",
    ".octstore-dataset.json",
    ".octue",
    ".x.csv.abcd1234.tmp",
]


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_creating_a_file_with_a_reserved_name_is_refused_naming_the_fix(
    backend: Backend, name: str
) -> None:
    datafile = Datafile(backend.url(name), storage_options=backend.storage_options)

    with pytest.raises(InvalidPathError, match="keeps for itself") as error, datafile.open("w"):
        pass

    assert name in str(error.value)
    assert "rename it" in str(error.value)
    assert not backend.fs.exists(backend.url(name))


def test_updating_metadata_of_a_reserved_name_is_refused(backend: Backend) -> None:
    backend.write(".x.csv.octstore.json", b"{}")
    datafile = Datafile(
        backend.url(".x.csv.octstore.json"), storage_options=backend.storage_options
    )
    datafile.labels.add("mine")

    with pytest.raises(InvalidPathError, match="keeps for itself"):
        datafile.update_metadata()


def test_uploading_to_a_reserved_name_is_refused(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_bytes(b"data")

    with pytest.raises(InvalidPathError, match="keeps for itself"):
        Datafile(str(source)).upload(backend.url(".octstore-dataset.json"))

    assert not backend.fs.exists(backend.url(".octstore-dataset.json"))


def test_a_local_name_whose_metadata_files_would_not_fit_is_a_clear_error(
    tmp_path: Path,
) -> None:
    name = "x" * 230  # the file fits in 255 bytes; its sidecar's temp file does not
    datafile = Datafile(str(tmp_path / name), labels=["mine"])

    with pytest.raises(InvalidPathError, match="at most 218 bytes"), datafile.open("w") as file:
        file.write("data")

    assert os.listdir(tmp_path) == []


def test_a_local_name_of_218_bytes_round_trips(tmp_path: Path) -> None:
    name = "x" * 218
    with Datafile(str(tmp_path / name), labels=["mine"]).open("w") as file:
        file.write("data")

    assert set(Datafile(str(tmp_path / name)).labels) == {"mine"}
    assert [datafile.name for datafile in Dataset(str(tmp_path)).files] == [name]


def test_a_long_file_made_by_another_program_reads_without_metadata(tmp_path: Path) -> None:
    name = "y" * 250  # no sidecar can exist for it
    (tmp_path / name).write_text("data")

    datafile = Datafile(str(tmp_path / name))

    assert set(datafile.labels) == set()
    with datafile.open() as file:
        assert file.read() == "data"
    assert [datafile.name for datafile in Dataset(str(tmp_path)).files] == [name]


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)  # keys of 1,024 bytes
def test_a_cloud_key_whose_sidecar_key_would_not_fit_is_a_clear_error(
    backend: Backend,
) -> None:
    prefix = backend.url().split("/", 3)[3]
    name = "k" * (1024 - len(prefix) - 1 - 8)  # fits; the sidecar, 15 bytes longer, does not
    datafile = Datafile(backend.url(name), storage_options=backend.storage_options)

    with pytest.raises(InvalidPathError, match="at most 1008 bytes"), datafile.open("w") as file:
        file.write("data")

    assert not backend.fs.exists(backend.url(name))


@pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
def test_a_key_too_long_for_a_local_folder_is_refused_on_download_and_the_others_arrive(
    backend: Backend, tmp_path: Path
) -> None:
    long_name = "n" * 230 + ".csv"  # fits a bucket; not a local folder with its sidecar
    backend.write(long_name, b"long")
    backend.write("short.csv", b"short")

    with pytest.raises(TransferError) as caught:
        Dataset(backend.root, storage_options=backend.storage_options).download(tmp_path / "d")

    assert (tmp_path / "d" / "short.csv").read_bytes() == b"short"
    [error] = caught.value.failures.values()
    assert isinstance(error, InvalidPathError)
    assert "at most 218 bytes" in str(error)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        ".octstore-dataset.json",
        ".short.csv.octstore.json",
        "short.csv",
    ]
