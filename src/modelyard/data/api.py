"""/api/v1/datasets: the catalog, reads as Arrow IPC, profiles, samples, snapshots, usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from modelyard.accounts.deps import CurrentUser, SessionDep
from modelyard.data import profiles, reads, service, snapshots, usage
from modelyard.data.deps import BoxDep
from modelyard.data.schemas import (
    DatasetCreate,
    DatasetList,
    DatasetPublic,
    DatasetUpdate,
    ProfilePublic,
    Sample,
    SnapshotCreate,
    SnapshotList,
    SnapshotPublic,
    Usage,
)
from modelyard.errors import NotFoundError
from modelyard.experiments.service import get_run
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.projects.schemas import Role
from modelyard.storage import StoreDep

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)
ARROW_STREAM = "application/vnd.apache.arrow.stream"
Columns = Annotated[list[str] | None, Query(max_length=200, description="columns to read")]
Limit = Annotated[int | None, Query(ge=0, le=1_000_000_000, description="at most this many rows")]
FilterParam = Annotated[
    str | None,
    Query(max_length=8000, description='JSON, e.g. [["age", ">=", 30], ["country", "in", ["DE"]]]'),
]
SnapshotParam = Annotated[int | None, Query(ge=1, description="read this snapshot instead")]
RunHeader = Annotated[
    int | None,
    Header(
        alias="X-Modelyard-Run",
        ge=1,
        le=2**31 - 1,
        description="record this read as an input of the run (the SDK sends it inside a run)",
    ),
]


@router.get("", response_model=DatasetList)
def list_datasets(
    actor: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200, description="search name, description, tags")] = "",
    tag: Annotated[str, Query(max_length=40)] = "",
) -> DatasetList:
    rows = service.list_datasets(session, actor, q=q, tag=tag)
    return DatasetList(items=service.describe(session, actor, rows))


@router.post("", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED)
def create_dataset(
    body: DatasetCreate, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> DatasetPublic:
    row = service.create_dataset(session, actor, box, body)
    return service.describe(session, actor, [row])[0]


@router.get("/{name}", response_model=DatasetPublic)
def get_dataset(name: str, actor: CurrentUser, session: SessionDep) -> DatasetPublic:
    return service.describe(session, actor, [service.get_dataset(session, actor, name)])[0]


@router.patch("/{name}", response_model=DatasetPublic)
def update_dataset(
    name: str, body: DatasetUpdate, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> DatasetPublic:
    row = service.update_dataset(session, actor, box, name, body)
    return service.describe(session, actor, [row])[0]


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(name: str, actor: CurrentUser, session: SessionDep) -> None:
    service.delete_dataset(session, actor, name)


@router.put("/{name}/grants/{project}", status_code=status.HTTP_204_NO_CONTENT)
def grant(name: str, project: str, actor: CurrentUser, session: SessionDep) -> None:
    service.grant(session, actor, name, project)


@router.delete("/{name}/grants/{project}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(name: str, project: str, actor: CurrentUser, session: SessionDep) -> None:
    service.revoke(session, actor, name, project)


@router.get("/{name}/profile", response_model=ProfilePublic)
def get_profile(name: str, actor: CurrentUser, session: SessionDep) -> ProfilePublic:
    dataset = service.get_dataset(session, actor, name)
    row = service.latest_profile(session, dataset.id)
    if row is None:
        raise NotFoundError(
            f"dataset {name!r} has not been profiled yet; POST to this URL to profile it",
            field="profile",
        )
    return usage.profile_public(session, name, row)


@router.post("/{name}/profile", response_model=ProfilePublic)
def refresh_profile(
    name: str, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> ProfilePublic:
    row = profiles.refresh_profile(session, actor, box, name)
    return usage.profile_public(session, name, row)


@router.get("/{name}/sample", response_model=Sample)
def sample(
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=reads.MAX_SAMPLE)] = 20,
) -> Sample:
    opened = reads.open_read(session, actor, box, store, name, limit=limit)
    columns, rows = reads.sample_rows(opened)
    reads.record_read(
        request.app.state.session_factory,
        dataset_id=opened.dataset.id,
        snapshot_id=None,
        user_id=actor.id,
        purpose="sample",
        rows=len(rows),
    )
    return Sample(columns=columns, rows=rows)


@router.get(
    "/{name}/data",
    response_class=StreamingResponse,
    responses={200: {"content": {ARROW_STREAM: {}}, "description": "an Arrow IPC stream"}},
)
def read_data(
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    request: Request,
    columns: Columns = None,
    limit: Limit = None,
    filter: FilterParam = None,
    snapshot: SnapshotParam = None,
    run: RunHeader = None,
) -> StreamingResponse:
    if run is not None:
        get_run(session, actor, run, min_role=Role.editor)
    opened = reads.open_read(
        session,
        actor,
        box,
        store,
        name,
        columns=columns,
        limit=limit,
        filter_text=filter,
        snapshot=snapshot,
    )
    factory = request.app.state.session_factory

    def done(rows: int, complete: bool) -> None:
        reads.record_read(
            factory,
            dataset_id=opened.dataset.id,
            snapshot_id=opened.snapshot_id,
            user_id=actor.id,
            purpose="read",
            rows=rows,
            complete=complete,
            run_id=run,
        )

    headers = {"X-Modelyard-Dataset": name}
    estimate = usage.row_estimate(session, opened, limit=limit, filtered=bool(filter))
    if estimate is not None:
        headers["X-Modelyard-Row-Estimate"] = str(estimate)
    return StreamingResponse(
        reads.ipc_stream(opened, done), media_type=ARROW_STREAM, headers=headers
    )


@router.get("/{name}/snapshots", response_model=SnapshotList)
def list_snapshots(name: str, actor: CurrentUser, session: SessionDep) -> SnapshotList:
    dataset = service.get_dataset(session, actor, name)
    rows = snapshots.list_snapshots(session, actor, name)
    return SnapshotList(items=snapshots.describe(session, dataset, rows))


@router.post(
    "/{name}/snapshots", response_model=SnapshotPublic, status_code=status.HTTP_201_CREATED
)
def create_snapshot(
    name: str,
    body: SnapshotCreate,
    actor: CurrentUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    response: Response,
) -> SnapshotPublic:
    row, created = snapshots.create_snapshot(session, actor, box, store, name, body.note)
    if not created:
        response.status_code = status.HTTP_200_OK
    dataset = service.get_dataset(session, actor, name)
    return snapshots.describe(session, dataset, [row])[0]


@router.get("/{name}/usage", response_model=Usage)
def get_usage(name: str, actor: CurrentUser, session: SessionDep) -> Usage:
    return usage.usage_of(session, service.get_dataset(session, actor, name))
