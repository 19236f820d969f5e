"""The runs table's state, kept in the URL so a reload or a pasted link shows the same view:
the filter, the sort order, the page and the chosen param and metric columns. Each link the
table offers changes one of them and keeps the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlencode

PER_PAGE = 50
DEFAULT_ORDER = "started_at desc"
DEFAULT_SHOWN = 6  # params and metrics each, until the viewer chooses columns
Kind = Literal["attribute", "param", "metric"]


@dataclass(frozen=True)
class Column:
    key: str  # "name", "params.C", "metrics.auc"
    label: str
    kind: Kind
    sortable: bool


ATTRIBUTES = (
    Column("name", "Name", "attribute", True),
    Column("status", "Status", "attribute", True),
    Column("user", "User", "attribute", False),  # the query sorts by run attributes only
    Column("started_at", "Started", "attribute", True),
    Column("duration", "Duration", "attribute", False),
)


def split_order(order: str) -> tuple[str, str]:
    """("metrics.auc", "desc") from "metrics.auc desc", as the query reads it."""
    column, _, direction = order.strip().partition(" ")
    return column, direction.strip().lower() or "asc"


def data_column(key: str) -> Column:
    kind: Kind = "metric" if key.startswith("metrics.") else "param"
    label = key.partition(".")[2]
    # The order parameter is "<column> <direction>": a key with a space cannot be named there.
    return Column(key, label, kind, " " not in label)


@dataclass(frozen=True)
class RunTable:
    slug: str
    filter: str = ""
    order: str = DEFAULT_ORDER
    page: int = 1
    chosen: tuple[str, ...] | None = None  # None: the default columns

    @property
    def offset(self) -> int:
        return (self.page - 1) * PER_PAGE

    def columns(self, param_keys: Sequence[str], metric_keys: Sequence[str]) -> list[Column]:
        """The param and metric columns to show: the chosen ones that exist, else the first
        few of each."""
        params = [f"params.{k}" for k in param_keys]
        metrics = [f"metrics.{k}" for k in metric_keys]
        if self.chosen is None:
            keys = params[:DEFAULT_SHOWN] + metrics[:DEFAULT_SHOWN]
        else:
            wanted = set(self.chosen)
            keys = [k for k in params + metrics if k in wanted]
        return [data_column(k) for k in keys]

    def params(self, **changes: object) -> list[tuple[str, str]]:
        state = replace(self, **changes)  # type: ignore[arg-type]
        query: list[tuple[str, str]] = []
        if state.filter:
            query.append(("filter", state.filter))
        if state.order != DEFAULT_ORDER:
            query.append(("order", state.order))
        if state.chosen is not None:
            # An empty value marks "chosen, but none": the form always sends it too.
            query += [("col", k) for k in state.chosen] or [("col", "")]
        if state.page != 1:
            query.append(("page", str(state.page)))
        return query

    def url(self, **changes: object) -> str:
        query = urlencode(self.params(**changes))
        return f"/projects/{self.slug}/runs" + (f"?{query}" if query else "")

    def direction(self, column: Column) -> str | None:
        """ "asc" or "desc" when the table is sorted by this column."""
        key, direction = split_order(self.order)
        return direction if key == column.key else None

    def sort_url(self, column: Column) -> str:
        """A click on a header sorts by it; a second click turns the order around. Metrics and
        times start with the largest and newest."""
        current = self.direction(column)
        if current is not None:
            direction = "asc" if current == "desc" else "desc"
        else:
            direction = "desc" if column.kind == "metric" or column.key == "started_at" else "asc"
        return self.url(order=f"{column.key} {direction}", page=1)


def read_chosen(values: Sequence[str]) -> tuple[str, ...] | None:
    """The `col` query values: absent is the default set; blanks only mark a choice."""
    if not values:
        return None
    return tuple(v for v in values if v.startswith(("params.", "metrics.")))
