"""A read's columns and filter are checked against the dataset's schema, naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from modelyard.data.connectors.base import Filter
from modelyard.data.filters import MAX_IN_VALUES, build_spec, parse_filter
from modelyard.errors import InvalidInputError

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("score", pa.float64()),
        ("price", pa.decimal128(10, 2)),
        ("name", pa.string()),
        ("active", pa.bool_()),
        ("signup", pa.date32()),
        ("seen_at", pa.timestamp("us")),
        ("seen_utc", pa.timestamp("us", tz="UTC")),
        ("opens", pa.time64("us")),
    ]
)


def spec(conditions: list[Any], columns: list[str] | None = None) -> list[Filter]:
    return list(build_spec(SCHEMA, columns=columns, limit=None, conditions=conditions).filters)


def test_no_filter_is_no_condition() -> None:
    assert parse_filter(None) == []
    assert parse_filter("") == []
    assert parse_filter("[]") == []


def test_a_filter_is_parsed_from_json() -> None:
    assert parse_filter('[["id", ">=", 3], ["name", "is null"]]') == [
        ["id", ">=", 3],
        ["name", "is null"],
    ]


@pytest.mark.parametrize("text", ["[[id, '>', 3]]", "not json", '[["id", ">", 3]', "{"])
def test_a_filter_that_is_not_json_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError, match="must be JSON") as raised:
        parse_filter(text)
    assert raised.value.field == "filter"


@pytest.mark.parametrize("text", ['{"id": 3}', '"id > 3"', "3", "null"])
def test_a_filter_that_is_not_a_list_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError, match="list of conditions") as raised:
        parse_filter(text)
    assert raised.value.field == "filter"


def test_values_are_typed_by_the_column() -> None:
    assert spec(
        [
            ["id", "in", [1, 2.0]],
            ["score", "<", 3],
            ["price", ">=", 9.99],
            ["name", "not in", ["a", "b"]],
            ["active", "=", False],
            ["signup", ">=", "2024-01-31"],
            ["seen_at", "<", "2024-01-31 12:30:00"],
            ["seen_utc", "<", "2024-01-31T12:30:00"],
            ["opens", ">=", "08:30"],
            ["score", "is not null"],
        ]
    ) == [
        Filter("id", "in", (1, 2.0)),
        Filter("score", "<", 3),
        Filter("price", ">=", 9.99),
        Filter("name", "not in", ("a", "b")),
        Filter("active", "=", False),
        Filter("signup", ">=", dt.date(2024, 1, 31)),
        Filter("seen_at", "<", dt.datetime(2024, 1, 31, 12, 30)),
        # a time without a zone on a column with one is UTC
        Filter("seen_utc", "<", dt.datetime(2024, 1, 31, 12, 30, tzinfo=dt.UTC)),
        Filter("opens", ">=", dt.time(8, 30)),
        Filter("score", "is not null"),
    ]


def test_columns_are_kept_in_order_once_each() -> None:
    read = build_spec(SCHEMA, columns=["name", "id", "name"], limit=5, conditions=[])
    assert read.columns == ["name", "id"]
    assert read.limit == 5
    assert build_spec(SCHEMA, columns=None, limit=None, conditions=[]).columns is None


def test_an_unknown_column_to_read_names_the_field_columns() -> None:
    with pytest.raises(InvalidInputError, match=r"no column 'nope'.*it has: id, score") as raised:
        build_spec(SCHEMA, columns=["id", "nope"], limit=None, conditions=[])
    assert raised.value.field == "columns"


def test_a_negative_limit_names_the_field_limit() -> None:
    with pytest.raises(InvalidInputError) as raised:
        build_spec(SCHEMA, columns=None, limit=-1, conditions=[])
    assert raised.value.field == "limit"


BAD_CONDITIONS: list[tuple[Any, str]] = [
    ("id > 3", "each filter condition is"),
    (["id"], "each filter condition is"),
    (["id", ">", 3, 4], "each filter condition is"),
    (["nope", "=", 1], "no column 'nope'"),
    ([3, "=", 1], "no column '3'"),
    (["id", "~", 1], "unknown filter operator '~'"),
    (["id", "like", "a%"], "unknown filter operator 'like'"),
    (["id", ">"], "needs a value"),
    (["id", "=", "3"], "is not a number"),
    (["id", "=", True], "is not a number"),
    (["id", "=", None], "is not a number"),
    (["id", "=", 1.5], "is not a whole number"),
    (["score", ">", "high"], "is not a number"),
    (["price", ">", [1]], "is not a number"),
    (["active", "=", 1], "is not true or false"),
    (["active", "=", "true"], "is not true or false"),
    (["signup", ">", "yesterday"], "is not an ISO date or time"),
    (["signup", ">", 20240101], "is not an ISO date or time"),
    (["seen_at", ">", "2024-13-01"], "is not an ISO date or time"),
    (["opens", ">", "25:00"], "is not an ISO time of day"),
    (["name", "=", 3], "is not text"),
    (["name", "in", "DE"], "'in' takes a list"),
    (["id", "not in", 3], "'not in' takes a list"),
    (["id", "in", list(range(MAX_IN_VALUES + 1))], "'in' takes a list of at most"),
    (["id", "in", [1, "two"]], "is not a number"),
]


def test_a_bad_condition_names_the_field_filter(subtests: pytest.Subtests) -> None:
    for condition, says in BAD_CONDITIONS:
        with subtests.test(str(condition)[:60]):
            with pytest.raises(InvalidInputError, match=says) as raised:
                spec([["id", ">", 0], condition])
            assert raised.value.field == "filter"
