"""Runs on the portal: a project's runs table (paged, sorted and filtered on the server) and
one run's page with its params, metric charts, artifacts, output and lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from modelyard.accounts.deps import SessionDep
from modelyard.data.service import inputs_of_runs
from modelyard.db import utcnow
from modelyard.errors import ModelyardError
from modelyard.experiments import artifacts, metrics, query, service
from modelyard.experiments.schemas import FINAL_STATUSES
from modelyard.projects.service import describe, get_project
from modelyard.registry.service import versions_of_runs
from modelyard.web.charts import plotly_context
from modelyard.web.deps import PortalUser
from modelyard.web.run_table import ATTRIBUTES, DEFAULT_ORDER, PER_PAGE, RunTable, read_chosen
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

FilterText = Annotated[str, Query(alias="filter", max_length=2000)]
Order = Annotated[str, Query(max_length=300)]
PageNumber = Annotated[int, Query(ge=1, le=200_000)]
Chosen = Annotated[list[str], Query(alias="col", max_length=1000)]
START_SNIPPET = """import modelyard

with modelyard.start_run(project="{slug}", name="baseline") as run:
    run.log_params({{"C": 1.0}})
    for step in range(10):
        run.log_metric("loss", 1 / (step + 1), step=step)"""


@router.get("/projects/{slug}/runs")
def runs_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    filter_text: FilterText = "",
    order: Order = "",
    page: PageNumber = 1,
    col: Chosen = [],  # noqa: B006 - FastAPI copies its defaults
) -> Response:
    project = get_project(session, actor, slug)
    table = RunTable(
        slug=slug,
        filter=filter_text.strip(),
        order=order.strip() or DEFAULT_ORDER,
        page=page,
        chosen=read_chosen(col),
    )
    param_keys, metric_keys = query.keys_of(session, project.id)
    rows: list[Any] = []
    total = 0
    error: ModelyardError | None = None
    try:
        rows, total = query.page_of_runs(
            session,
            project.id,
            filter_text=table.filter,
            order=table.order,
            offset=table.offset,
            limit=PER_PAGE,
        )
        last = max(1, -(-total // PER_PAGE))
        if not rows and table.page > last:
            table = RunTable(table.slug, table.filter, table.order, last, table.chosen)
            rows, _ = query.page_of_runs(
                session,
                project.id,
                filter_text=table.filter,
                order=table.order,
                offset=table.offset,
                limit=PER_PAGE,
            )
    except ModelyardError as err:  # a filter or order the query cannot read
        session.rollback()
        error = err
    context = {
        "project": describe(session, actor, [project])[0],
        "tab": "runs",
        "table": table,
        "attributes": list(ATTRIBUTES),
        "columns": table.columns(param_keys, metric_keys),
        "param_keys": param_keys,
        "metric_keys": metric_keys,
        "runs": service.describe(session, rows),
        "total": total,
        "pages": max(1, -(-total // PER_PAGE)),
        "per_page": PER_PAGE,
        "now": utcnow(),
        "error": error,
        "snippet": START_SNIPPET.format(slug=slug),
    }
    return render(request, "runs.html", context, status=error.status_code if error else 200)


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: PortalUser,
    session: SessionDep,
) -> Response:
    row, project_row = service.get_run(session, actor, run_id)
    run = service.describe(session, [row])[0]
    latest = metrics.latest_metrics(session, row.id)
    charts = [{"id": f"metric-{i}", "key": m.key} for i, m in enumerate(latest)]
    live = run.status not in FINAL_STATUSES
    context = {
        "project": describe(session, actor, [project_row])[0],
        "tab": "runs",
        "run": run,
        "latest": latest,
        "charts": charts,
        "chart_config": {
            "runs": [{"id": run.id, "name": run.name, "keys": [m.key for m in latest]}],
            "charts": charts,
            "live": live,
        },
        "plotly": plotly_context(),
        "artifacts": artifacts.list_artifacts(session, row.id),
        "inputs": inputs_of_runs(session, [row.id])[row.id],
        "models": versions_of_runs(session, [row.id])[row.id],
        "has_logs": service.has_logs(session, row.id),
        "live": live,
        "now": utcnow(),
    }
    return render(request, "run.html", context)
