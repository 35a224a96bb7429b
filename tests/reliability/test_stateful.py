"""Any sequence of metadata edits, writes and reloads agrees with a model, on every backend.

A hypothesis state machine edits a datafile's labels, tags and timestamp (valid edits, and
invalid ones that must change nothing), stores them (``update_metadata``, or a content write
that carries them), reloads the datafile, or loads its directory as a dataset; after every
step the datafile, and whatever was reloaded, agree with a plain model of what was set and
what was stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from octstore import Datafile, Dataset, InvalidMetadataError, Metadata
from tests.conftest import Backend
from tests.reliability.figures import FIGURES

FAST = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SOAK = settings(FAST, max_examples=100, stateful_step_count=30)

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,24}[a-z0-9])?", fullmatch=True)
tag_names = st.from_regex(r"[a-z0-9]([a-z0-9_]{0,16}[a-z0-9])?", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
zones = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
timestamps = st.none() | st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
)
invalid_labels = st.sampled_from(["Raw", "r\u0430w", "a_b", "-a", "a\x00", ""])
invalid_tags = st.sampled_from(
    [("Bad", 1), ("ok", float("nan")), ("ok", {1: 2}), ("ok", {"a"}), ("a-b", 1)]
)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return None if moment is None else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class Model:
    """What a datafile's metadata should be: as set in memory, and as stored."""

    def __init__(self) -> None:
        self.labels: set[str] = set()
        self.tags: dict[str, Any] = {}
        self.timestamp: datetime | None = None

    def copy(self) -> Model:
        other = Model()
        other.labels, other.tags, other.timestamp = (
            set(self.labels),
            dict(self.tags),
            (self.timestamp),
        )
        return other

    def agrees_with(self, metadata: Metadata, where: str) -> None:
        assert set(metadata.labels) == self.labels, where
        assert dict(metadata.tags) == self.tags, where
        assert metadata.timestamp == self.timestamp, where


def machine_for(backend: Backend) -> type[RuleBasedStateMachine]:
    class DatafileMetadata(RuleBasedStateMachine):
        @initialize()
        def new_file(self) -> None:
            self.url = backend.url(uuid.uuid4().hex[:10], "data.bin")
            self.df = Datafile(self.url, storage_options=backend.storage_options)
            self.current, self.stored, self.exists = Model(), Model(), False

        def step(self) -> None:
            FIGURES.add("stateful_steps", backend.name)

        # --- edits in memory -------------------------------------------------------------

        @rule(label=labels)
        def add_label(self, label: str) -> None:
            self.df.labels.add(label)
            self.current.labels.add(label)
            self.step()

        @precondition(lambda self: self.current.labels)
        @rule(data=st.data())
        def remove_label(self, data: st.DataObject) -> None:
            label = data.draw(st.sampled_from(sorted(self.current.labels)))
            self.df.labels.discard(label)
            self.current.labels.discard(label)
            self.step()

        @rule(name=tag_names, value=json_values)
        def set_tag(self, name: str, value: Any) -> None:
            self.df.tags[name] = value
            self.current.tags[name] = value
            self.step()

        @precondition(lambda self: self.current.tags)
        @rule(data=st.data())
        def delete_tag(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(sorted(self.current.tags)))
            del self.df.tags[name]
            del self.current.tags[name]
            self.step()

        @rule(moment=timestamps)
        def set_timestamp(self, moment: datetime | None) -> None:
            self.df.timestamp = moment
            self.current.timestamp = _utc(moment)
            self.step()

        @rule(label=invalid_labels, tag=invalid_tags)
        def invalid_edits_change_nothing(self, label: str, tag: tuple[str, Any]) -> None:
            with pytest.raises(InvalidMetadataError):
                self.df.labels.add(label)
            with pytest.raises(InvalidMetadataError):
                self.df.tags[tag[0]] = tag[1]
            with pytest.raises(InvalidMetadataError):
                self.df.tags = {"ok": 1, tag[0]: tag[1]}
            FIGURES.add("hostile_inputs", "invalid edits in stateful tests", 3)
            self.step()

        # --- storing and reading back ----------------------------------------------------

        @precondition(lambda self: self.exists)
        @rule()
        def update_metadata(self) -> None:
            self.df.update_metadata()
            self.stored = self.current.copy()
            self.step()

        @rule(content=st.binary(max_size=64))
        def write_content(self, content: bytes) -> None:
            with self.df.open("wb") as f:
                f.write(content)
            self.stored, self.exists = self.current.copy(), True
            self.step()

        @rule()
        def reload(self) -> None:
            self.df = Datafile(self.url, storage_options=backend.storage_options)
            self.current = self.stored.copy() if self.exists else Model()
            self.step()

        @precondition(lambda self: self.exists)
        @rule()
        def load_as_dataset(self) -> None:
            root = self.url.rsplit("/", 1)[0]
            (listed,) = Dataset(root, storage_options=backend.storage_options)
            self.stored.agrees_with(listed.metadata(), "as a dataset loads it")
            self.step()

        @invariant()
        def agrees_with_the_model(self) -> None:
            if hasattr(self, "df"):
                self.current.agrees_with(self.df.metadata(), "in memory")

    return DatafileMetadata


@pytest.mark.timeout(600)
def test_metadata_edits_and_reloads_agree_with_a_model(backend: Backend) -> None:
    run_state_machine_as_test(machine_for(backend), settings=FAST)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_soak_metadata_edits_and_reloads_agree_with_a_model(backend: Backend) -> None:
    run_state_machine_as_test(machine_for(backend), settings=SOAK)
