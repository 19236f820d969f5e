"""A read's columns and row filter, checked against the dataset's schema before any source
sees them, so a typo is a 422 naming the field, never a source error or an injection.

The filter format is the one pandas and pyarrow use for Parquet:
`[["age", ">=", 30], ["country", "in", ["DE", "FR"]], ["churned", "is not null"]]`, ANDed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

import pyarrow as pa

from modelyard.data.connectors.base import OPS, Filter, Op, ReadSpec, Scalar
from modelyard.errors import InvalidInputError

MAX_IN_VALUES = 1000


def parse_filter(text: str | None) -> list[list[Any]]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInputError(
            'filter must be JSON, e.g. [["age", ">=", 30]]', field="filter"
        ) from None
    if not isinstance(value, list):
        raise InvalidInputError("filter must be a list of conditions", field="filter")
    return value


def build_spec(
    schema: pa.Schema,
    *,
    columns: Sequence[str] | None,
    limit: int | None,
    conditions: Sequence[Any],
) -> ReadSpec:
    known = {f.name: f.type for f in schema}
    for column in columns or ():
        if column not in known:
            raise InvalidInputError(_unknown(column, known), field="columns")
    if limit is not None and limit < 0:
        raise InvalidInputError("limit must be 0 or more", field="limit")
    return ReadSpec(
        columns=list(dict.fromkeys(columns)) if columns else None,
        limit=limit,
        filters=[_condition(item, known) for item in conditions],
    )


def _unknown(column: str, known: dict[str, pa.DataType]) -> str:
    names = ", ".join(list(known)[:30])
    return f"the dataset has no column {column!r} (it has: {names})"


def _condition(item: Any, known: dict[str, pa.DataType]) -> Filter:
    if not isinstance(item, list | tuple) or len(item) not in (2, 3):
        raise InvalidInputError(
            "each filter condition is [column, op, value] or [column, 'is null']", field="filter"
        )
    column, op = item[0], item[1]
    if not isinstance(column, str) or column not in known:
        raise InvalidInputError(_unknown(str(column), known), field="filter")
    if op not in OPS:
        raise InvalidInputError(
            f"unknown filter operator {op!r}; use one of {', '.join(OPS)}", field="filter"
        )
    if op in ("is null", "is not null"):
        return Filter(column, cast(Op, op))
    if len(item) != 3:
        raise InvalidInputError(f"the condition on {column!r} needs a value", field="filter")
    kind = known[column]
    if op in ("in", "not in"):
        if not isinstance(item[2], list) or len(item[2]) > MAX_IN_VALUES:
            raise InvalidInputError(
                f"'{op}' takes a list of at most {MAX_IN_VALUES} values", field="filter"
            )
        return Filter(column, cast(Op, op), tuple(_value(column, kind, v) for v in item[2]))
    return Filter(column, cast(Op, op), _value(column, kind, item[2]))


def _value(column: str, kind: pa.DataType, value: Any) -> Scalar:
    def wrong(expected: str) -> InvalidInputError:
        return InvalidInputError(
            f"column {column!r} holds {kind}; {value!r} is not {expected}", field="filter"
        )

    if pa.types.is_boolean(kind):
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        if pa.types.is_integer(kind) and isinstance(value, float) and not value.is_integer():
            raise wrong("a whole number")
        return value
    if pa.types.is_time(kind):
        # Not `datetime.fromisoformat`, which wants a date first: "12:30" is a time of day.
        if not isinstance(value, str):
            raise wrong("an ISO time of day")
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise wrong("an ISO time of day") from None
    if pa.types.is_temporal(kind):
        if not isinstance(value, str):
            raise wrong("an ISO date or time")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise wrong("an ISO date or time") from None
        if pa.types.is_date(kind):
            return parsed.date()
        if getattr(kind, "tz", None) and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed
    if isinstance(value, str):
        return value
    raise wrong("text")
