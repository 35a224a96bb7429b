"""Filtering any collection of objects with octue's lookups (octstore.filters)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from octstore.errors import OctstoreError
from octstore.filters import FilterError, FilterList, FilterSet, NoSingleMatchError, compile_filter
from octstore.metadata import LabelSet, TagDict

UTC = timezone.utc
STEMS = ["Alpha", "beta", "GAMMA", "delta", "Epsilon"]
EXTENSIONS = ["csv", "txt", "h5"]
MANUFACTURERS = ["Vestas", "Siemens", "Nordex", "GE"]


@dataclass(eq=False)  # hashed by identity, so records can be members of a FilterSet
class Record:
    name: str
    size: int
    labels: LabelSet
    tags: TagDict
    timestamp: datetime | None


def _record(i: int) -> Record:
    """Record i of the corpus; every field is a simple function of i."""
    labels = LabelSet(["raw" if i % 2 == 0 else "clean"])
    if i % 7 == 0:
        labels.add("wind-speed")
    if i % 10 == 3:
        labels.add("met-mast")
    tags = TagDict(
        manufacturer=MANUFACTURERS[i % 4],
        height=60 + (i % 6) * 10,
        calibrated=i % 8 == 0,
        location={"country": ["UK", "DK", "DE"][i % 3], "depth_m": i},
        channels=["u", "v", "w"] if i % 12 == 0 else ["u", "v"],
    )
    if i < 5:
        tags["serial"] = f"S{i}"
    timestamp = (
        None
        if i % 10 == 9
        else datetime(2020 + i % 4, 1 + i % 12, 1 + i % 28, i % 24, (i * 7) % 60, i, tzinfo=UTC)
    )
    return Record(
        name=f"{STEMS[i % 5]}-{i:02d}.{EXTENSIONS[i % 3]}",
        size=i * 10,
        labels=labels,
        tags=tags,
        timestamp=timestamp,
    )


RECORDS = [_record(i) for i in range(50)]
CORPUS: FilterSet[Record] = FilterSet(RECORDS)
ALL_NAMES = frozenset(record.name for record in RECORDS)
BY_NAME = {record.name: record for record in RECORDS}
WITHOUT_TIMESTAMP = {"Epsilon-09.csv", "Epsilon-19.txt", "Epsilon-29.h5", "Epsilon-39.csv"}
WITHOUT_TIMESTAMP |= {"Epsilon-49.txt"}


def names(records: Any) -> set[str]:
    return {record.name for record in records}


def all_but(*excluded: set[str] | str) -> set[str]:
    left = set(ALL_NAMES)
    for item in excluded:
        left -= {item} if isinstance(item, str) else item
    return left


def case(lookups: dict[str, Any], expected: set[str], id: str) -> Any:
    return pytest.param(lookups, expected, id=id)


WIND_SPEED = {
    "Alpha-00.csv",
    "Alpha-35.h5",
    "Epsilon-14.h5",
    "Epsilon-49.txt",
    "GAMMA-07.txt",
    "GAMMA-42.csv",
    "beta-21.csv",
    "delta-28.txt",
}
RAW_WIND_SPEED = {"Alpha-00.csv", "Epsilon-14.h5", "delta-28.txt", "GAMMA-42.csv"}
MET_MAST = {"delta-03.csv", "delta-13.txt", "delta-23.h5", "delta-33.csv", "delta-43.txt"}
WITH_SERIAL = {"Alpha-00.csv", "Epsilon-04.txt", "GAMMA-02.h5", "beta-01.txt", "delta-03.csv"}
THREE_CHANNELS = {"Alpha-00.csv", "GAMMA-12.csv", "Epsilon-24.csv", "beta-36.csv", "delta-48.csv"}


STR_CASES = [
    case({"name__equals": "beta-01.txt"}, {"beta-01.txt"}, "equals"),
    case({"name__not_equals": "beta-01.txt"}, all_but("beta-01.txt"), "not_equals"),
    case({"name__is": BY_NAME["beta-01.txt"].name}, {"beta-01.txt"}, "is"),
    case({"name__is_not": BY_NAME["beta-01.txt"].name}, all_but("beta-01.txt"), "is_not"),
    case({"name__iequals": "alpha-05.H5"}, {"Alpha-05.h5"}, "iequals"),
    case({"name__not_iequals": "alpha-05.H5"}, all_but("Alpha-05.h5"), "not_iequals"),
    case(
        {"name__contains": "-4"},
        {
            "Alpha-40.txt",
            "beta-41.h5",
            "GAMMA-42.csv",
            "delta-43.txt",
            "Epsilon-44.h5",
            "Alpha-45.csv",
            "beta-46.txt",
            "GAMMA-47.h5",
            "delta-48.csv",
            "Epsilon-49.txt",
        },
        "contains",
    ),
    case({"name__not_contains": "0"}, {n for n in ALL_NAMES if "0" not in n}, "not_contains"),
    case({"name__icontains": "HA-1"}, {"Alpha-10.txt", "Alpha-15.csv"}, "icontains"),
    case(
        {"name__not_icontains": "A"},
        {n for n in ALL_NAMES if "a" not in n.lower()},
        "not_icontains",
    ),
    case({"name__starts_with": "GAMMA-1"}, {"GAMMA-12.csv", "GAMMA-17.h5"}, "starts_with"),
    case(
        {"name__not_starts_with": "Alpha"},
        {n for n in ALL_NAMES if not n.startswith("Alpha")},
        "not_starts_with",
    ),
    case({"name__ends_with": "4.h5"}, {"Epsilon-14.h5", "Epsilon-44.h5"}, "ends_with"),
    case(
        {"name__not_ends_with": ".csv"},
        {n for n in ALL_NAMES if not n.endswith(".csv")},
        "not_ends_with",
    ),
    case({"name__lt": "Alpha-1"}, {"Alpha-00.csv", "Alpha-05.h5"}, "lt"),
    case({"name__lte": "Alpha-05.h5"}, {"Alpha-00.csv", "Alpha-05.h5"}, "lte"),
    case({"name__gt": "delta-48"}, {"delta-48.csv"}, "gt"),
    case({"name__gte": "delta-48.csv"}, {"delta-48.csv"}, "gte"),
    case(
        {"name__in_range": ("beta-10", "beta-30")},
        {"beta-11.h5", "beta-16.txt", "beta-21.csv", "beta-26.h5"},
        "in_range",
    ),
    case(
        {"name__not_in_range": ("Alpha", "delta")},
        {n for n in ALL_NAMES if not "Alpha" <= n <= "delta"},
        "not_in_range",
    ),
]

NUMBER_CASES = [
    case({"size__equals": 30}, {"delta-03.csv"}, "equals"),
    case({"size__not_equals": 30}, all_but("delta-03.csv"), "not_equals"),
    case({"size__is": BY_NAME["delta-48.csv"].size}, {"delta-48.csv"}, "is"),
    case({"size__is_not": BY_NAME["delta-48.csv"].size}, all_but("delta-48.csv"), "is_not"),
    case({"size__lt": 30}, {"Alpha-00.csv", "beta-01.txt", "GAMMA-02.h5"}, "lt"),
    case({"size__lte": 30}, {"Alpha-00.csv", "beta-01.txt", "GAMMA-02.h5", "delta-03.csv"}, "lte"),
    case({"size__gt": 460}, {"GAMMA-47.h5", "delta-48.csv", "Epsilon-49.txt"}, "gt"),
    case(
        {"size__gte": 460},
        {"beta-46.txt", "GAMMA-47.h5", "delta-48.csv", "Epsilon-49.txt"},
        "gte",
    ),
    case(
        {"size__in_range": (100, 130)},
        {"Alpha-10.txt", "beta-11.h5", "GAMMA-12.csv", "delta-13.txt"},
        "in_range",
    ),
    case(
        {"size__not_in_range": (20, 490)},
        {"Alpha-00.csv", "beta-01.txt"},
        "not_in_range",
    ),
]

LABEL_CASES = [
    case({"labels__equals": {"raw", "wind-speed"}}, RAW_WIND_SPEED, "equals"),
    case({"labels__not_equals": {"raw", "wind-speed"}}, all_but(RAW_WIND_SPEED), "not_equals"),
    case({"labels__is": BY_NAME["GAMMA-07.txt"].labels}, {"GAMMA-07.txt"}, "is"),
    case({"labels__is_not": BY_NAME["GAMMA-07.txt"].labels}, all_but("GAMMA-07.txt"), "is_not"),
    case({"labels__contains": "met-mast"}, MET_MAST, "contains"),
    case({"labels__not_contains": "wind-speed"}, all_but(WIND_SPEED), "not_contains"),
    case({"labels__icontains": "MET-Mast"}, MET_MAST, "icontains"),
    case({"labels__not_icontains": "MET-MAST"}, all_but(MET_MAST), "not_icontains"),
    case({"labels__any_label_contains": "spee"}, WIND_SPEED, "any_label_contains"),
    case({"labels__not_any_label_contains": "spee"}, all_but(WIND_SPEED), "not_any_label_contains"),
    case({"labels__any_label_starts_with": "met"}, MET_MAST, "any_label_starts_with"),
    case(
        {"labels__not_any_label_starts_with": "met"},
        all_but(MET_MAST),
        "not_any_label_starts_with",
    ),
    case({"labels__any_label_ends_with": "ast"}, MET_MAST, "any_label_ends_with"),
    case({"labels__not_any_label_ends_with": "ast"}, all_but(MET_MAST), "not_any_label_ends_with"),
]

LIST_CASES = [
    case({"tags__channels__contains": "w"}, THREE_CHANNELS, "contains"),
    case({"tags__channels__not_contains": "w"}, all_but(THREE_CHANNELS), "not_contains"),
    case({"tags__channels__icontains": "W"}, THREE_CHANNELS, "icontains"),
    case({"tags__channels__not_icontains": "W"}, all_but(THREE_CHANNELS), "not_icontains"),
    case({"tags__channels__equals": ["u", "v", "w"]}, THREE_CHANNELS, "equals"),
    case({"tags__channels__not_equals": ["u", "v"]}, THREE_CHANNELS, "not_equals"),
]

DICT_CASES = [
    case({"tags__contains": "serial"}, WITH_SERIAL, "contains"),
    case({"tags__not_contains": "serial"}, all_but(WITH_SERIAL), "not_contains"),
    case({"tags__icontains": "SERIAL"}, WITH_SERIAL, "icontains"),
    case({"tags__not_icontains": "SERIAL"}, all_but(WITH_SERIAL), "not_icontains"),
    case({"tags__equals": dict(BY_NAME["delta-03.csv"].tags)}, {"delta-03.csv"}, "equals"),
    case(
        {"tags__not_equals": dict(BY_NAME["delta-03.csv"].tags)},
        all_but("delta-03.csv"),
        "not_equals",
    ),
    case({"tags__is": BY_NAME["delta-03.csv"].tags}, {"delta-03.csv"}, "is"),
    case({"tags__is_not": BY_NAME["delta-03.csv"].tags}, all_but("delta-03.csv"), "is_not"),
]

BOOL_CASES = [
    case(
        {"tags__calibrated__is": True},
        {
            "Alpha-00.csv",
            "delta-08.h5",
            "beta-16.txt",
            "Epsilon-24.csv",
            "GAMMA-32.h5",
            "Alpha-40.txt",
            "delta-48.csv",
        },
        "is",
    ),
    case(
        {"tags__calibrated__is_not": False},
        names(r for r in RECORDS if r.tags["calibrated"]),
        "is_not",
    ),
    case(
        {"tags__calibrated__equals": False},
        names(r for r in RECORDS if not r.tags["calibrated"]),
        "equals",
    ),
    case(
        {"tags__calibrated__not_equals": False},
        names(r for r in RECORDS if r.tags["calibrated"]),
        "not_equals",
    ),
]

NONE_CASES = [
    case({"timestamp__is": None}, WITHOUT_TIMESTAMP, "is"),
    case({"timestamp__is_not": None}, all_but(WITHOUT_TIMESTAMP), "is_not"),
    case({"timestamp__equals": None}, WITHOUT_TIMESTAMP, "equals"),
    case({"timestamp__not_equals": None}, all_but(WITHOUT_TIMESTAMP), "not_equals"),
]

DATETIME_CASES = [
    case(
        {"timestamp__equals": datetime(2022, 3, 3, 2, 14, 2, tzinfo=UTC)}, {"GAMMA-02.h5"}, "equals"
    ),
    case(
        {"timestamp__not_equals": datetime(2022, 3, 3, 2, 14, 2, tzinfo=UTC)},
        all_but("GAMMA-02.h5"),
        "not_equals",
    ),
    case({"timestamp__is": BY_NAME["GAMMA-02.h5"].timestamp}, {"GAMMA-02.h5"}, "is"),
    case({"timestamp__is_not": BY_NAME["GAMMA-02.h5"].timestamp}, all_but("GAMMA-02.h5"), "is_not"),
    case(
        {"timestamp__lt": datetime(2020, 3, 1, tzinfo=UTC)},
        {"Alpha-00.csv", "GAMMA-12.csv", "Epsilon-24.csv", "beta-36.csv", "delta-48.csv"},
        "lt",
    ),
    case({"timestamp__lte": datetime(2020, 1, 1, tzinfo=UTC)}, {"Alpha-00.csv"}, "lte"),
    case(
        {"timestamp__gt": datetime(2023, 10, 1, tzinfo=UTC)},
        {"beta-11.h5", "delta-23.h5", "Alpha-35.h5", "GAMMA-47.h5"},
        "gt",
    ),
    case(
        {"timestamp__gte": datetime(2023, 12, 12, 11, 17, 11, tzinfo=UTC)},
        {"beta-11.h5", "delta-23.h5", "GAMMA-47.h5"},
        "gte",
    ),
    case(
        {
            "timestamp__in_range": (
                datetime(2021, 1, 1, tzinfo=UTC),
                datetime(2021, 3, 31, tzinfo=UTC),
            )
        },
        {"beta-01.txt", "delta-13.txt", "Alpha-25.txt", "GAMMA-37.txt"},
        "in_range",
    ),
    case(
        {
            "timestamp__not_in_range": (
                datetime(2020, 1, 2, tzinfo=UTC),
                datetime(2023, 12, 12, tzinfo=UTC),
            )
        },
        {"Alpha-00.csv", "beta-11.h5", "delta-23.h5", "GAMMA-47.h5"},
        "not_in_range",
    ),
    case(
        {"timestamp__year_equals": 2020},
        {
            "Alpha-00.csv",
            "Epsilon-04.txt",
            "delta-08.h5",
            "GAMMA-12.csv",
            "beta-16.txt",
            "Alpha-20.h5",
            "Epsilon-24.csv",
            "delta-28.txt",
            "GAMMA-32.h5",
            "beta-36.csv",
            "Alpha-40.txt",
            "Epsilon-44.h5",
            "delta-48.csv",
        },
        "year_equals",
    ),
    case(
        {"timestamp__year_in": {2021, 1999}},
        {
            "beta-01.txt",
            "Alpha-05.h5",
            "delta-13.txt",
            "GAMMA-17.h5",
            "beta-21.csv",
            "Alpha-25.txt",
            "delta-33.csv",
            "GAMMA-37.txt",
            "beta-41.h5",
            "Alpha-45.csv",
        },
        "year_in",
    ),
    case(
        {"timestamp__month_equals": 2},
        {"beta-01.txt", "delta-13.txt", "Alpha-25.txt", "GAMMA-37.txt"},
        "month_equals",
    ),
    case(
        {"timestamp__month_in": [2, 3]},
        {
            "beta-01.txt",
            "GAMMA-02.h5",
            "delta-13.txt",
            "Epsilon-14.h5",
            "Alpha-25.txt",
            "beta-26.h5",
            "GAMMA-37.txt",
            "delta-38.h5",
        },
        "month_in",
    ),
    case({"timestamp__day_equals": 5}, {"Epsilon-04.txt", "GAMMA-32.h5"}, "day_equals"),
    case(
        {"timestamp__day_in": {5, 6}},
        {"Epsilon-04.txt", "Alpha-05.h5", "GAMMA-32.h5", "delta-33.csv"},
        "day_in",
    ),
    case(
        {"timestamp__weekday_equals": 6},
        {
            "Alpha-05.h5",
            "delta-13.txt",
            "Alpha-15.csv",
            "beta-16.txt",
            "delta-23.h5",
            "beta-26.h5",
            "Alpha-30.csv",
        },
        "weekday_equals",
    ),
    case(
        {"timestamp__weekday_in": {5, 6}},
        {
            "Alpha-05.h5",
            "delta-13.txt",
            "Alpha-15.csv",
            "beta-16.txt",
            "delta-23.h5",
            "Epsilon-24.csv",
            "beta-26.h5",
            "Alpha-30.csv",
            "GAMMA-32.h5",
            "beta-46.txt",
        },
        "weekday_in",
    ),
    case(
        {"timestamp__iso_weekday_equals": 7},
        {
            "Alpha-05.h5",
            "delta-13.txt",
            "Alpha-15.csv",
            "beta-16.txt",
            "delta-23.h5",
            "beta-26.h5",
            "Alpha-30.csv",
        },
        "iso_weekday_equals",
    ),
    case(
        {"timestamp__iso_weekday_in": {1}},
        {"GAMMA-12.csv", "Alpha-20.h5", "Epsilon-34.txt", "beta-41.h5", "Alpha-45.csv"},
        "iso_weekday_in",
    ),
    case({"timestamp__time_equals": time(3, 21, 3)}, {"delta-03.csv"}, "time_equals"),
    case(
        {"timestamp__time_in": {time(3, 21, 3), time(4, 28, 4)}},
        {"delta-03.csv", "Epsilon-04.txt"},
        "time_in",
    ),
    case({"timestamp__hour_equals": 23}, {"delta-23.h5", "GAMMA-47.h5"}, "hour_equals"),
    case(
        {"timestamp__hour_in": {22, 23}},
        {"GAMMA-22.txt", "delta-23.h5", "beta-46.txt", "GAMMA-47.h5"},
        "hour_in",
    ),
    case({"timestamp__minute_equals": 0}, {"Alpha-00.csv"}, "minute_equals"),
    case({"timestamp__minute_in": {0, 7}}, {"Alpha-00.csv", "beta-01.txt"}, "minute_in"),
    case({"timestamp__second_equals": 48}, {"delta-48.csv"}, "second_equals"),
    case(
        {"timestamp__second_in": {1, 2, 3}},
        {"beta-01.txt", "GAMMA-02.h5", "delta-03.csv"},
        "second_in",
    ),
    case(
        {"timestamp__in_date_range": (date(2022, 1, 1), date(2022, 4, 30))},
        {"GAMMA-02.h5", "Epsilon-14.h5", "beta-26.h5", "delta-38.h5"},
        "in_date_range",
    ),
    case(
        {"timestamp__in_time_range": (time(20), time(21, 59))},
        {"Alpha-20.h5", "beta-21.csv", "Epsilon-44.h5", "Alpha-45.csv"},
        "in_time_range",
    ),
]


@pytest.mark.parametrize(("lookups", "expected"), STR_CASES)
def test_str_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), NUMBER_CASES)
def test_number_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), LABEL_CASES)
def test_label_set_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), LIST_CASES)
def test_list_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), DICT_CASES)
def test_tag_dict_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), BOOL_CASES)
def test_bool_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), NONE_CASES)
def test_none_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


@pytest.mark.parametrize(("lookups", "expected"), DATETIME_CASES)
def test_datetime_action_matches_exactly(lookups: dict[str, Any], expected: set[str]) -> None:
    assert names(CORPUS.filter(**lookups)) == expected


# --- Lookup syntax -------------------------------------------------------------------------


def test_attribute_without_action_is_shorthand_for_equals() -> None:
    assert names(CORPUS.filter(name="beta-01.txt")) == {"beta-01.txt"}


def test_tag_without_action_is_shorthand_for_equals() -> None:
    matched = CORPUS.filter(tags__manufacturer="GE", tags__height=110)

    assert names(matched) == {"beta-11.h5", "delta-23.h5", "Alpha-35.h5", "GAMMA-47.h5"}


def test_nested_tag_lookup_indexes_dicts_by_key() -> None:
    matched = CORPUS.filter(tags__location__depth_m__gt=45)

    assert names(matched) == {"beta-46.txt", "GAMMA-47.h5", "delta-48.csv", "Epsilon-49.txt"}


def test_nested_tag_lookup_with_shorthand_equals() -> None:
    assert len(CORPUS.filter(tags__location__country="DK")) == 17


def test_nested_attribute_lookup_reads_object_attributes() -> None:
    inner = [SimpleNamespace(a=SimpleNamespace(b=value)) for value in (0, 1, 2, 3)]

    assert [item.a.b for item in FilterList(inner).filter(a__b__gt=1)] == [2, 3]


def test_shorthand_reads_a_data_attribute_of_a_datetime() -> None:
    assert names(CORPUS.filter(timestamp__year=2023, timestamp__month=12)) == {
        "Alpha-35.h5",
        "beta-11.h5",
        "delta-23.h5",
        "GAMMA-47.h5",
    }


def test_object_without_the_tag_does_not_match() -> None:
    assert names(CORPUS.filter(tags__serial__starts_with="S")) == WITH_SERIAL


def test_object_without_the_tag_raises_when_not_ignoring_them() -> None:
    with pytest.raises(FilterError, match="'tags__serial'"):
        CORPUS.filter(tags__serial="S1", ignore_items_without_attribute=False)


def test_malformed_lookup_name_raises_at_once() -> None:
    with pytest.raises(FilterError, match="malformed"):
        compile_filter(size____gt=1)


def test_multiple_lookups_are_anded() -> None:
    matched = CORPUS.filter(labels__contains="raw", tags__manufacturer="Vestas", size__lt=200)

    assert names(matched) == {
        "Alpha-00.csv",
        "Epsilon-04.txt",
        "delta-08.h5",
        "GAMMA-12.csv",
        "beta-16.txt",
    }


def test_callable_predicate_filters() -> None:
    matched = CORPUS.filter(lambda record: record.size % 100 == 0)

    assert names(matched) == {
        "Alpha-00.csv",
        "Alpha-10.txt",
        "Alpha-20.h5",
        "Alpha-30.csv",
        "Alpha-40.txt",
    }


def test_callable_predicate_is_anded_with_lookups() -> None:
    matched = CORPUS.filter(lambda record: record.size % 100 == 0, name__ends_with=".txt")

    assert names(matched) == {"Alpha-10.txt", "Alpha-40.txt"}


def test_positional_argument_that_is_not_callable_raises() -> None:
    with pytest.raises(FilterError, match="callable"):
        CORPUS.filter("name__equals")  # type: ignore[arg-type]


def test_filter_without_arguments_keeps_everything() -> None:
    assert CORPUS.filter() == CORPUS


def test_compile_filter_tests_a_single_object() -> None:
    is_raw_vestas = compile_filter(labels__contains="raw", tags__manufacturer="Vestas")

    assert [record.name for record in RECORDS[:5] if is_raw_vestas(record)] == [
        "Alpha-00.csv",
        "Epsilon-04.txt",
    ]


# --- Errors --------------------------------------------------------------------------------


def test_unknown_action_error_lists_the_valid_actions_for_the_type() -> None:
    with pytest.raises(FilterError) as raised:
        CORPUS.filter(size__starts_with="1")

    message = str(raised.value)
    assert "'starts_with'" in message
    assert "'size'" in message
    assert "int" in message
    assert "equals, gt, gte, in_range, is, is_not, lt, lte, not_equals, not_in_range" in message


def test_unknown_action_error_suggests_the_closest_action() -> None:
    with pytest.raises(FilterError, match="did you mean name__starts_with"):
        CORPUS.filter(name__startswith="A")


def test_unknown_action_error_is_an_octstore_value_error() -> None:
    with pytest.raises(FilterError) as raised:
        CORPUS.filter(labels__year_equals=2020)

    assert isinstance(raised.value, OctstoreError)
    assert isinstance(raised.value, ValueError)
    assert "LabelSet" in str(raised.value)


def test_value_of_an_incomparable_type_raises() -> None:
    with pytest.raises(FilterError, match="size__gt='10'"):
        CORPUS.filter(size__gt="10")


def test_range_that_is_not_a_pair_raises() -> None:
    with pytest.raises(FilterError, match="pair"):
        CORPUS.filter(size__in_range=(1, 2, 3))


# --- Timestamps and None -------------------------------------------------------------------


def test_comparison_skips_objects_without_timestamp() -> None:
    matched = CORPUS.filter(timestamp__gt=datetime(2000, 1, 1, tzinfo=UTC))

    assert names(matched) == all_but(WITHOUT_TIMESTAMP)


def test_datetime_part_action_skips_objects_without_timestamp() -> None:
    assert names(CORPUS.filter(timestamp__hour_in=set(range(24)))) == all_but(WITHOUT_TIMESTAMP)


def test_negated_action_also_skips_objects_without_timestamp() -> None:
    everything = (datetime(1900, 1, 1, tzinfo=UTC), datetime(1901, 1, 1, tzinfo=UTC))

    assert names(CORPUS.filter(timestamp__not_in_range=everything)) == all_but(WITHOUT_TIMESTAMP)


def test_timestamp_compared_with_another_time_zone() -> None:
    midnight_utc = datetime(2023, 12, 1, 2, tzinfo=timezone(timedelta(hours=2)))

    assert names(CORPUS.filter(timestamp__gt=midnight_utc)) == {
        "beta-11.h5",
        "delta-23.h5",
        "Alpha-35.h5",
        "GAMMA-47.h5",
    }


def test_datetime_comparisons_take_iso_8601_text() -> None:
    for action in ("gt", "lte", "equals"):
        as_text = CORPUS.filter(**{f"timestamp__{action}": "2023-12-12T11:17:11+00:00"})

        assert as_text == CORPUS.filter(
            **{f"timestamp__{action}": datetime(2023, 12, 12, 11, 17, 11, tzinfo=UTC)}
        )
    in_range = CORPUS.filter(timestamp__in_range=("2023-10-01", "2023-12-31"))
    assert in_range == CORPUS.filter(
        timestamp__in_range=(datetime(2023, 10, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC))
    )


def test_naive_datetime_is_taken_as_utc() -> None:
    naive = CORPUS.filter(timestamp__gt=datetime(2023, 10, 1))

    assert naive == CORPUS.filter(timestamp__gt=datetime(2023, 10, 1, tzinfo=UTC))


def test_naive_timestamps_on_objects_are_taken_as_utc() -> None:
    items = FilterList([SimpleNamespace(timestamp=datetime(2024, 1, 1, 12))])

    assert len(items.filter(timestamp__gt=datetime(2024, 1, 1, 11, tzinfo=UTC))) == 1


# --- one() ---------------------------------------------------------------------------------


def test_one_returns_the_single_match() -> None:
    assert CORPUS.one(tags__serial="S3") is BY_NAME["delta-03.csv"]


def test_one_with_no_match_raises_saying_none_matched() -> None:
    with pytest.raises(NoSingleMatchError, match="none of the 50 objects matches") as raised:
        CORPUS.one(tags__serial="S9")

    assert raised.value.count == 0


def test_one_with_many_matches_raises_saying_how_many() -> None:
    with pytest.raises(NoSingleMatchError, match="5 of the 50 objects match") as raised:
        CORPUS.one(labels__contains="met-mast")

    assert raised.value.count == 5


def test_no_single_match_error_is_a_lookup_error_and_survives_pickling() -> None:
    with pytest.raises(LookupError) as raised:
        CORPUS.one(name="nothing")

    copy = pickle.loads(pickle.dumps(raised.value))
    assert isinstance(copy, NoSingleMatchError)
    assert (str(copy), copy.count) == (str(raised.value), 0)


def test_one_accepts_a_callable() -> None:
    assert CORPUS.one(lambda record: record.size == 120).name == "GAMMA-12.csv"


# --- order_by() ----------------------------------------------------------------------------


def test_order_by_returns_a_filter_list_sorted_by_the_attribute() -> None:
    ordered = CORPUS.order_by("size")

    assert isinstance(ordered, FilterList)
    assert ordered == RECORDS


def test_order_by_reverse() -> None:
    assert CORPUS.order_by("size", reverse=True) == RECORDS[::-1]


def test_order_by_nested_tag() -> None:
    assert CORPUS.order_by("tags__location__depth_m") == RECORDS


def test_order_by_accepts_dotted_names_as_octue_did() -> None:
    assert CORPUS.order_by("tags.location.depth_m") == RECORDS


def test_order_by_puts_none_last_in_either_direction() -> None:
    ascending = CORPUS.order_by("timestamp")
    descending = CORPUS.order_by("timestamp", reverse=True)

    assert names(ascending[-5:]) == names(descending[-5:]) == WITHOUT_TIMESTAMP
    assert ascending[0].name == "Alpha-00.csv"
    assert descending[0].name == "delta-23.h5"


def test_order_by_missing_tag_raises_and_says_how_to_keep_those_with_it() -> None:
    with pytest.raises(FilterError, match=r"no key 'serial'.*filter\(tags__contains='serial'\)"):
        CORPUS.order_by("tags__serial")


def test_order_by_missing_attribute_raises() -> None:
    with pytest.raises(FilterError, match="no attribute 'colour'"):
        CORPUS.order_by("colour")


def test_order_by_values_that_do_not_compare_raises() -> None:
    mixed = FilterList([SimpleNamespace(v=1), SimpleNamespace(v="a")])

    with pytest.raises(FilterError, match="int, str"):
        mixed.order_by("v")


def test_ordered_list_filters_keeping_order() -> None:
    ordered = CORPUS.order_by("size", reverse=True).filter(name__starts_with="Alpha")

    assert isinstance(ordered, FilterList)
    assert [record.size for record in ordered] == [450, 400, 350, 300, 250, 200, 150, 100, 50, 0]


def test_ordered_list_one() -> None:
    assert CORPUS.order_by("size").one(size=10).name == "beta-01.txt"


# --- Containers ----------------------------------------------------------------------------


def test_filter_returns_the_same_kind_of_set() -> None:
    class Files(FilterSet[Record]):
        pass

    assert type(Files(RECORDS).filter(size__lt=30)) is Files


def test_filter_set_equals_a_plain_set_of_the_same_objects() -> None:
    assert CORPUS.filter(size__lt=20) == frozenset({RECORDS[0], RECORDS[1]})


def test_set_operations_keep_a_filter_set() -> None:
    either = CORPUS.filter(size__lt=20) | CORPUS.filter(size__gt=480)

    assert isinstance(either, FilterSet)
    assert names(either.filter(name__starts_with="beta")) == {"beta-01.txt"}


def test_named_set_operations_keep_a_filter_set() -> None:
    small = CORPUS.filter(size__lt=30)

    assert isinstance(CORPUS.difference(small), FilterSet)
    assert isinstance(CORPUS.intersection(small), FilterSet)
    assert isinstance(small.union(), FilterSet)
    assert isinstance(small.symmetric_difference(CORPUS), FilterSet)
    assert len(CORPUS - small) == 47


def test_filter_set_is_immutable() -> None:
    with pytest.raises(AttributeError):
        CORPUS.add(RECORDS[0])  # type: ignore[attr-defined]


def test_filter_list_holds_unhashable_objects() -> None:
    items = FilterList([{"size": 1}, {"size": 2}])

    assert items.filter(size__gt=1) == [{"size": 2}]
