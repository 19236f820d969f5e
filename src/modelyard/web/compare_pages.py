"""Runs side by side: params (differences highlighted), latest metrics, and each metric's
curves of every run overlaid on one chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from modelyard.accounts.deps import SessionDep
from modelyard.errors import InvalidInputError, NotFoundError
from modelyard.experiments import service
from modelyard.experiments.schemas import FINAL_STATUSES, RunPublic
from modelyard.projects.service import describe, get_project
from modelyard.web.charts import plotly_context
from modelyard.web.deps import PortalUser
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

MAX_RUNS = 20


@dataclass(frozen=True)
class Row:
    """One param or metric across the compared runs; None where a run lacks it."""

    key: str
    values: list[Any]

    @property
    def differs(self) -> bool:
        return len({repr(v) for v in self.values}) > 1


def read_ids(ids: str, repeated: list[int]) -> list[int]:
    """Run ids from `ids=1,2,3` (the table's Compare button) or `id=1&id=2` (the same form
    without JavaScript), in the order given, each once."""
    found: list[int] = []
    for part in ids.replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < 2**31:
            raise InvalidInputError(f"{part!r} is not a run id", field="ids")
        found.append(int(part))
    found += repeated
    unique = list(dict.fromkeys(found))
    if len(unique) > MAX_RUNS:
        raise InvalidInputError(f"compare at most {MAX_RUNS} runs at once", field="ids")
    return unique


def rows_of(runs: list[RunPublic], values: str) -> list[Row]:
    tables: list[dict[str, Any]] = [getattr(r, values) for r in runs]
    keys = sorted({k for table in tables for k in table})
    return [Row(k, [table.get(k) for table in tables]) for k in keys]


@router.get("/projects/{slug}/runs/compare")
def compare_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    ids: Annotated[str, Query(max_length=2000)] = "",
    ticked: Annotated[list[int], Query(alias="id", max_length=MAX_RUNS)] = [],  # noqa: B006
    diff: bool = False,
) -> Response:
    project = get_project(session, actor, slug)
    rows = []
    for run_id in read_ids(ids, ticked):
        row, run_project = service.get_run(session, actor, run_id)
        if run_project.id != project.id:
            raise NotFoundError(f"no run {run_id} in project {slug!r}", field="ids")
        rows.append(row)
    runs = service.describe(session, rows)
    params = rows_of(runs, "params")
    metrics = rows_of(runs, "metrics")
    charts = [{"id": f"metric-{i}", "key": m.key} for i, m in enumerate(metrics)]
    id_list = ",".join(str(r.id) for r in runs)
    context = {
        "project": describe(session, actor, [project])[0],
        "tab": "runs",
        "runs": runs,
        "params": [p for p in params if p.differs] if diff else params,
        "differing": sum(p.differs for p in params),
        "param_count": len(params),
        "metrics": metrics,
        "diff": diff,
        "ids": id_list,
        "charts": charts,
        "chart_config": {
            "runs": [{"id": r.id, "name": r.name, "keys": list(r.metrics)} for r in runs],
            "charts": charts,
            "live": any(r.status not in FINAL_STATUSES for r in runs),
        },
        "plotly": plotly_context(),
    }
    return render(request, "runs_compare.html", context)
