"""Arrow record batches from a DB-API cursor, for drivers that do not speak Arrow.

Column types are inferred from the first batch in which a column has a value, then kept,
so every batch of a stream has the same schema. A value that does not fit the inferred
type (SQLite's dynamic typing) turns the column into text rather than failing the read.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

BATCH_ROWS = 65_536


def _widen(values: list[Any], kind: pa.DataType) -> pa.Array[Any]:
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


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
        try:
            yield from batches
            while rows := list(fetch(BATCH_ROWS)):
                batch = to_batch(rows)
                if batch.schema != schema:
                    batch = pa.RecordBatch.from_arrays(
                        [
                            _cast(col, field.type)
                            for col, field in zip(batch.columns, schema, strict=True)
                        ],
                        schema=schema,
                    )
                yield batch
        finally:
            close()

    return pa.RecordBatchReader.from_batches(schema, stream())


def _cast(column: pa.Array[Any], kind: pa.DataType) -> pa.Array[Any]:
    if column.type == kind:
        return column
    try:
        return column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], type=kind)
