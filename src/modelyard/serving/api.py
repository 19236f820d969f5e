"""/api/v1/projects/{p}/endpoints: endpoints, their variants, traffic, keys and figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.deps import CurrentUser, SessionDep, SettingsDep
from modelyard.accounts.service import usernames_by_id
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.projects.schemas import Role
from modelyard.serving import deploys, keys, monitoring, service, variants, views
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.serving.schemas import (
    DeployCreate,
    DeployedPublic,
    EndpointCreate,
    EndpointList,
    EndpointMetrics,
    EndpointPublic,
    EndpointUpdate,
    EventList,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyPublic,
    PredictionList,
    PredictionPublic,
    TrafficSet,
    VariantCreate,
    VariantUpdate,
)
from modelyard.serving.tables import EndpointKeyRow, PredictionRow

router = APIRouter(
    prefix="/api/v1/projects/{project}/endpoints", tags=["endpoints"], responses=ERROR_RESPONSES
)
Window = Annotated[int, Query(ge=60, le=7 * 86400, description="seconds back from now")]
Step = Annotated[int | None, Query(ge=1, le=86400, description="seconds per point")]


def _public(
    session: Session, serving: Serving, base_url: str, actor: CurrentUser, project: str, name: str
) -> EndpointPublic:
    row, project_row = service.get_endpoint(session, actor, project, name)
    return views.describe_endpoints(
        session, project_row, [row], serving.supervisor.replicas, base_url
    )[0]


@router.get("", response_model=EndpointList)
def list_endpoints(
    project: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointList:
    rows, project_row = service.list_endpoints(session, actor, project)
    return EndpointList(
        items=views.describe_endpoints(
            session, project_row, rows, serving.supervisor.replicas, settings.base_url
        )
    )


@router.post("", response_model=EndpointPublic, status_code=status.HTTP_201_CREATED)
def create_endpoint(
    project: str,
    body: EndpointCreate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    row = service.create_endpoint(session, actor, project, body)
    return _public(session, serving, settings.base_url, actor, project, row.name)


@router.get("/{name}", response_model=EndpointPublic)
def get_endpoint(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    return _public(session, serving, settings.base_url, actor, project, name)


@router.patch("/{name}", response_model=EndpointPublic)
def update_endpoint(
    project: str,
    name: str,
    body: EndpointUpdate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    service.update_endpoint(session, actor, project, name, body)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(
    project: str, name: str, actor: CurrentUser, session: SessionDep, serving: ServingDep
) -> None:
    service.delete_endpoint(session, actor, project, name)
    serving.changed()


@router.post("/{name}/start", response_model=EndpointPublic)
def start_endpoint(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    service.set_state(session, actor, project, name, "running")
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.post("/{name}/stop", response_model=EndpointPublic)
def stop_endpoint(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    service.set_state(session, actor, project, name, "stopped")
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.post("/{name}/variants", response_model=EndpointPublic, status_code=201)
def add_variant(
    project: str,
    name: str,
    body: VariantCreate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    variants.add_variant(session, actor, serving.specs.repos, project, name, body)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.post("/{name}/deploy", response_model=DeployedPublic)
def deploy(
    project: str,
    name: str,
    body: DeployCreate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> DeployedPublic:
    """Serve a model version on this endpoint, creating and starting the endpoint when it is
    new. Beside live traffic the variant gets weight 0 unless `weight` is given, so deploying
    never moves traffic by itself; the answer says what was created and started."""
    done = deploys.deploy(session, actor, serving.specs.repos, project, name, body)
    serving.changed()
    return DeployedPublic(
        endpoint=_public(session, serving, settings.base_url, actor, project, name),
        variant=done.variant,
        created=done.created,
        started=done.started,
    )


@router.patch("/{name}/variants/{variant}", response_model=EndpointPublic)
def update_variant(
    project: str,
    name: str,
    variant: str,
    body: VariantUpdate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    variants.update_variant(session, actor, project, name, variant, body)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.delete("/{name}/variants/{variant}", response_model=EndpointPublic)
def remove_variant(
    project: str,
    name: str,
    variant: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    variants.remove_variant(session, actor, project, name, variant)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.put("/{name}/traffic", response_model=EndpointPublic)
def set_traffic(
    project: str,
    name: str,
    body: TrafficSet,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    """Set every live variant's weight at once (`{"weights": {"a": 90, "b": 10}}`)."""
    service.set_traffic(session, actor, project, name, body)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.post("/{name}/rollback", response_model=EndpointPublic)
def rollback(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
    settings: SettingsDep,
) -> EndpointPublic:
    """Put back the traffic split the endpoint had before the current one."""
    service.rollback(session, actor, project, name)
    serving.changed()
    return _public(session, serving, settings.base_url, actor, project, name)


@router.get("/{name}/metrics", response_model=EndpointMetrics)
def endpoint_metrics(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    window: Window = 900,
    step: Step = None,
) -> EndpointMetrics:
    row, _ = service.get_endpoint(session, actor, project, name)
    step = step or max(1, window // 180)
    shadows = frozenset(
        v.name for v in service.variants_of(session, [row.id])[row.id] if v.mode == "shadow"
    )
    return monitoring.endpoint_metrics(session, row.id, window, min(step, window), shadows)


@router.get("/{name}/events", response_model=EventList)
def endpoint_events(project: str, name: str, actor: CurrentUser, session: SessionDep) -> EventList:
    """What the supervisor did: starts, stops, replica restarts and scaling decisions."""
    row, _ = service.get_endpoint(session, actor, project, name)
    return EventList(items=views.events(session, row.id))


@router.get("/{name}/predictions", response_model=PredictionList)
def predictions(
    project: str,
    name: str,
    actor: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    shadow: bool | None = None,
) -> PredictionList:
    """The latest logged predictions (inputs and outputs: editors only)."""
    row, _ = service.get_endpoint(session, actor, project, name, min_role=Role.editor)
    query = select(PredictionRow).where(PredictionRow.endpoint_id == row.id)
    if shadow is not None:
        query = query.where(PredictionRow.shadow.is_(shadow))
    rows = session.scalars(query.order_by(PredictionRow.id.desc()).limit(limit)).all()
    return PredictionList(items=[_prediction(r) for r in rows])


def _prediction(row: PredictionRow) -> PredictionPublic:
    return PredictionPublic(
        prediction_id=row.prediction_id,
        at=datetime.fromtimestamp(row.at, UTC),
        variant=row.variant,
        shadow=row.shadow,
        inputs=row.inputs,
        outputs=row.outputs,
        latency_ms=row.latency_ms,
        key=row.key,
    )


def _key(session: Session, row: EndpointKeyRow) -> KeyPublic:
    users = usernames_by_id(session, [row.created_by_id] if row.created_by_id else [])
    return KeyPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_by=users.get(row.created_by_id) if row.created_by_id else None,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


@router.get("/{name}/keys", response_model=KeyList)
def list_keys(project: str, name: str, actor: CurrentUser, session: SessionDep) -> KeyList:
    return KeyList(items=[_key(session, r) for r in keys.list_keys(session, actor, project, name)])


@router.post("/{name}/keys", response_model=KeyCreated, status_code=201)
def create_key(
    project: str,
    name: str,
    body: KeyCreate,
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
) -> KeyCreated:
    """A key for prediction traffic; its token is in this answer only."""
    row, token = keys.create_key(session, actor, project, name, body.name)
    serving.changed()
    return KeyCreated(**_key(session, row).model_dump(), token=token)


@router.delete("/{name}/keys/{key_id}", response_model=KeyPublic)
def revoke_key(
    project: str,
    name: str,
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: CurrentUser,
    session: SessionDep,
    serving: ServingDep,
) -> KeyPublic:
    row = keys.revoke_key(session, actor, project, name, key_id)
    serving.changed()
    return _key(session, row)
