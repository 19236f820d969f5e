"""The connector contract: every kind of source answers the same rows for the same read.

Each test runs against every source of `conftest.py` that it applies to; reads go through
`build_spec` against the connector's own schema, as the datasets API does.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from modelyard.data.connectors import Connector, ReadSpec, Source, open_connector
from modelyard.data.filters import build_spec
from modelyard.errors import ConnectorError, InvalidInputError
from tests.contracts.conftest import (
    ALL,
    COLUMNS,
    FOLDERS,
    INJECTION_NAME,
    KINDS,
    KNOWN,
    QUOTED_NAME,
    SERVERS,
    SQL,
    UNICODE_NAME,
    Case,
    RefusingPostgres,
    known_table,
)

all_kinds = pytest.mark.parametrize("case", ALL, indirect=True)
each_kind = pytest.mark.parametrize("case", KINDS, indirect=True)
sql_kinds = pytest.mark.parametrize("case", SQL, indirect=True)
server_kinds = pytest.mark.parametrize("case", SERVERS, indirect=True)


def read(
    connector: Connector, source: Source, spec: ReadSpec | None = None
) -> tuple[pa.Schema, list[dict[str, Any]]]:
    reader = connector.read(source, spec or ReadSpec())
    assert isinstance(reader, pa.RecordBatchReader)
    table = reader.read_all()
    reader.close()
    return table.schema, [normal(row) for row in table.to_pylist()]


def normal(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the values a source keeps in other types (SQLite's text dates, 0/1 for
    booleans) as the Python values they stand for."""
    out = dict(row)
    if isinstance(out.get("signup"), str):
        out["signup"] = dt.date.fromisoformat(out["signup"])
    if isinstance(out.get("seen_at"), str):
        out["seen_at"] = dt.datetime.fromisoformat(out["seen_at"])
    if isinstance(out.get("active"), int):
        out["active"] = bool(out["active"])
    return out


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: int(row["id"]))


def only(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    return [{c: row[c] for c in columns} for row in rows]


def secrets_in(case: Case, message: str) -> list[str]:
    return [value for value in case.secrets.values() if value in message]


# --- reaching the source -------------------------------------------------------------------


@each_kind
def test_test_describes_the_source(case: Case) -> None:
    with case.connector() as connector:
        description = connector.test()
    assert case.describes in description
    assert not secrets_in(case, description)


@each_kind
def test_an_unreachable_source_is_a_connector_error(case: Case) -> None:
    with case.connector(**case.unreachable) as connector:
        with pytest.raises(ConnectorError) as tested:
            connector.test()
        with pytest.raises(ConnectorError) as read_:
            connector.read(case.source, ReadSpec())
    for error in (tested.value, read_.value):
        assert not secrets_in(case, error.message)


def test_mysql_wrong_password_is_refused_without_echoing_it(mysql_case: Case) -> None:
    wrong = "wrong:P@ss%word/9"
    connector = open_connector("mysql", mysql_case.settings, {"password": wrong})
    for call in (connector.test, lambda: connector.read(mysql_case.source, ReadSpec())):
        with pytest.raises(ConnectorError, match="Access denied") as raised:
            call()
        assert wrong not in raised.value.message
        assert "P%40ss" not in raised.value.message  # nor URL-encoded


def test_postgresql_wrong_password_is_refused_without_echoing_it(
    postgresql_case: Case, refusing_postgres: RefusingPostgres
) -> None:
    wrong = "wrong:P@ss%word/9"
    settings = {**postgresql_case.settings, "port": refusing_postgres.port}
    connector = open_connector("postgresql", settings, {"password": wrong})
    for call in (connector.test, lambda: connector.read(postgresql_case.source, ReadSpec())):
        with pytest.raises(ConnectorError, match="password authentication failed") as raised:
            call()
        assert wrong not in raised.value.message
        assert "P%40ss" not in raised.value.message  # nor URL-encoded
    assert set(refusing_postgres.passwords) == {wrong}


# --- schema and plain reads ----------------------------------------------------------------


@all_kinds
def test_schema_has_the_columns_in_order(case: Case) -> None:
    with case.connector() as connector:
        schema = connector.schema(case.source)
    assert schema.names == list(COLUMNS)
    types = {f.name: f.type for f in schema}
    assert pa.types.is_integer(types["id"])
    assert pa.types.is_floating(types["score"])
    for name in ("name", "country"):
        assert pa.types.is_string(types[name]) or pa.types.is_large_string(types[name])
    if case.dates_as_text:
        assert pa.types.is_string(types["signup"]) and pa.types.is_string(types["seen_at"])
    else:
        assert pa.types.is_date(types["signup"]) and pa.types.is_timestamp(types["seen_at"])
    if case.bools_as_integers:
        assert pa.types.is_integer(types["active"])
    else:
        assert pa.types.is_boolean(types["active"])


@all_kinds
def test_read_answers_every_row_with_its_values(case: Case) -> None:
    with case.connector() as connector:
        schema, rows = read(connector, case.source)
        assert schema == connector.schema(case.source)
    assert by_id(rows) == KNOWN


@all_kinds
def test_columns_are_projected_in_the_order_asked(case: Case) -> None:
    with case.connector() as connector:
        schema, rows = read(connector, case.source, ReadSpec(columns=["name", "id"]))
    assert schema.names == ["name", "id"]
    assert by_id(rows) == only(KNOWN, ["name", "id"])


@all_kinds
@pytest.mark.parametrize("limit", [0, 1, 7])
def test_limit_cuts_the_rows(case: Case, limit: int) -> None:
    with case.connector() as connector:
        schema, rows = read(connector, case.source, ReadSpec(limit=limit))
    assert schema.names == list(COLUMNS)
    assert len(rows) == limit
    assert all(row in KNOWN for row in rows)


@each_kind
def test_a_missing_table_or_file_is_a_connector_error(case: Case) -> None:
    with case.connector() as connector:
        with pytest.raises(ConnectorError) as read_:
            connector.read(case.missing, ReadSpec())
        with pytest.raises(ConnectorError) as schema:
            connector.schema(case.missing)
    for error in (read_.value, schema.value):
        assert not secrets_in(case, error.message)


@all_kinds
def test_an_unknown_column_is_a_connector_error_not_a_statement(case: Case) -> None:
    # Quote characters of every dialect: the name stays one identifier, which is missing.
    with case.connector() as connector, pytest.raises(ConnectorError):
        connector.read(case.source, ReadSpec(columns=['id" FROM people --`x`']))


# --- filters -------------------------------------------------------------------------------

CONDITIONS: list[list[Any]] = [
    ["id", "=", 17],
    ["id", "!=", 17],
    ["id", "<", 20],
    ["id", "<=", 20],
    ["id", ">", 190],
    ["id", ">=", 190],
    ["id", "in", [3, 5, 300]],
    ["id", "not in", [3, 5]],
    ["id", "in", []],
    ["score", "<", 10.5],
    ["score", ">=", 95.0],
    ["score", "!=", 5.0],
    ["score", "is null"],
    ["score", "is not null"],
    ["score", "in", [1.5, 2.0, 3.5]],
    ["score", "not in", [1.5, 2.0]],
    ["score", "not in", []],
    ["country", "=", "US"],
    ["country", "!=", "US"],
    ["country", "in", ["DE", "FR"]],
    ["country", "not in", ["DE", "FR"]],
    ["signup", ">=", "2024-07-01"],
    ["signup", "<", "2024-01-10"],
    ["signup", "=", "2024-03-01"],
    ["seen_at", ">", "2024-03-01 12:00:00"],
    ["seen_at", "<=", "2024-01-05 00:00:00"],
    ["active", "=", True],
    ["active", "!=", True],
    ["name", "=", QUOTED_NAME],
    ["name", "=", INJECTION_NAME],
    ["name", "=", "nobody' OR '1'='1"],
    ["name", "=", "nobody\\' OR 1=1 -- "],
    ["name", "in", [UNICODE_NAME, "person 10", QUOTED_NAME]],
]


def typed(column: str, value: Any) -> Any:
    if isinstance(value, list):
        return [typed(column, v) for v in value]
    if column == "signup":
        return dt.date.fromisoformat(value)
    if column == "seen_at":
        return dt.datetime.fromisoformat(value)
    return value


def holds(row: dict[str, Any], column: str, op: str, value: Any = None) -> bool:
    """SQL's answer: a NULL matches no comparison, and `x NOT IN ()` is true for every x."""
    v, value = row[column], typed(column, value)
    if op == "is null":
        return v is None
    if op == "is not null":
        return v is not None
    if op == "not in" and not value:
        return True
    if v is None:
        return False
    answers = {
        "=": lambda: v == value,
        "!=": lambda: v != value,
        "<": lambda: v < value,
        "<=": lambda: v <= value,
        ">": lambda: v > value,
        ">=": lambda: v >= value,
        "in": lambda: v in value,
        "not in": lambda: v not in value,
    }
    return bool(answers[op]())


def for_source(condition: list[Any], schema: pa.Schema) -> list[Any]:
    """`condition` as a user of this source writes it: 1 for true where booleans are integers."""
    column, *rest = condition
    if rest[1:] and isinstance(rest[1], bool) and pa.types.is_integer(schema.field(column).type):
        return [column, rest[0], int(rest[1])]
    return condition


@all_kinds
def test_every_filter_answers_the_rows_sql_semantics_give(
    case: Case, subtests: pytest.Subtests
) -> None:
    with case.connector() as connector:
        schema = connector.schema(case.source)
        for condition in CONDITIONS:
            with subtests.test(" ".join(map(str, condition))):
                expected = [row for row in KNOWN if holds(row, *condition)]
                spec = build_spec(
                    schema, columns=None, limit=None, conditions=[for_source(condition, schema)]
                )
                _, rows = read(connector, case.source, spec)
                assert by_id(rows) == expected


@all_kinds
def test_filters_columns_and_limit_combine(case: Case) -> None:
    conditions: list[Any] = [["country", "=", "DE"], ["score", ">", 20.0]]
    expected = [row["id"] for row in KNOWN if row["country"] == "DE" and (row["score"] or 0) > 20]
    with case.connector() as connector:
        schema = connector.schema(case.source)
        everything = build_spec(schema, columns=["id"], limit=None, conditions=conditions)
        _, all_rows = read(connector, case.source, everything)
        limited = build_spec(schema, columns=["id"], limit=5, conditions=conditions)
        limited_schema, some = read(connector, case.source, limited)
    assert sorted(row["id"] for row in all_rows) == expected
    assert limited_schema.names == ["id"]
    assert len(some) == 5 and {row["id"] for row in some} <= set(expected)


# --- dataset queries (SQL sources) ---------------------------------------------------------


@sql_kinds
def test_a_query_source_reads_its_rows(case: Case) -> None:
    # A '%' in the query next to bound values (PyMySQL %-formats), and a trailing comment.
    query = Source(
        query="SELECT id, name, score FROM people "
        "WHERE name LIKE 'person 1%' AND country = 'DE' -- the Germans"
    )
    expected = only(
        [r for r in KNOWN if r["name"].startswith("person 1") and r["country"] == "DE"],
        ["id", "name", "score"],
    )
    filtered = [r["id"] for r in expected if r["score"] is not None and r["score"] > 20]
    with case.connector() as connector:
        schema = connector.schema(query)
        read_schema, rows = read(connector, query)
        conditions: list[Any] = [["score", ">", 20.0]]
        spec = build_spec(schema, columns=["id"], limit=None, conditions=conditions)
        _, matching = read(connector, query, spec)
        spec = build_spec(schema, columns=["id"], limit=3, conditions=conditions)
        _, some = read(connector, query, spec)
    assert schema.names == read_schema.names == ["id", "name", "score"]
    assert by_id(rows) == expected
    assert sorted(row["id"] for row in matching) == filtered
    assert len(some) == 3 and {row["id"] for row in some} <= set(filtered)


@server_kinds
def test_a_query_cannot_write_even_through_a_function(case: Case) -> None:
    assert case.writes is not None
    before = case.writes()
    with case.connector() as connector, pytest.raises(ConnectorError, match=r"(?i)read.only"):
        read(connector, Source(query=case.writing_query))
    assert case.writes() == before


def test_postgresql_sessions_are_read_only(postgresql_case: Case) -> None:
    query = Source(query="SELECT current_setting('transaction_read_only') AS ro")
    with postgresql_case.connector() as connector:
        _, rows = read(connector, query)
    assert rows == [{"ro": "on"}]


@server_kinds
@pytest.mark.parametrize("consumed", [False, True], ids=["dropped unread", "read to the end"])
def test_a_reader_gives_its_session_back(case: Case, consumed: bool) -> None:
    assert case.sessions is not None
    with case.connector() as connector:
        # MySQL reads a whole table through ConnectorX, a filtered one on its own session
        reader = connector.read(case.source, ReadSpec())
        filtered = connector.read(
            case.source,
            build_spec(
                connector.schema(case.source),
                columns=None,
                limit=None,
                conditions=[["id", ">", 10]],
            ),
        )
        if consumed:
            reader.read_all()
            filtered.read_all()
        del reader, filtered
    deadline = time.monotonic() + 5
    while case.sessions() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert case.sessions() == 0


@pytest.mark.parametrize("case", ["sqlite", "duckdb"], indirect=True)
@pytest.mark.parametrize("consumed", [False, True], ids=["dropped unread", "read to the end"])
def test_a_reader_lets_go_of_the_database_file(case: Case, consumed: bool, tmp_path: Path) -> None:
    path = tmp_path / Path(case.settings["path"]).name
    shutil.copy(case.settings["path"], path)
    with case.connector(path=str(path)) as connector:
        reader = connector.read(case.source, ReadSpec(limit=50))
        if consumed:
            reader.read_all()
        del reader
    # Someone else may write the file now (DuckDB refuses while a read-only handle is open).
    if case.kind == "sqlite":
        conn: Any = sqlite3.connect(path, timeout=0)
        with conn:
            conn.execute("DELETE FROM people")
    else:
        conn = duckdb.connect(str(path))
        conn.execute("DELETE FROM people")
    conn.close()


def test_duckdb_cannot_reach_other_files(duckdb_case: Case, files_root: Path) -> None:
    with duckdb_case.connector() as connector:
        for query in (
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_parquet('{files_root}/people/part-1.parquet')",
        ):
            with pytest.raises(ConnectorError):
                read(connector, Source(query=query))


@pytest.mark.parametrize("case", ["sqlite", "duckdb"], indirect=True)
def test_database_files_are_opened_read_only(case: Case) -> None:
    # No query can write through the SELECT the connector wraps it in, so this looks at the
    # handle itself: the file is opened read-only, whatever the server's rights on it.
    with case.connector() as connector:
        conn = connector._connect()  # type: ignore[attr-defined]
        try:
            with pytest.raises((sqlite3.OperationalError, duckdb.Error), match=r"(?i)read.?only"):
                conn.execute("DELETE FROM people")
        finally:
            conn.close()
        _, rows = read(connector, case.source)
    assert len(rows) == len(KNOWN)


# --- paths (files, S3) ---------------------------------------------------------------------


@pytest.mark.parametrize("case", FOLDERS, indirect=True)
@pytest.mark.parametrize(
    "path", ["../people.csv", "people/../../x.csv", "/etc/passwd", "..\\x.csv"]
)
def test_a_path_cannot_leave_the_root(case: Case, path: str) -> None:
    with case.connector() as connector:
        for call in (
            lambda: connector.read(Source(path=path), ReadSpec()),
            lambda: connector.schema(Source(path=path)),
        ):
            with pytest.raises(InvalidInputError) as raised:
                call()
            assert raised.value.field == "path"


def test_s3_reads_only_under_the_prefix(s3_parquet_case: Case) -> None:
    with s3_parquet_case.connector() as connector:
        with pytest.raises(ConnectorError):
            connector.read(Source(path="private/secret.csv"), ReadSpec())
        _, rows = read(connector, Source(path="*.csv"))
        _, parquet_rows = read(connector, Source(path="people/*.parquet"))
    assert by_id(rows) == KNOWN  # people.csv only, not the object outside the prefix
    assert by_id(parquet_rows) == KNOWN


def test_files_does_not_follow_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    pacsv.write_csv(known_table(KNOWN[:3]), root / "inside.csv")
    pacsv.write_csv(known_table(KNOWN[3:5]), outside / "secret.csv")
    os.symlink(outside / "secret.csv", root / "link.csv")
    os.symlink(outside, root / "linked-folder")
    connector = open_connector("files", {"root": str(root)}, {})
    for path in ("link.csv", "linked-folder/secret.csv", "linked-folder/*.csv"):
        with pytest.raises(ConnectorError):
            connector.read(Source(path=path), ReadSpec())
    _, rows = read(connector, Source(path="*.csv"))
    assert by_id(rows) == KNOWN[:3]
