"""Backends list a directory or prefix with each file's state and metadata, cheaply."""

from __future__ import annotations

import pytest

from octstore import Datafile, NotFoundError
from octstore.backends import backend_for
from octstore.location import Location
from tests.conftest import Backend


def listed(backend: Backend, prefix: str = "", *, recursive: bool = True) -> dict[str, object]:
    location = Location(backend.url(prefix) if prefix else backend.root, backend.storage_options)
    return {
        child.url.removeprefix(backend.root + "/"): state
        for child, state, _ in backend_for(location).list(location, recursive=recursive)
    }


def write(backend: Backend, name: str, data: bytes = b"x", **metadata: object) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)  # type: ignore[arg-type]
    with df.open("wb") as f:
        f.write(data)
    return df


def test_a_listing_holds_every_data_file_and_no_metadata_file(backend: Backend) -> None:
    write(backend, "a.csv", labels=["raw"])
    write(backend, "sub/b.csv", tags={"k": 1})
    backend.write("plain.txt", b"no metadata")

    assert sorted(listed(backend)) == ["a.csv", "plain.txt", "sub/b.csv"]


def test_a_listing_carries_each_files_metadata(backend: Backend) -> None:
    a = write(backend, "a.csv", labels=["raw"], tags={"site": "north"})
    backend.write("plain.txt", b"no metadata")

    states = listed(backend)

    assert states["a.csv"].metadata is not None  # type: ignore[attr-defined]
    assert states["a.csv"].metadata.labels == {"raw"}  # type: ignore[attr-defined]
    assert str(states["a.csv"].metadata.id) == a.id  # type: ignore[attr-defined]
    assert states["plain.txt"].metadata is None  # type: ignore[attr-defined]


def test_a_listed_state_is_the_state_stat_reports(backend: Backend) -> None:
    write(backend, "a.csv", b"content", labels=["raw"])
    location = Location(backend.url("a.csv"), backend.storage_options)

    listed_state = listed(backend)["a.csv"]
    stat_state = backend_for(location).stat(location)

    assert listed_state.version_token == stat_state.version_token  # type: ignore[attr-defined]
    assert listed_state.size == stat_state.size == 7  # type: ignore[attr-defined]
    assert listed_state.metadata == stat_state.metadata  # type: ignore[attr-defined]


def test_a_listing_that_is_not_recursive_stays_in_its_directory(backend: Backend) -> None:
    write(backend, "a.csv")
    write(backend, "sub/b.csv")

    assert sorted(listed(backend, recursive=False)) == ["a.csv"]


def test_listing_a_missing_local_directory_is_not_found(tmp_path: object) -> None:
    location = Location(f"{tmp_path}/missing")

    with pytest.raises(NotFoundError, match="not a directory"):
        backend_for(location).list(location)


@pytest.mark.parametrize("backend", ["memory", "s3", "gcs", "az"], indirect=True)
def test_an_empty_prefix_lists_nothing(backend: Backend) -> None:
    assert listed(backend, "nothing-here") == {}


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_a_gcs_listing_is_one_request_whatever_the_number_of_files(backend: Backend) -> None:
    for i in range(20):
        write(backend, f"f{i}.csv", labels=["raw"])

    with backend.server.recording() as requests:
        states = listed(backend)

    assert len(states) == 20
    assert all(state.metadata is not None for state in states.values())  # type: ignore[attr-defined]
    assert len(requests) == 1


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_an_s3_listing_is_one_list_and_one_head_per_file(backend: Backend) -> None:
    for i in range(20):
        write(backend, f"f{i}.csv", labels=["raw"])

    with backend.server.recording() as requests:
        states = listed(backend)

    assert len(states) == 20
    assert sorted(request["method"] for request in requests) == ["GET"] + ["HEAD"] * 20
