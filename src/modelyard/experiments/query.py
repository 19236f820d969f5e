"""The runs table's server side: a small filter language, sorting by any column, pages.

Filters are clauses joined by `and`:

    metrics.auc > 0.8 and params.model = "lr" and status = finished and name ~ baseline

Metrics compare as numbers (`= != < <= > >=`); params, tags and attributes (`name`,
`status`, `user`, `source`) as text (`=`, `!=`, and `~` for "contains").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, aliased

from modelyard.accounts.tables import UserRow
from modelyard.errors import InvalidInputError
from modelyard.experiments.tables import LatestMetricRow, ParamRow, RunRow, TagRow

_CLAUSE = re.compile(
    r"""^\s*(?P<column>(?:metrics|params|tags)\.[A-Za-z0-9_\-./:]+|[a-z_]+)\s*
    (?P<op>!=|<=|>=|=|<|>|~)\s*(?P<value>"[^"]*"|'[^']*'|\S+)\s*$""",
    re.VERBOSE,
)
_SPLIT_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
ATTRIBUTES = {
    "name": RunRow.name,
    "status": RunRow.status,
    "source": RunRow.source,
    "started_at": RunRow.started_at,
    "ended_at": RunRow.ended_at,
    "id": RunRow.id,
}
TEXT_ATTRIBUTES = {"name", "status", "source", "user"}
MAX_CLAUSES = 20


@dataclass(frozen=True)
class Clause:
    column: str
    op: str
    value: str


def parse_filter(text: str) -> list[Clause]:
    text = text.strip()
    if not text:
        return []
    clauses = []
    for part in _SPLIT_AND.split(text):
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidInputError(
                f"cannot read {part.strip()!r}: write e.g. metrics.auc > 0.8 or "
                'params.model = "lr", joined by and',
                field="filter",
            )
        value = match["value"]
        if value[:1] in "\"'" and value[-1:] == value[:1]:
            value = value[1:-1]
        column = match["column"]
        if "." not in column and column not in TEXT_ATTRIBUTES:
            raise InvalidInputError(
                f"unknown column {column!r}: use metrics.X, params.X, tags.X, "
                "name, status, user or source",
                field="filter",
            )
        clauses.append(Clause(column, match["op"], value))
    if len(clauses) > MAX_CLAUSES:
        raise InvalidInputError(f"at most {MAX_CLAUSES} clauses", field="filter")
    return clauses


def _text_condition(column: Any, op: str, value: str) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "~":
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]
    raise InvalidInputError(f"{op!r} compares numbers; text takes =, != or ~", field="filter")


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidInputError(f"{value!r} is not a number", field="filter") from None


_NUMERIC_OPS = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


def apply_filter(query: Select[RunRow], clauses: list[Clause]) -> Select[RunRow]:
    for clause in clauses:
        kind, _, key = clause.column.partition(".")
        if kind == "metrics":
            if clause.op == "~":
                raise InvalidInputError("metrics compare with = != < <= > >=", field="filter")
            metric = aliased(LatestMetricRow)
            query = query.join(
                metric,
                and_(
                    metric.run_id == RunRow.id,
                    metric.key == key,
                    _NUMERIC_OPS[clause.op](metric.value, _number(clause.value)),
                ),
            )
        elif kind in ("params", "tags"):
            table: Any = aliased(ParamRow if kind == "params" else TagRow)
            query = query.join(
                table,
                and_(
                    table.run_id == RunRow.id,
                    table.key == key,
                    _text_condition(table.value, clause.op, clause.value),
                ),
            )
        elif kind == "user":
            query = query.where(
                RunRow.user_id.in_(
                    select(UserRow.id).where(
                        _text_condition(UserRow.username, clause.op, clause.value)
                    )
                )
            )
        else:
            query = query.where(_text_condition(ATTRIBUTES[kind], clause.op, clause.value))
    return query


def apply_order(query: Select[RunRow], order: str) -> Select[RunRow]:
    """`order` is a column, then `asc` or `desc`: "metrics.auc desc", "started_at desc"."""
    column, _, direction = order.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if direction not in ("asc", "desc"):
        raise InvalidInputError(f"order direction {direction!r}: use asc or desc", field="order")
    kind, _, key = column.partition(".")
    sort_by: Any
    if kind == "metrics" and key:
        metric = aliased(LatestMetricRow)
        query = query.outerjoin(metric, and_(metric.run_id == RunRow.id, metric.key == key))
        sort_by = metric.value
    elif kind in ("params", "tags") and key:
        table: Any = aliased(ParamRow if kind == "params" else TagRow)
        query = query.outerjoin(table, and_(table.run_id == RunRow.id, table.key == key))
        sort_by = table.value
    elif column in ATTRIBUTES:
        sort_by = ATTRIBUTES[column]
    else:
        raise InvalidInputError(
            f"cannot sort by {column!r}: use metrics.X, params.X, tags.X, name, status, "
            "started_at, ended_at or id",
            field="order",
        )
    primary = sort_by.desc() if direction == "desc" else sort_by.asc()
    # runs without the value go last either way; the id keeps pages stable
    return query.order_by(sort_by.is_(None), primary, RunRow.id.desc())


def page_of_runs(
    session: Session,
    project_id: int,
    *,
    filter_text: str = "",
    order: str = "started_at desc",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[RunRow], int]:
    base = apply_filter(
        select(RunRow).where(RunRow.project_id == project_id), parse_filter(filter_text)
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = session.scalars(
        apply_order(base, order or "started_at desc").offset(offset).limit(limit)
    )
    return list(page.all()), total


def keys_of(session: Session, project_id: int) -> tuple[list[str], list[str]]:
    """Every param and metric key used in the project's runs (the table's column chooser)."""
    runs = select(RunRow.id).where(RunRow.project_id == project_id)
    params = session.scalars(
        select(ParamRow.key).where(ParamRow.run_id.in_(runs)).distinct().order_by(ParamRow.key)
    ).all()
    metrics = session.scalars(
        select(LatestMetricRow.key)
        .where(LatestMetricRow.run_id.in_(runs))
        .distinct()
        .order_by(LatestMetricRow.key)
    ).all()
    return list(params), list(metrics)
