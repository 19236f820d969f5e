"""Profiles: what is in a dataset, computed server-side with DuckDB over Arrow.

One aggregate scan gives every column's nulls, distinct count (HyperLogLog), min, max,
mean, standard deviation and quartiles; one grouped scan per column gives its top values,
and numeric histograms are binned on the column's min and max.
"""

from __future__ import annotations

import math
import time
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.data.connections import connector_for
from modelyard.data.connectors import ReadSpec
from modelyard.data.schemas import ColumnProfile, Histogram, TopValue
from modelyard.data.secrets import SecretBox
from modelyard.data.service import get_dataset, guarded, source_errors, source_of
from modelyard.data.tables import ConnectionRow, DatasetReadRow, ProfileRow

TOP_VALUES = 10
BINS = 20
METHOD = "DuckDB {version}: one aggregate scan, grouped top values, numpy histograms"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _orderable(kind: pa.DataType) -> bool:
    return (
        _numeric(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
    )


def compute(table: pa.Table) -> list[ColumnProfile]:
    """Profile every column of `table`."""
    if not table.num_columns:
        return []
    con = duckdb.connect(":memory:")
    try:
        con.register("t", table)
        stats = _aggregate(con, table.schema)
        rows = table.num_rows
        result = []
        for field in table.schema:
            s = stats[field.name]
            nulls = rows - int(s["count"])
            profile = ColumnProfile(
                name=field.name,
                type=str(field.type),
                nulls=nulls,
                null_fraction=round(nulls / rows, 6) if rows else 0.0,
                distinct=min(int(s["distinct"]), rows - nulls),
                min=None if s.get("min") is None else str(s["min"]),
                max=None if s.get("max") is None else str(s["max"]),
                mean=_finite(s.get("mean")),
                std=_finite(s.get("std")),
                quantiles=_quantiles(s.get("q")),
            )
            if 0 < profile.distinct <= max(TOP_VALUES, (rows - nulls) // 2):
                profile.top = _top(con, field.name)
            if _numeric(field.type) and s.get("min") is not None:
                profile.histogram = _histogram(
                    table.column(field.name), float(s["min"]), float(s["max"])
                )
            result.append(profile)
        return result
    finally:
        con.close()


def _aggregate(con: duckdb.DuckDBPyConnection, schema: pa.Schema) -> dict[str, dict[str, Any]]:
    parts: list[str] = []
    keys: list[tuple[str, str]] = []
    for i, field in enumerate(schema):
        c = _q(field.name)
        wanted = [("count", f"count({c})")]
        hashable = not (pa.types.is_nested(field.type) or pa.types.is_binary(field.type))
        wanted.append(("distinct", f"approx_count_distinct({c})" if hashable else "0"))
        if _orderable(field.type) or pa.types.is_boolean(field.type):
            wanted += [("min", f"min({c})"), ("max", f"max({c})")]
        if _numeric(field.type):
            wanted += [
                ("mean", f"avg({c})::DOUBLE"),
                ("std", f"stddev_samp({c})::DOUBLE"),
                ("q", f"approx_quantile({c}, [0.25, 0.5, 0.75])::DOUBLE[]"),
            ]
        for key, expr in wanted:
            parts.append(f"{expr} AS c{i}_{key}")
            keys.append((field.name, key))
    row = con.execute(f"SELECT {', '.join(parts)} FROM t").fetchone() or ()
    stats: dict[str, dict[str, Any]] = {f.name: {} for f in schema}
    for (name, key), value in zip(keys, row, strict=True):
        stats[name][key] = value
    return stats


def _top(con: duckdb.DuckDBPyConnection, name: str) -> list[TopValue]:
    c = _q(name)
    rows = con.execute(
        f"SELECT {c}::VARCHAR AS v, count(*) AS n FROM t GROUP BY 1 ORDER BY n DESC, v LIMIT {TOP_VALUES}"
    ).fetchall()
    return [TopValue(value=value, count=int(count)) for value, count in rows]


def _histogram(column: pa.ChunkedArray[Any], low: float, high: float) -> Histogram | None:
    values = pc.drop_null(column).to_numpy(zero_copy_only=False).astype("float64", copy=False)
    values = values[np.isfinite(values)]
    if not values.size or not (math.isfinite(low) and math.isfinite(high)):
        return None
    counts, edges = np.histogram(
        values, bins=BINS if high > low else 1, range=(low, high if high > low else low + 1)
    )
    return Histogram(edges=[float(e) for e in edges], counts=[int(n) for n in counts])


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _quantiles(values: Any) -> dict[str, float] | None:
    if not values or any(v is None for v in values):
        return None
    return {"p25": float(values[0]), "p50": float(values[1]), "p75": float(values[2])}


def refresh_profile(session: Session, actor: Actor, box: SecretBox, name: str) -> ProfileRow:
    """Read the whole dataset from its source and store a new profile of it."""
    dataset = get_dataset(session, actor, name)
    connection = session.get(ConnectionRow, dataset.connection_id)
    assert connection is not None
    started = time.perf_counter()
    with source_errors(dataset.name), connector_for(connection, box) as connector:
        reader = connector.read(source_of(dataset), ReadSpec())
        table = guarded(reader, dataset.name).read_all()
    columns = compute(table)
    row = ProfileRow(
        dataset_id=dataset.id,
        row_count=table.num_rows,
        profile={"columns": [c.model_dump() for c in columns]},
        method=METHOD.format(version=duckdb.__version__) + f"; read with {connector.method}",
        seconds=round(time.perf_counter() - started, 3),
        computed_by_id=actor.id,
    )
    session.add(row)
    session.add(
        DatasetReadRow(
            dataset_id=dataset.id, user_id=actor.id, purpose="profile", row_count=table.num_rows
        )
    )
    dataset.schema = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    session.commit()
    return row
