"""SELECT statements built from a source and a read spec, with every value a parameter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelyard.data.connectors.base import Filter, ReadSpec, Scalar, Source


@dataclass(frozen=True)
class Dialect:
    quote_char: str
    placeholder: Callable[[int], str]  # 1-based position -> "$1", "?", "%s"

    def quote(self, identifier: str) -> str:
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    def relation(self, source: Source) -> str:
        if source.query:
            # The newline ends a `-- comment` the query may end with, which would otherwise
            # swallow the closing parenthesis and the filters after it.
            return f"({source.query}\n) AS modelyard_source"
        return ".".join(self.quote(part) for part in source.table.split("."))


POSTGRES = Dialect('"', lambda i: f"${i}")
MYSQL = Dialect("`", lambda i: "\x00")  # the connector turns it into %s
QMARK = Dialect('"', lambda i: "?")
# SQLite reads a double-quoted name that is no column as a string literal (so a filter on a
# dropped column would compare a constant); a name in backticks is only ever a name.
SQLITE = Dialect("`", lambda i: "?")


def build_select(dialect: Dialect, source: Source, spec: ReadSpec) -> tuple[str, list[Scalar]]:
    columns = ", ".join(dialect.quote(c) for c in spec.columns) if spec.columns else "*"
    params: list[Scalar] = []
    conditions = [_condition(dialect, f, params) for f in spec.filters]
    sql = f"SELECT {columns} FROM {dialect.relation(source)}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if spec.limit is not None:
        sql += f" LIMIT {int(spec.limit)}"
    return sql, params


def schema_probe(dialect: Dialect, source: Source) -> str:
    return f"SELECT * FROM {dialect.relation(source)} LIMIT 0"


def _condition(dialect: Dialect, condition: Filter, params: list[Scalar]) -> str:
    column = dialect.quote(condition.column)
    if condition.op == "is null":
        return f"{column} IS NULL"
    if condition.op == "is not null":
        return f"{column} IS NOT NULL"
    if condition.op in ("in", "not in"):
        values = condition.value if isinstance(condition.value, tuple) else ()
        if not values:
            return "1 = 0" if condition.op == "in" else "1 = 1"
        marks = []
        for value in values:
            params.append(value)
            marks.append(dialect.placeholder(len(params)))
        keyword = "IN" if condition.op == "in" else "NOT IN"
        return f"{column} {keyword} ({', '.join(marks)})"
    assert condition.value is not None and not isinstance(condition.value, tuple)
    params.append(condition.value)
    op = "<>" if condition.op == "!=" else condition.op
    return f"{column} {op} {dialect.placeholder(len(params))}"
