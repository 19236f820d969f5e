"""/api/v1/projects/{p}/runs and /api/v1/runs/{id}: runs, params, metrics, tags, artifacts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from modelyard.accounts.deps import CurrentUser, SessionDep, SettingsDep
from modelyard.data.service import inputs_of_runs
from modelyard.experiments import artifacts, metrics, query, service
from modelyard.experiments.schemas import (
    ArtifactPublic,
    MetricHistory,
    MetricsAccepted,
    MetricsIn,
    ParamsIn,
    RunCreate,
    RunDetail,
    RunList,
    RunPublic,
    RunUpdate,
    TagsIn,
)
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project
from modelyard.registry.service import versions_of_runs
from modelyard.storage import StoreDep
from modelyard.uploads import spool

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "/projects/{project}/runs", response_model=RunPublic, status_code=status.HTTP_201_CREATED
)
def create_run(project: str, body: RunCreate, actor: CurrentUser, session: SessionDep) -> RunPublic:
    row = service.create_run(session, actor, project, body)
    return service.describe(session, [row])[0]


@router.get("/projects/{project}/runs", response_model=RunList)
def list_runs(
    project: str,
    actor: CurrentUser,
    session: SessionDep,
    filter: Annotated[
        str, Query(max_length=2000, description='e.g. metrics.auc > 0.8 and params.model = "lr"')
    ] = "",
    order: Annotated[
        str, Query(max_length=300, description="e.g. metrics.auc desc")
    ] = "started_at desc",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> RunList:
    row = get_project(session, actor, project)
    rows, total = query.page_of_runs(
        session, row.id, filter_text=filter, order=order, offset=offset, limit=limit
    )
    param_keys, metric_keys = query.keys_of(session, row.id)
    return RunList(
        items=service.describe(session, rows),
        total=total,
        offset=offset,
        limit=limit,
        param_keys=param_keys,
        metric_keys=metric_keys,
    )


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(run_id: RunId, actor: CurrentUser, session: SessionDep) -> RunDetail:
    return detail(session, actor, run_id)


def detail(session: SessionDep, actor: CurrentUser, run_id: int) -> RunDetail:
    row, _ = service.get_run(session, actor, run_id)
    public = service.describe(session, [row])[0]
    return RunDetail(
        **public.model_dump(),
        latest_metrics=metrics.latest_metrics(session, row.id),
        artifacts=[artifacts.public(a) for a in artifacts.list_artifacts(session, row.id)],
        inputs=inputs_of_runs(session, [row.id])[row.id],
        models=versions_of_runs(session, [row.id])[row.id],
        has_logs=service.has_logs(session, row.id),
    )


@router.patch("/runs/{run_id}", response_model=RunPublic)
def update_run(
    run_id: RunId, body: RunUpdate, actor: CurrentUser, session: SessionDep
) -> RunPublic:
    return service.describe(session, [service.update_run(session, actor, run_id, body)])[0]


@router.delete("/runs/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_run(run_id: RunId, actor: CurrentUser, session: SessionDep) -> None:
    service.delete_run(session, actor, run_id)


@router.post("/runs/{run_id}/params", status_code=status.HTTP_204_NO_CONTENT)
def log_params(run_id: RunId, body: ParamsIn, actor: CurrentUser, session: SessionDep) -> None:
    service.log_params(session, actor, run_id, body.params)


@router.post("/runs/{run_id}/tags", status_code=status.HTTP_204_NO_CONTENT)
def set_tags(run_id: RunId, body: TagsIn, actor: CurrentUser, session: SessionDep) -> None:
    service.set_tags(session, actor, run_id, body.tags)


@router.post("/runs/{run_id}/metrics", response_model=MetricsAccepted)
def log_metrics(
    run_id: RunId, body: MetricsIn, actor: CurrentUser, session: SessionDep
) -> MetricsAccepted:
    return MetricsAccepted(accepted=metrics.log_metrics(session, actor, run_id, body.metrics))


@router.get("/runs/{run_id}/metrics/{key:path}", response_model=MetricHistory)
def metric_history(
    run_id: RunId, key: str, actor: CurrentUser, session: SessionDep
) -> MetricHistory:
    return metrics.history(session, actor, run_id, key)


@router.get("/runs/{run_id}/artifacts", response_model=list[ArtifactPublic])
def list_artifacts(run_id: RunId, actor: CurrentUser, session: SessionDep) -> list[ArtifactPublic]:
    row, _ = service.get_run(session, actor, run_id)
    return [artifacts.public(a) for a in artifacts.list_artifacts(session, row.id)]


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    response_model=ArtifactPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
)
async def upload_artifact(
    run_id: RunId,
    path: str,
    request: Request,
    actor: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
) -> ArtifactPublic:
    clean = artifacts.clean_path(path)
    with request.app.state.session_factory() as session:
        service.get_run(session, actor, run_id, min_role=Role.editor)
    upload = await spool(
        request.stream(), max_bytes=settings.artifact_max_bytes, folder=str(settings.uploads_dir)
    )
    with request.app.state.session_factory() as session:
        service.get_run(session, actor, run_id, min_role=Role.editor)
        return artifacts.public(artifacts.store_artifact(session, store, run_id, clean, upload))


@router.get(
    "/runs/{run_id}/artifacts/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
def download_artifact(
    run_id: RunId, path: str, actor: CurrentUser, session: SessionDep, store: StoreDep
) -> StreamingResponse:
    row, _ = service.get_run(session, actor, run_id)
    artifact = artifacts.get_artifact(session, row.id, artifacts.clean_path(path))
    handle = store.open(artifact.key)

    def chunks() -> object:
        with handle:
            while block := handle.read(1 << 20):
                yield block

    filename = quote(artifact.path.rsplit("/", 1)[-1])
    return StreamingResponse(
        chunks(),  # type: ignore[arg-type]
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "Content-Length": str(artifact.size_bytes),
            "X-Content-Type-Options": "nosniff",
        },
    )
