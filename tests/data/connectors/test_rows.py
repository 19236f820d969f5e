"""DB-API rows become Arrow batches of one schema, whatever the first rows hold."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest

from modelyard.data.connectors.rows import reader_from_rows
from modelyard.errors import ConnectorError


class Cursor:
    """Answers `batches` one per fetchmany, whatever size is asked (as a driver may)."""

    def __init__(self, *batches: Sequence[Sequence[Any]]) -> None:
        self.batches = [list(b) for b in batches]
        self.closed = 0

    def fetchmany(self, size: int) -> list[Sequence[Any]]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed += 1


def read(names: list[str], *batches: Sequence[Sequence[Any]], declared: Any = None) -> pa.Table:
    cursor = Cursor(*batches)
    reader = reader_from_rows(names, cursor.fetchmany, cursor.close, declared)
    table = reader.read_all()
    assert cursor.closed == 1
    return table


def test_column_types_are_inferred_from_the_values() -> None:
    row = (
        1,
        2.5,
        True,
        "text",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5),
        b"\x00\x01",
        decimal.Decimal("1.25"),
    )
    names = ["i", "f", "b", "s", "d", "ts", "bin", "dec"]
    table = read(names, [row, row])
    assert table.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("s", pa.string()),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us")),
            ("bin", pa.binary()),
            ("dec", pa.float64()),
        ]
    )
    assert table.to_pylist()[0] == dict(zip(names, row[:7], strict=False)) | {"dec": 1.25}


def test_integers_and_floats_together_are_floats() -> None:
    table = read(["x"], [(1,), (2.5,), (None,)])
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist() == [1.0, 2.5, None]


def test_a_column_starting_with_nulls_takes_the_type_of_its_first_values() -> None:
    table = read(["x", "y"], [(None, None), (None, "a"), (3, None)])
    assert table.schema == pa.schema([("x", pa.int64()), ("y", pa.string())])
    assert table.to_pylist() == [
        {"x": None, "y": None},
        {"x": None, "y": "a"},
        {"x": 3, "y": None},
    ]


def test_mixed_values_widen_the_column_to_text() -> None:
    # SQLite's dynamic typing: an INTEGER column may hold text
    table = read(["x"], [(1,), ("n/a",), (None,), (2.5,)])
    assert table.schema.field("x").type == pa.string()
    assert table.column("x").to_pylist() == ["1", "n/a", None, "2.5"]


def test_every_batch_has_the_schema_of_the_first() -> None:
    cursor = Cursor([(None, 1)], [(7, 2)], [("eight", 3)])
    reader = reader_from_rows(["x", "n"], cursor.fetchmany, cursor.close)
    batches = list(reader)
    # a column with no value in the first batch is text, and stays text
    assert reader.schema == pa.schema([("x", pa.string()), ("n", pa.int64())])
    assert all(batch.schema == reader.schema for batch in batches)
    assert pa.Table.from_batches(batches).to_pylist() == [
        {"x": None, "n": 1},
        {"x": "7", "n": 2},
        {"x": "eight", "n": 3},
    ]


@pytest.mark.parametrize(
    "later",
    ["n/a", 3.5, dt.datetime(2024, 1, 1, 12)],
    ids=["text", "a fraction", "a time of day"],
)
def test_a_later_value_that_does_not_fit_fails_the_read_naming_the_column(later: Any) -> None:
    # never cut down to fit: 3.5 is not read as 3, nor noon as the day
    first = [(1,)] if not isinstance(later, dt.datetime) else [(dt.date(2024, 1, 1),)]
    cursor = Cursor(first, [(later,)])
    reader = reader_from_rows(["age"], cursor.fetchmany, cursor.close)
    with pytest.raises(ConnectorError, match="'age'"):
        reader.read_all()
    assert cursor.closed == 1


def test_declared_types_win_over_the_values() -> None:
    table = read(["x", "y"], [(1, None), (2, None)], declared=[pa.float64(), pa.int64()])
    assert table.schema == pa.schema([("x", pa.float64()), ("y", pa.int64())])
    assert table.to_pylist() == [{"x": 1.0, "y": None}, {"x": 2.0, "y": None}]


def test_an_empty_result_has_its_columns_as_text_or_declared() -> None:
    table = read(["a", "b"], declared=[None, pa.date32()])
    assert table.num_rows == 0
    assert table.schema == pa.schema([("a", pa.string()), ("b", pa.date32())])


def test_the_cursor_is_closed_when_the_reader_is_dropped_unread() -> None:
    cursor = Cursor([(1,)], [(2,)])
    reader = reader_from_rows(["x"], cursor.fetchmany, cursor.close)
    assert cursor.closed == 0
    del reader
    assert cursor.closed == 1


def test_the_cursor_is_closed_when_fetching_fails() -> None:
    cursor = Cursor([(1,)])
    calls = 0

    def fetch(size: int) -> list[Sequence[Any]]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("the connection dropped")
        return cursor.fetchmany(size)

    reader = reader_from_rows(["x"], fetch, cursor.close)
    with pytest.raises(OSError, match="dropped"):
        reader.read_all()
    assert cursor.closed == 1
