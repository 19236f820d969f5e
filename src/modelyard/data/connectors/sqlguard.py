"""Dataset queries must only read: one statement, a SELECT (or set operation) that writes
nothing. Sources also run reads in read-only transactions where they support it; this
check catches the mistake before any source sees it and names the field."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from modelyard.errors import InvalidInputError

DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}
_WRITES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Copy,
    exp.Grant,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Pragma,
)


def check_read_only(query: str, kind: str) -> str:
    """`query` without a trailing semicolon, or InvalidInputError naming field `query`."""
    text = query.strip().rstrip(";").strip()
    if not text:
        raise InvalidInputError("a query is empty", field="query")
    try:
        statements = [s for s in sqlglot.parse(text, read=DIALECTS.get(kind)) if s is not None]
    except ParseError as exc:
        first = str(exc).splitlines()[0][:300]
        raise InvalidInputError(f"the query is not valid SQL: {first}", field="query") from None
    if len(statements) != 1:
        raise InvalidInputError(
            f"a dataset query must be exactly one statement, got {len(statements)}",
            field="query",
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise InvalidInputError(
            f"a dataset query must be a SELECT, not {statement.key.upper()}", field="query"
        )
    for node in statement.walk():
        if isinstance(node, _WRITES):
            raise InvalidInputError(
                f"a dataset query must only read; it contains {node.key.upper()}",
                field="query",
            )
    return text
