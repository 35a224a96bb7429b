"""Lookups that name what no object has: a typo raises (or, for a dict key, warns), never
silently matching nothing."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from octstore import LabelSet, MissingAttributeError, OctstoreWarning, TagDict
from octstore.errors import OctstoreError
from octstore.filters import FilterDict, FilterError, FilterList, FilterSet, NoSingleMatchError


@dataclass(eq=False)
class Turbine:
    name: str
    height: int
    labels: LabelSet
    tags: TagDict
    timestamp: datetime | None


TURBINES = FilterSet(
    [
        Turbine("north", 80, LabelSet("raw"), TagDict(site="north", rated_kw=3000), None),
        Turbine(
            "south",
            120,
            LabelSet("clean"),
            TagDict(site="south"),
            datetime(2024, 1, 1, tzinfo=timezone.utc),
        ),
    ]
)


class Lazy:
    """An object whose ``expensive`` property must never be read to explain a typo."""

    reads = 0

    @property
    def expensive(self) -> str:
        Lazy.reads += 1
        return "value"


def test_lookup_with_one_underscore_raises_suggesting_two() -> None:
    with pytest.raises(FilterError, match="did you mean name__icontains"):
        TURBINES.filter(name_icontains="NOR")


def test_lookup_with_one_underscore_lists_the_lookups_for_the_attribute_type() -> None:
    with pytest.raises(FilterError, match=r"The actions for str values are: .*starts_with"):
        TURBINES.filter(name_icontains="NOR")


def test_lookup_with_one_underscore_and_a_misspelt_action_raises_suggesting_both_fixed() -> None:
    with pytest.raises(FilterError, match="did you mean name__ends_with"):
        TURBINES.filter(name_endswith=".csv")


def test_unknown_action_raises_suggesting_the_closest() -> None:
    with pytest.raises(FilterError, match="did you mean name__icontains"):
        TURBINES.filter(name__icontain="NOR")


def test_unknown_attribute_raises_suggesting_the_closest() -> None:
    with pytest.raises(FilterError, match="did you mean height__gt") as raised:
        TURBINES.filter(heigth__gt=100)

    assert "'heigth'" in str(raised.value)
    assert "The actions for int values are" in str(raised.value)


def test_unknown_attribute_without_a_close_match_lists_the_attributes() -> None:
    with pytest.raises(FilterError, match="labels, name, tags, timestamp"):
        TURBINES.filter(colour="red")


def test_unknown_attribute_error_is_an_octstore_value_and_attribute_error() -> None:
    with pytest.raises(MissingAttributeError) as raised:
        TURBINES.filter(colour="red")

    assert isinstance(raised.value, FilterError)
    assert isinstance(raised.value, OctstoreError)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, AttributeError)


def test_unknown_attribute_raises_from_one_too() -> None:
    with pytest.raises(MissingAttributeError):
        TURBINES.one(nmae="north")


def test_unknown_attribute_raises_from_a_filter_list_and_a_filter_dict() -> None:
    with pytest.raises(MissingAttributeError):
        FilterList(TURBINES).filter(nmae="north")
    with pytest.raises(MissingAttributeError):
        FilterDict({t.name: t for t in TURBINES}).filter(nmae="north")


def test_unknown_attribute_raises_even_after_a_lookup_that_matched_nothing() -> None:
    with pytest.raises(MissingAttributeError, match="nmae"):
        TURBINES.filter(height__gt=1000, nmae="north")


def test_attribute_some_objects_have_skips_the_others_as_octue_does() -> None:
    things = FilterList([SimpleNamespace(a=3), SimpleNamespace(b=90)])

    assert things.filter(b__equals=0) == []
    assert [thing.b for thing in things.filter(b__equals=90)] == [90]


def test_attribute_that_is_none_on_every_object_is_not_unknown() -> None:
    nothing = FilterSet([TURBINES.one(name="north")])

    assert nothing.filter(timestamp__year_equals=2024) == set()


def test_filtering_an_empty_set_with_any_lookup_gives_an_empty_set() -> None:
    assert FilterSet[Turbine]().filter(anything__gt=1) == set()


def test_tag_no_object_has_warns_naming_the_closest_tag() -> None:
    with pytest.warns(OctstoreWarning, match="did you mean tags__rated_kw"):
        matched = TURBINES.filter(tags__ratedkw__gt=1000)

    assert matched == set()


def test_tag_some_objects_have_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        matched = TURBINES.filter(tags__rated_kw__gt=5000)

    assert matched == set()


def test_tag_lookup_with_one_underscore_raises() -> None:
    with pytest.raises(FilterError, match="did you mean tags__rated_kw__gt"):
        TURBINES.filter(tags__rated_kw_gt=1000)


def test_mistyped_action_on_a_tag_dict_raises() -> None:
    with pytest.raises(FilterError, match="did you mean tags__contains"):
        TURBINES.filter(tags__contain="site")


def test_shorthand_equals_on_a_tag_still_works() -> None:
    assert [t.name for t in TURBINES.filter(tags__site="north")] == ["north"]


def test_explaining_a_typo_reads_no_property() -> None:
    Lazy.reads = 0

    with pytest.raises(FilterError, match="did you mean expensive"):
        FilterList([Lazy()]).filter(expensiv="value")

    assert Lazy.reads == 0


def test_no_single_match_is_still_raised_for_a_known_attribute() -> None:
    with pytest.raises(NoSingleMatchError):
        TURBINES.one(name="east")
