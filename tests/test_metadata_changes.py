"""Metadata updates are sets of changes applied to what is stored when they are written, so
that concurrent updates by different writers all land (issue 16, item 1).

The two-process races are in tests/reliability/test_races.py; here two datafiles of one
process stand for two writers, interleaved deterministically.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from octstore import ConflictError, Datafile, Metadata
from octstore.metadata.changes import MetadataChanges
from tests.conftest import Backend


def make(backend: Backend, name: str = "data.csv", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def stored(backend: Backend, name: str = "data.csv") -> Metadata:
    return make(backend, name).metadata()


def test_two_writers_adding_different_labels_both_keep_theirs(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    first, second = make(backend), make(backend)

    first.labels.add("from-first")
    first.update_metadata()
    second.labels.add("from-second")
    second.update_metadata()

    assert stored(backend).labels == {"from-first", "from-second"}
    assert second.labels == {"from-first", "from-second"}


def test_a_removal_and_a_concurrent_tag_both_land(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    seed = make(backend, labels=["raw", "keep"], tags={"site": "north"})
    seed.update_metadata()
    first, second = make(backend), make(backend)

    first.labels.discard("raw")
    del first.tags["site"]
    first.update_metadata()
    second.tags["height_m"] = 80
    second.update_metadata()

    result = stored(backend)
    assert result.labels == {"keep"}
    assert dict(result.tags) == {"height_m": 80}
    assert result.id == seed.metadata().id


def test_a_content_write_back_keeps_a_metadata_update_made_while_it_was_open(
    backend: Backend,
) -> None:
    backend.write("data.csv", b"old")
    writer, labeller = make(backend), make(backend)

    with writer.open("w") as f:
        f.write("new")
        writer.tags["writer"] = True
        labeller.labels.add("checked")
        labeller.update_metadata()

    result = make(backend)
    with result.open() as f:
        assert f.read() == "new"
    assert result.labels == {"checked"}
    assert dict(result.tags) == {"writer": True}


def test_a_metadata_update_after_a_write_back_keeps_anothers_update(backend: Backend) -> None:
    backend.write("data.csv", b"old")
    writer, labeller = make(backend), make(backend)
    with writer.open("w") as f:
        f.write("new")

    labeller.labels.add("from-labeller")
    labeller.update_metadata()
    writer.labels.add("from-writer")
    writer.update_metadata()

    assert stored(backend).labels == {"from-labeller", "from-writer"}


def test_content_changed_meanwhile_is_still_a_conflict(backend: Backend) -> None:
    backend.write("data.csv", b"old")
    first, second = make(backend), make(backend)
    with first.open("w") as f:
        f.write("first")

    with pytest.raises(ConflictError) as caught, second.open("w") as f:
        f.write("second")

    assert caught.value.kept_at is not None
    with make(backend).open() as f:
        assert f.read() == "first"


def test_a_timestamp_set_by_one_writer_survives_anothers_label(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    first, second = make(backend), make(backend)
    moment = datetime(2024, 5, 4, 17, 57, tzinfo=timezone.utc)

    first.timestamp = moment
    first.update_metadata()
    second.labels.add("late")
    second.update_metadata()

    result = stored(backend)
    assert result.timestamp == moment
    assert result.labels == {"late"}


def test_an_unchanged_update_writes_nothing(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    df = make(backend, labels=["raw"])
    df.update_metadata()
    before = written(make(backend))

    make(backend).update_metadata()

    assert written(make(backend)) == before


def written(df: Datafile) -> tuple[Any, ...]:
    """What is stored of ``df``: not whether a second had passed since it was last modified
    when it was read (the S3 state's ``settled``, which changes with the clock alone)."""
    state = df._state
    assert state is not None
    details = {k: v for k, v in state.details.items() if k != "settled"}
    return state.size, state.version_token, state.crc32c, state.metadata, details


def test_the_first_write_stores_the_id_read(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    df = make(backend)
    read_id = df.id

    df.update_metadata()

    assert stored(backend).id == df.metadata().id
    assert df.id == read_id


def test_the_stored_id_wins_over_a_concurrently_created_one(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    first, second = make(backend), make(backend)
    first.labels.add("first")
    first.update_metadata()

    second.labels.add("second")
    second.update_metadata()

    assert second.id == first.id == str(stored(backend).id)


def test_from_dict_writes_the_metadata_it_describes(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    original = make(backend, labels=["a", "b"])
    original.update_metadata()
    copy = Datafile.from_dict(original.to_dict(), storage_options=backend.storage_options)

    copy.labels.discard("b")
    copy.update_metadata()

    assert stored(backend).labels == {"a"}


def test_changes_between_metadata_tell_json_values_apart() -> None:
    before = Metadata(tags={"flag": 1})
    after = before.model_copy(deep=True)
    after.tags["flag"] = True

    changes = MetadataChanges.between(before, after)

    assert dict(changes.apply(before).tags) == {"flag": True}


def test_two_writers_of_spilled_metadata_both_keep_theirs(backend: Backend) -> None:
    # Beyond S3's 2 KB and GCS's 8 KiB, metadata lives in a sidecar object beside the object.
    backend.write("data.csv", b"content")
    make(backend, tags={"notes": "x" * 9000}).update_metadata()
    first, second = make(backend), make(backend)

    first.labels.add("from-first")
    first.update_metadata()
    second.labels.add("from-second")
    second.update_metadata()

    result = stored(backend)
    assert result.labels == {"from-first", "from-second"}
    assert result.tags["notes"] == "x" * 9000


def test_a_change_to_a_datafile_from_a_dict_keeps_anothers_change(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    original = make(backend, labels=["a", "b"])
    original.update_metadata()
    copy = Datafile.from_dict(original.to_dict(), storage_options=backend.storage_options)
    other = make(backend)
    other.labels.add("c")
    other.update_metadata()

    copy.labels.discard("b")
    copy.update_metadata()

    assert stored(backend).labels == {"a", "c"}


def test_a_datafile_from_a_dict_stores_its_metadata_where_none_is(backend: Backend) -> None:
    backend.write("data.csv", b"content")
    described = {"path": backend.url("data.csv"), "labels": ["raw"], "tags": {"k": 1}}

    Datafile.from_dict(described, storage_options=backend.storage_options).update_metadata()

    result = stored(backend)
    assert result.labels == {"raw"}
    assert dict(result.tags) == {"k": 1}
