"""The SELECT a read becomes: names quoted for the dialect, every value a parameter."""

from __future__ import annotations

import datetime as dt
import sqlite3

import duckdb
import pytest

from modelyard.data.connectors.base import Filter, ReadSpec, Source
from modelyard.data.connectors.sql import MYSQL, POSTGRES, QMARK, SQLITE, Dialect, build_select

SPEC = ReadSpec(
    columns=["id", 'say "hi"', "back`tick"],
    limit=10,
    filters=[
        Filter("name", "=", "O'Brien \\ Co"),
        Filter("country", "in", ("DE", "FR")),
        Filter("score", "is null"),
        Filter("signup", ">=", dt.date(2024, 1, 1)),
        Filter("id", "!=", 3),
    ],
)
PARAMS = ["O'Brien \\ Co", "DE", "FR", dt.date(2024, 1, 1), 3]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            POSTGRES,
            'SELECT "id", "say ""hi""", "back`tick" FROM "public"."people" '
            'WHERE "name" = $1 AND "country" IN ($2, $3) AND "score" IS NULL '
            'AND "signup" >= $4 AND "id" <> $5 LIMIT 10',
        ),
        (
            MYSQL,  # "\x00" marks a parameter; the connector turns it into PyMySQL's %s
            'SELECT `id`, `say "hi"`, `back``tick` FROM `public`.`people` '
            "WHERE `name` = \x00 AND `country` IN (\x00, \x00) AND `score` IS NULL "
            "AND `signup` >= \x00 AND `id` <> \x00 LIMIT 10",
        ),
        (
            QMARK,
            'SELECT "id", "say ""hi""", "back`tick" FROM "public"."people" '
            'WHERE "name" = ? AND "country" IN (?, ?) AND "score" IS NULL '
            'AND "signup" >= ? AND "id" <> ? LIMIT 10',
        ),
        (
            SQLITE,
            'SELECT `id`, `say "hi"`, `back``tick` FROM `public`.`people` '
            "WHERE `name` = ? AND `country` IN (?, ?) AND `score` IS NULL "
            "AND `signup` >= ? AND `id` <> ? LIMIT 10",
        ),
    ],
    ids=["postgresql", "mysql", "duckdb", "sqlite"],
)
def test_each_dialect_quotes_names_and_binds_values(dialect: Dialect, expected: str) -> None:
    sql, params = build_select(dialect, Source(table="public.people"), SPEC)
    assert sql == expected
    assert params == PARAMS


def test_no_value_is_ever_in_the_statement() -> None:
    hostile = "x'; DROP TABLE people; --"
    spec = ReadSpec(
        filters=[Filter("name", "=", hostile), Filter("name", "not in", (hostile, "a\\b"))]
    )
    for dialect in (POSTGRES, MYSQL, QMARK, SQLITE):
        sql, params = build_select(dialect, Source(table="people"), spec)
        assert "DROP" not in sql and "'" not in sql
        assert params == [hostile, hostile, "a\\b"]


def test_a_read_without_columns_filters_or_limit_selects_everything() -> None:
    assert build_select(POSTGRES, Source(table="people"), ReadSpec()) == (
        'SELECT * FROM "people"',
        [],
    )


def test_an_empty_in_list_matches_nothing_and_an_empty_not_in_everything() -> None:
    spec = ReadSpec(filters=[Filter("id", "in", ()), Filter("id", "not in", ())])
    sql, params = build_select(POSTGRES, Source(table="people"), spec)
    assert sql == 'SELECT * FROM "people" WHERE 1 = 0 AND 1 = 1'
    assert params == []


def test_a_query_is_read_as_a_subquery_its_comment_cannot_swallow() -> None:
    source = Source(query="SELECT id FROM people -- mine")
    sql, params = build_select(POSTGRES, source, ReadSpec(filters=[Filter("id", ">", 1)]))
    assert sql == (
        'SELECT * FROM (SELECT id FROM people -- mine\n) AS modelyard_source WHERE "id" > $1'
    )
    assert params == [1]


def test_the_statements_run_on_the_engines_they_are_built_for() -> None:
    # Tables whose names and columns hold every quote character, and a value that would
    # end a string literal if it were pasted into the statement.
    spec = ReadSpec(
        columns=['we"ird`name'],
        filters=[Filter("label", "=", "it's"), Filter("n", "in", (1, 2))],
        limit=5,
    )
    source = Source(table='odd "table`')
    rows = [(1, "it's", "one"), (2, "it's", "two"), (3, "other", "three")]

    lite = sqlite3.connect(":memory:")
    lite.execute('CREATE TABLE [odd "table`] (n INTEGER, label TEXT, [we"ird`name] TEXT)')
    lite.executemany('INSERT INTO [odd "table`] VALUES (?, ?, ?)', rows)
    found_lite = lite.execute(*build_select(SQLITE, source, spec)).fetchall()
    lite.close()

    duck = duckdb.connect()
    duck.execute('CREATE TABLE "odd ""table`" (n INTEGER, label VARCHAR, "we""ird`name" VARCHAR)')
    duck.executemany('INSERT INTO "odd ""table`" VALUES (?, ?, ?)', rows)
    found_duck = duck.execute(*build_select(QMARK, source, spec)).fetchall()
    duck.close()

    assert sorted(found_lite) == sorted(found_duck) == [("one",), ("two",)]
