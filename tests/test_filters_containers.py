"""What octue users rely on from the filter containers: checked sequences in ``order_by``,
``FilterDict``, ``one()``'s messages, reprs and missing attributes."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

import octstore
from octstore import BrokenSequenceError, MissingAttributeError
from octstore.errors import OctstoreError
from octstore.filters import FilterDict, FilterError, FilterList, FilterSet, NoSingleMatchError


class Part:
    """A hashable object with a readable repr, as octue's datafiles have."""

    def __init__(self, name: str, **attributes: Any) -> None:
        self.name = name
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        return f"<Part({self.name!r})>"


def parts(*sequence: int) -> FilterSet[Part]:
    return FilterSet(Part(f"p{number}", tags={"sequence": number}) for number in sequence)


# --- order_by: checked sequences -----------------------------------------------------------


def test_order_by_checking_the_start_value_returns_the_ordered_list() -> None:
    ordered = parts(2, 0, 1).order_by("tags__sequence", check_start_value=0)

    assert [part.name for part in ordered] == ["p0", "p1", "p2"]


def test_order_by_with_another_start_value_raises_naming_attribute_and_values() -> None:
    with pytest.raises(BrokenSequenceError) as raised:
        parts(2, 1, 3).order_by("tags__sequence", check_start_value=0)

    message = str(raised.value)
    assert "'tags__sequence'" in message
    assert "start at 0" in message
    assert "<Part('p1')> has 1" in message
    assert (raised.value.expected, raised.value.found) == (0, 1)


def test_order_by_checking_a_constant_increment_returns_the_ordered_list() -> None:
    ordered = parts(3, 1, 2).order_by("tags__sequence", check_constant_increment=1)

    assert [part.name for part in ordered] == ["p1", "p2", "p3"]


def test_order_by_with_a_gap_raises_naming_the_items_either_side() -> None:
    with pytest.raises(BrokenSequenceError) as raised:
        parts(0, 1, 3).order_by("tags__sequence", check_start_value=0, check_constant_increment=1)

    message = str(raised.value)
    assert "'tags__sequence'" in message
    assert "increase by 1" in message
    assert "<Part('p1')> has 1, so the next should have 2" in message
    assert "<Part('p3')> has 3" in message
    assert (raised.value.expected, raised.value.found) == (2, 3)


def test_order_by_with_a_repeated_value_breaks_a_constant_increment() -> None:
    with pytest.raises(BrokenSequenceError, match="should have 1"):
        parts(0, 0, 1).order_by("tags__sequence", check_constant_increment=1)


def test_reversed_order_is_checked_along_the_returned_order() -> None:
    ordered = parts(0, 1, 2).order_by(
        "tags__sequence", reverse=True, check_start_value=2, check_constant_increment=-1
    )

    assert [part.name for part in ordered] == ["p2", "p1", "p0"]


def test_order_by_checks_float_increments_to_rounding() -> None:
    steps = FilterList([SimpleNamespace(v=0.1 * i) for i in range(10)])

    assert len(steps.order_by("v", check_constant_increment=0.1)) == 10


def test_order_by_checks_timestamps_with_a_timedelta_increment() -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    hourly = FilterList([SimpleNamespace(t=start + timedelta(hours=h)) for h in (2, 0, 1)])

    ordered = hourly.order_by(
        "t", check_start_value=start, check_constant_increment=timedelta(1 / 24)
    )

    assert [item.t.hour for item in ordered] == [0, 1, 2]


def test_order_by_with_a_value_missing_breaks_a_constant_increment() -> None:
    items = FilterList([SimpleNamespace(v=0), SimpleNamespace(v=None)])

    with pytest.raises(BrokenSequenceError, match="None"):
        items.order_by("v", check_constant_increment=1)


def test_order_by_values_that_cannot_be_subtracted_raise() -> None:
    with pytest.raises(FilterError, match="cannot check"):
        FilterList([SimpleNamespace(v="a"), SimpleNamespace(v="b")]).order_by(
            "v", check_constant_increment=1
        )


def test_checking_the_start_of_an_empty_sequence_raises() -> None:
    with pytest.raises(BrokenSequenceError, match="no objects"):
        FilterSet[Part]().order_by("tags__sequence", check_start_value=0)


def test_broken_sequence_error_is_an_octstore_value_error_that_pickles() -> None:
    with pytest.raises(ValueError, match="should start at 0") as raised:
        parts(1).order_by("tags__sequence", check_start_value=0)

    assert isinstance(raised.value, OctstoreError)
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (str(copy), copy.attribute, copy.expected, copy.found) == (
        str(raised.value),
        "tags__sequence",
        0,
        1,
    )


def test_order_by_checks_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        parts(0, 1).order_by("tags__sequence", False, 0)  # type: ignore[misc]


def test_order_by_refuses_a_start_value_passed_as_reverse() -> None:
    with pytest.raises(FilterError, match="check_start_value="):
        parts(0, 1).order_by("tags__sequence", 0)  # type: ignore[arg-type]


def test_order_by_names_the_item_without_the_tag() -> None:
    items = FilterSet([Part("p0", tags={"sequence": 0}), Part("p1", tags={})])

    with pytest.raises(MissingAttributeError, match=r"<Part\('p1'\)>.*no key 'sequence'"):
        items.order_by("tags__sequence")


def test_order_by_names_the_item_without_the_attribute() -> None:
    items = FilterList([Part("p0", size=1), Part("p1")])

    with pytest.raises(MissingAttributeError, match=r"<Part\('p1'\)> has no attribute 'size'"):
        items.order_by("size")


# --- one() ---------------------------------------------------------------------------------


def test_one_with_no_match_says_no_results_were_found() -> None:
    with pytest.raises(NoSingleMatchError, match=r"^No results found for filters \{'name': 'p9'\}"):
        parts(0, 1).one(name="p9")


def test_one_with_many_matches_says_more_than_one_was_found() -> None:
    with pytest.raises(NoSingleMatchError, match=r"^More than one result found for filters"):
        parts(0, 1, 2).one(name__starts_with="p")


def test_one_without_lookups_returns_the_only_member() -> None:
    assert parts(7).one().name == "p7"


# --- FilterDict ----------------------------------------------------------------------------


ANIMALS = FilterDict(
    cat=SimpleNamespace(name="Princess Carolyn", age=3, size="small"),
    dog=SimpleNamespace(name="Spot", age=90, size="big"),
    another_dog=SimpleNamespace(name="Ranger", age=91, size="small"),
)


def test_filter_dict_is_built_like_a_dict() -> None:
    assert FilterDict(a=1, b=3) == FilterDict({"a": 1, "b": 3}) == {"a": 1, "b": 3}


def test_filter_dict_filters_its_values_keeping_their_keys() -> None:
    small_and_old = ANIMALS.filter(size="small", age__gte=90)

    assert isinstance(small_and_old, FilterDict)
    assert small_and_old == {"another_dog": ANIMALS["another_dog"]}


def test_filter_dict_filters_chain() -> None:
    assert ANIMALS.filter(age__gte=90).filter(size__equals="small").keys() == {"another_dog"}


def test_filter_dict_one_returns_the_key_and_value() -> None:
    assert ANIMALS.one(age=91) == ("another_dog", ANIMALS["another_dog"])


def test_filter_dict_one_raises_when_not_exactly_one_matches() -> None:
    with pytest.raises(NoSingleMatchError, match="More than one result"):
        ANIMALS.one(size="small")


def test_filter_dict_order_by_gives_key_value_pairs() -> None:
    ordered = ANIMALS.order_by("age", reverse=True)

    assert isinstance(ordered, FilterList)
    assert [key for key, _ in ordered] == ["another_dog", "dog", "cat"]


def test_filter_dict_order_by_checks_sequences() -> None:
    with pytest.raises(BrokenSequenceError, match="'age'"):
        ANIMALS.order_by("age", check_constant_increment=1)


def test_filter_dict_order_by_names_the_key_of_a_value_without_the_attribute() -> None:
    with pytest.raises(MissingAttributeError, match="'cat'"):
        FilterDict(cat=SimpleNamespace(), dog=SimpleNamespace(age=1)).order_by("age")


def test_filter_dict_is_exported() -> None:
    assert octstore.FilterDict is FilterDict


# --- Missing attributes and reprs ----------------------------------------------------------


def test_strict_filter_raises_an_attribute_error_for_an_object_without_it() -> None:
    things = FilterList([SimpleNamespace(a=3), SimpleNamespace(b=90)])

    with pytest.raises(AttributeError):
        things.filter(b__equals=90, ignore_items_without_attribute=False)


def test_filter_set_repr_shows_its_members() -> None:
    assert repr(FilterSet([Part("p0")])) == "<FilterSet({<Part('p0')>})>"


def test_filter_list_repr_shows_its_items_in_order() -> None:
    assert (
        repr(FilterList([Part("p1"), Part("p0")])) == "<FilterList([<Part('p1')>, <Part('p0')>])>"
    )


def test_filter_dict_repr_shows_its_items() -> None:
    assert repr(FilterDict(a=Part("p0"))) == "<FilterDict({'a': <Part('p0')>})>"


def test_empty_containers_repr() -> None:
    assert [repr(FilterSet()), repr(FilterList()), repr(FilterDict())] == [
        "<FilterSet()>",
        "<FilterList([])>",
        "<FilterDict({})>",
    ]


def test_subclass_repr_uses_its_own_name() -> None:
    class Files(FilterList[Part]):
        pass

    assert repr(Files()) == "<Files([])>"
