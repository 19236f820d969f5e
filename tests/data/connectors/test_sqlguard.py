"""Dataset queries must only read: the guard names field `query` for anything else."""

from __future__ import annotations

import pytest

from modelyard.data.connectors.sqlguard import check_read_only
from modelyard.errors import InvalidInputError

KINDS = ["postgresql", "mysql", "sqlite", "duckdb"]

READS = [
    "SELECT * FROM people",
    "select id, name from people where country = 'DE' order by id",
    "WITH de AS (SELECT * FROM people WHERE country = 'DE') SELECT count(*) AS n FROM de",
    "SELECT id FROM people UNION SELECT id FROM customers",
    "SELECT id FROM people UNION ALL SELECT id FROM customers EXCEPT SELECT 3",
    "SELECT 'DROP TABLE people; DELETE FROM x' AS looks_bad_but_is_text",
    "SELECT name FROM people WHERE name = 'a;b' -- a comment; DROP TABLE people",
]

WRITES = [
    "INSERT INTO people VALUES (1)",
    "UPDATE people SET name = 'x'",
    "DELETE FROM people",
    "DROP TABLE people",
    "CREATE TABLE copy AS SELECT * FROM people",
    "ALTER TABLE people ADD COLUMN x int",
    "TRUNCATE people",
    "GRANT SELECT ON people TO someone",
    "SELECT 1; DROP TABLE x",
    "SELECT * FROM people; SELECT * FROM people",
    "SELECT * INTO copy FROM people",
    "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "SELECT * FROM people FOR UPDATE",
    "BEGIN",
    "",
    "   ;  ",
    "garbage that is not sql",
    "SELECT FROM WHERE",
]


# One test per dialect with a subtest per query: each test item costs the shared teardown.


@pytest.mark.parametrize("kind", KINDS)
def test_a_reading_query_is_accepted(kind: str, subtests: pytest.Subtests) -> None:
    for query in READS:
        with subtests.test(query):
            assert check_read_only(query, kind) == query


@pytest.mark.parametrize("kind", KINDS)
def test_a_trailing_semicolon_and_blanks_are_dropped(kind: str) -> None:
    assert check_read_only("  SELECT 1 AS one ;  \n", kind) == "SELECT 1 AS one"


@pytest.mark.parametrize("kind", KINDS)
def test_anything_but_one_reading_statement_is_refused(
    kind: str, subtests: pytest.Subtests
) -> None:
    for query in WRITES:
        with subtests.test(query):
            with pytest.raises(InvalidInputError) as raised:
                check_read_only(query, kind)
            assert raised.value.field == "query"


REFUSALS = [
    ("", "empty"),
    ("SELECT 1; DROP TABLE x", "exactly one statement, got 2"),
    ("DELETE FROM people", "must be a SELECT, not DELETE"),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "only read; it contains DELETE"),
    ("SELECT * INTO copy FROM people", "only read; it contains INTO"),
    ("garbage that is not sql", "not valid SQL"),
]


def test_the_refusal_says_why(subtests: pytest.Subtests) -> None:
    for query, says in REFUSALS:
        with subtests.test(query), pytest.raises(InvalidInputError, match=says):
            check_read_only(query, "postgresql")
