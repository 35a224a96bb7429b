"""Metadata models: valid metadata round-trips exactly, invalid metadata never gets in."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octstore import (
    InvalidLabelError,
    InvalidMetadataError,
    InvalidTagError,
    LabelSet,
    Metadata,
    OctstoreError,
    TagDict,
)
from octstore.hashing import crc32c_bytes

LABEL_RULE = re.compile(r"[a-z0-9][a-z0-9-]*(?<!-)")
TAG_NAME_RULE = re.compile(r"[a-z0-9][a-z0-9_]*(?<!_)")

labels = st.from_regex(LABEL_RULE, fullmatch=True)
tag_names = st.from_regex(TAG_NAME_RULE, fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.none() | st.datetimes(timezones=st.timezones()) | st.datetimes()
metadata_documents = st.builds(
    Metadata,
    id=st.uuids(),
    timestamp=timestamps,
    labels=st.sets(labels, max_size=5),
    tags=st.dictionaries(tag_names, json_values, max_size=5),
)

invalid_labels = st.text().filter(lambda text: not LABEL_RULE.fullmatch(text.strip()))
invalid_tag_names = st.text().filter(lambda text: not TAG_NAME_RULE.fullmatch(text))
non_json_values = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        {1, 2},
        b"bytes",
        object(),
        {1: "a"},
        [float("nan")],
        {"nested": {"deeper": float("inf")}},
        complex(1, 2),
    ]
)

# Every way a label can get into metadata.
LABEL_PATHS: dict[str, Callable[[str], Any]] = {
    "LabelSet()": lambda label: LabelSet([label]),
    "add": lambda label: LabelSet().add(label),
    "update": lambda label: LabelSet().update([label]),
    "|=": lambda label: LabelSet().__ior__([label]),
    "^=": lambda label: LabelSet().__ixor__([label]),
    "symmetric_difference_update": lambda label: LabelSet().symmetric_difference_update([label]),
    "Metadata()": lambda label: Metadata(labels=[label]),
    "Metadata.labels =": lambda label: setattr(Metadata(), "labels", [label]),
    "model_validate": lambda label: Metadata.model_validate({"labels": [label]}),
    "model_validate_json": lambda label: Metadata.model_validate_json(
        json.dumps({"labels": [label]})
    ),
}

# Every way a tag can get into metadata.
TAG_PATHS: dict[str, Callable[[str, Any], Any]] = {
    "TagDict()": lambda name, value: TagDict({name: value}),
    "TagDict(**)": lambda name, value: TagDict(**{name: value}),
    "[]=": lambda name, value: TagDict().__setitem__(name, value),
    "update": lambda name, value: TagDict().update({name: value}),
    "update(**)": lambda name, value: TagDict().update(**{name: value}),
    "setdefault": lambda name, value: TagDict().setdefault(name, value),
    "|=": lambda name, value: TagDict().__ior__({name: value}),
    "|": lambda name, value: TagDict() | {name: value},
    "fromkeys": lambda name, value: TagDict.fromkeys([name], value),
    "Metadata()": lambda name, value: Metadata(tags={name: value}),
    "Metadata.tags =": lambda name, value: setattr(Metadata(), "tags", {name: value}),
    "model_validate": lambda name, value: Metadata.model_validate({"tags": {name: value}}),
}


@given(metadata_documents)
def test_valid_metadata_survives_json_exactly(metadata: Metadata) -> None:
    restored = Metadata.model_validate_json(metadata.model_dump_json())

    assert restored == metadata
    assert restored.model_dump(mode="json") == metadata.model_dump(mode="json")
    assert restored.metadata_hash_value == metadata.metadata_hash_value


@given(metadata_documents)
def test_json_types_are_the_documented_format(metadata: Metadata) -> None:
    document = json.loads(metadata.model_dump_json())

    assert set(document) == {"id", "timestamp", "labels", "tags"}
    assert uuid.UUID(document["id"]) == metadata.id
    assert document["labels"] == sorted(metadata.labels)
    assert document["timestamp"] is None or document["timestamp"].endswith("+00:00")


@pytest.mark.parametrize("path", LABEL_PATHS)
@given(label=invalid_labels)
def test_invalid_label_is_rejected_on_every_path(path: str, label: str) -> None:
    with pytest.raises(InvalidLabelError):
        LABEL_PATHS[path](label)


@pytest.mark.parametrize("path", TAG_PATHS)
@given(name=invalid_tag_names)
def test_invalid_tag_name_is_rejected_on_every_path(path: str, name: str) -> None:
    with pytest.raises(InvalidTagError):
        TAG_PATHS[path](name, "value")


@pytest.mark.parametrize("path", TAG_PATHS)
@given(value=non_json_values)
def test_non_json_tag_value_is_rejected_on_every_path(path: str, value: Any) -> None:
    with pytest.raises(InvalidTagError):
        TAG_PATHS[path]("name", value)


def test_failed_update_leaves_labels_unchanged() -> None:
    labels = LabelSet(["raw"])

    with pytest.raises(InvalidLabelError):
        labels.update(["fine", "Not Fine"])

    assert labels == {"raw"}


def test_failed_update_leaves_tags_unchanged() -> None:
    tags = TagDict(site="north")

    with pytest.raises(InvalidTagError):
        tags.update({"height": 80, "bad": float("nan")})

    assert tags == {"site": "north"}


def test_failed_assignment_leaves_metadata_unchanged() -> None:
    metadata = Metadata(labels=["raw"])

    with pytest.raises(InvalidLabelError):
        metadata.labels = ["Raw"]

    assert metadata.labels == {"raw"}


def test_invalid_metadata_errors_are_value_errors_and_octstore_errors() -> None:
    for error in (InvalidLabelError, InvalidTagError, InvalidMetadataError):
        assert issubclass(error, ValueError)
        assert issubclass(error, OctstoreError)


@pytest.mark.parametrize(
    ("label", "suggestion"),
    [("Raw", "raw"), ("wind speed", "wind-speed"), ("Über_Cool!", "uber-cool"), ("-x-", "x")],
)
def test_invalid_label_error_suggests_a_valid_label(label: str, suggestion: str) -> None:
    with pytest.raises(InvalidLabelError, match=f"try '{suggestion}'") as caught:
        LabelSet().add(label)

    assert repr(label) in str(caught.value)


def test_invalid_tag_name_error_suggests_a_valid_name() -> None:
    with pytest.raises(InvalidTagError, match="try 'wind_speed'"):
        TagDict()["Wind Speed"] = 1


def test_nan_tag_error_names_the_tag_and_the_way_out() -> None:
    with pytest.raises(InvalidTagError, match=r"tag 'speeds'\[1\] is nan.*use None"):
        TagDict(speeds=[1.0, float("nan")])


@pytest.mark.parametrize(
    "label", ["\uff52\uff41\uff57", "r\u0430w", "raw\n", "raw\x00", "\u0663", "\u00df"]
)
def test_lookalike_and_control_character_labels_are_rejected(label: str) -> None:
    # full-width "raw", Cyrillic "a", a newline, a NUL, an Arabic-Indic digit, German sharp s
    if label.strip() == "raw":  # "raw\n" is "raw" once stripped, as DESIGN.md says
        assert LabelSet([label]) == {"raw"}
        return
    with pytest.raises(InvalidLabelError):
        LabelSet([label])


def test_labels_are_stripped() -> None:
    assert LabelSet(["  raw  "]) == {"raw"}


def test_a_string_of_labels_is_split_on_white_space_and_commas() -> None:
    assert LabelSet("raw, wind-speed  north") == {"raw", "wind-speed", "north"}


def test_tag_values_are_copied_not_aliased() -> None:
    value = [1, 2]
    tags = TagDict(values=value)

    value.append(float("nan"))

    assert tags["values"] == [1, 2]


def test_tuples_become_lists_so_json_round_trips() -> None:
    tags = TagDict(point=(1, 2))

    assert tags["point"] == [1, 2]
    assert Metadata.model_validate_json(Metadata(tags=tags).model_dump_json()).tags == tags


def test_copies_keep_their_validating_types() -> None:
    assert type(LabelSet(["a"]).copy()) is LabelSet
    assert type(TagDict(a=1).copy()) is TagDict
    assert type(TagDict(a=1) | {"b": 2}) is TagDict


def test_naive_timestamp_is_taken_as_utc() -> None:
    metadata = Metadata(timestamp=datetime(2022, 5, 4, 17, 57, 57, 136739))

    assert metadata.timestamp == datetime(2022, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc)
    assert metadata.model_dump(mode="json")["timestamp"] == "2022-05-04T17:57:57.136739+00:00"


def test_aware_timestamp_is_kept_as_the_same_instant_in_utc() -> None:
    local = datetime(2022, 5, 4, 19, 0, tzinfo=timezone(timedelta(hours=2)))

    metadata = Metadata(timestamp=local)

    assert metadata.timestamp == local
    assert metadata.timestamp is not None
    assert metadata.timestamp.utcoffset() == timedelta(0)


def test_timestamp_accepts_iso_strings_and_posix_seconds() -> None:
    assert (
        Metadata(timestamp="2022-05-04T17:57:57+00:00").timestamp
        == Metadata(timestamp=1651687077).timestamp
    )


def test_invalid_timestamp_and_id_raise_octstore_errors_naming_the_field() -> None:
    with pytest.raises(InvalidMetadataError, match="timestamp 'yesterday'"):
        Metadata(timestamp="yesterday")
    with pytest.raises(InvalidMetadataError, match="id 'x'"):
        Metadata(id="x")


def test_metadata_hash_value_is_crc32c_of_canonical_json_without_id() -> None:
    metadata = Metadata(
        labels=["b", "a"],
        tags={"z": 1, "k": "é"},
        timestamp=datetime(2022, 5, 4, tzinfo=timezone.utc),
    )
    canonical = (
        '{"labels":["a","b"],"tags":{"k":"é","z":1},"timestamp":"2022-05-04T00:00:00+00:00"}'
    )

    assert metadata.hashed_json() == canonical
    assert metadata.metadata_hash_value == crc32c_bytes(canonical.encode("utf-8"))
    assert Metadata(**{**dict(metadata), "id": uuid.uuid4()}).metadata_hash_value == (
        metadata.metadata_hash_value
    )


def test_metadata_hash_value_changes_with_any_hashed_field() -> None:
    base = Metadata(labels=["a"], tags={"k": 1})

    assert Metadata(labels=["b"], tags={"k": 1}).metadata_hash_value != base.metadata_hash_value
    assert Metadata(labels=["a"], tags={"k": 2}).metadata_hash_value != base.metadata_hash_value
    assert (
        Metadata(labels=["a"], tags={"k": 1}, timestamp=0).metadata_hash_value
        != base.metadata_hash_value
    )


def test_json_schema_describes_the_document() -> None:
    schema = Metadata.model_json_schema()

    assert schema["properties"]["labels"] == {
        "items": {"type": "string"},
        "title": "Labels",
        "type": "array",
    }
    assert schema["properties"]["id"]["format"] == "uuid"
