"""octue's ``Filterable`` mixin: an object tests itself against one lookup (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from octstore import Filterable, FilterError, MissingAttributeError, TagDict


class Thing(Filterable):
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


def test_an_object_satisfies_a_lookup_on_its_attribute() -> None:
    thing = Thing(name="Michael", age=23)

    assert thing.satisfies(name__icontains="m")
    assert not thing.satisfies(age__gt=30)
    assert thing.satisfies(age=23)  # no action: equals


def test_lookups_follow_nested_attributes_and_tag_keys() -> None:
    thing = Thing(inner=Thing(tags=TagDict({"site": "north"})))

    assert thing.satisfies(inner__tags__site="north")
    assert not thing.satisfies(inner__tags__site__equals="south")


def test_more_than_one_lookup_is_refused() -> None:
    with pytest.raises(FilterError, match="exactly one lookup"):
        Thing(age=23).satisfies(age=23, age__gt=20)


def test_a_missing_attribute_raises_unless_asked_not_to() -> None:
    with pytest.raises(MissingAttributeError) as raised:
        Thing().satisfies(boogaloo__is=True)

    assert isinstance(raised.value, AttributeError)
    assert not Thing().satisfies(raise_error_if_filter_is_invalid=False, boogaloo__is=True)


def test_an_action_the_type_lacks_is_an_error_naming_the_valid_ones() -> None:
    with pytest.raises(FilterError, match="gt"):
        Thing(age=23).satisfies(age__is_secret=True)


def test_a_method_or_function_is_not_a_value_to_compare() -> None:
    with pytest.raises(FilterError, match="no lookup compares"):
        Thing(age=lambda: None).satisfies(age__equals=True)
