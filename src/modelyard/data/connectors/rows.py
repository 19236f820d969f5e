"""Arrow record batches from a DB-API cursor, for drivers that do not speak Arrow.

Column types are inferred from the first batch in which a column has a value, then kept,
so every batch of a stream has the same schema. A value in the first batch that does not
fit the type of the others (SQLite's dynamic typing) turns the column into text rather than
failing the read; a later batch that does not fit fails it with a ConnectorError.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from modelyard.data.connectors.base import streaming
from modelyard.errors import ConnectorError

BATCH_ROWS = 65_536


def _widen(values: list[Any], kind: pa.DataType) -> pa.Array[Any]:
    if _fits(values, kind):
        try:
            return pa.array(values, type=kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            pass  # a value of another type: the column becomes text
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _fits(values: list[Any], kind: pa.DataType) -> bool:
    """False where pyarrow would convert without a word but lose something: 3.5 to an
    integer column becomes 3, a datetime in a date column loses its time of day."""
    if pa.types.is_integer(kind):
        return all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values)
    if pa.types.is_date(kind):
        return all(
            v is None or (isinstance(v, dt.date) and not isinstance(v, dt.datetime)) for v in values
        )
    return True


def _infer(values: list[Any]) -> pa.DataType:
    sample = [v for v in values if v is not None]
    if not sample:
        return pa.null()
    if all(isinstance(v, bool) for v in sample):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in sample):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in sample):
        return pa.float64()
    if all(isinstance(v, decimal.Decimal) for v in sample):
        return pa.float64()
    if all(isinstance(v, dt.datetime) for v in sample):
        return pa.timestamp("us")
    if all(isinstance(v, dt.date) for v in sample):
        return pa.date32()
    if all(isinstance(v, bytes | bytearray) for v in sample):
        return pa.binary()
    return pa.string()


def _coerce(values: list[Any], kind: pa.DataType) -> list[Any]:
    if pa.types.is_floating(kind):
        return [float(v) if isinstance(v, decimal.Decimal) else v for v in values]
    if pa.types.is_string(kind):
        return [v if v is None or isinstance(v, str) else str(v) for v in values]
    return values


def reader_from_rows(
    names: Sequence[str],
    fetch: Callable[[int], Sequence[Sequence[Any]]],
    close: Callable[[], None],
    declared: Sequence[pa.DataType | None] | None = None,
) -> pa.RecordBatchReader:
    """A reader over `fetch(n)` (a cursor's fetchmany) that calls `close` when done.

    `declared` gives the types a driver reports per column (None where it cannot tell);
    the others are inferred from the first batch.
    """
    schema, batches = batches_from_rows(names, fetch, declared)
    return streaming(schema, batches, close)


def batches_from_rows(
    names: Sequence[str],
    fetch: Callable[[int], Sequence[Sequence[Any]]],
    declared: Sequence[pa.DataType | None] | None = None,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema of the rows `fetch(n)` answers, from the first batch (fetched now), and
    their batches; see `reader_from_rows`."""
    first = list(fetch(BATCH_ROWS))
    known = list(declared) if declared else [None] * len(names)
    types: list[pa.DataType] = [
        declared_type if declared_type is not None else _infer([row[i] for row in first])
        for i, declared_type in enumerate(known)
    ]

    def to_batch(rows: list[Sequence[Any]]) -> pa.RecordBatch:
        arrays = []
        for i, kind in enumerate(types):
            values = [row[i] for row in rows]
            if pa.types.is_null(kind):
                kind = types[i] = _infer(values)
                if pa.types.is_null(kind):
                    kind = pa.string()
            arrays.append(_widen(_coerce(values, kind), kind))
        return pa.RecordBatch.from_arrays(arrays, names=list(names))

    batches = [to_batch(first)] if first else []
    schema = (
        batches[0].schema
        if batches
        else pa.schema(
            [
                (n, pa.string() if pa.types.is_null(t) else t)
                for n, t in zip(names, types, strict=True)
            ]
        )
    )

    def stream() -> Iterator[pa.RecordBatch]:
        yield from batches
        while rows := list(fetch(BATCH_ROWS)):
            batch = to_batch(rows)
            if batch.schema != schema:
                batch = pa.RecordBatch.from_arrays(
                    [_cast(col, field) for col, field in zip(batch.columns, schema, strict=True)],
                    schema=schema,
                )
            yield batch

    return schema, stream()


def _cast(column: pa.Array[Any], field: pa.Field[Any]) -> pa.Array[Any]:
    if column.type == field.type:
        return column
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if pa.types.is_string(field.type):
            return pa.array([None if v is None else str(v) for v in column.to_pylist()])
        # The first batch fixed the column's type and has been streamed already.
        raise ConnectorError(
            f"column {field.name!r} holds {field.type} in the first rows and other values "
            f"later (after row {BATCH_ROWS}); cast it in a query to read it"
        ) from None
