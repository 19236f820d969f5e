"""/api/v1/connections: admin-only data source configuration."""

from __future__ import annotations

from fastapi import APIRouter, status

from modelyard.accounts.deps import CurrentUser, SessionDep
from modelyard.data import connections as service
from modelyard.data.deps import BoxDep
from modelyard.data.schemas import (
    ConnectionCreate,
    ConnectionList,
    ConnectionPublic,
    ConnectionTestResult,
    ConnectionUpdate,
)
from modelyard.http_errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/connections", tags=["connections"], responses=ERROR_RESPONSES)


@router.get("", response_model=ConnectionList)
def list_connections(actor: CurrentUser, session: SessionDep) -> ConnectionList:
    return ConnectionList(items=service.describe(session, service.list_connections(session, actor)))


@router.post("", response_model=ConnectionPublic, status_code=status.HTTP_201_CREATED)
def create_connection(
    body: ConnectionCreate, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> ConnectionPublic:
    row = service.create_connection(session, actor, box, body)
    return service.describe(session, [row])[0]


@router.get("/{name}", response_model=ConnectionPublic)
def get_connection(name: str, actor: CurrentUser, session: SessionDep) -> ConnectionPublic:
    return service.describe(session, [service.get_connection(session, actor, name)])[0]


@router.patch("/{name}", response_model=ConnectionPublic)
def update_connection(
    name: str, body: ConnectionUpdate, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> ConnectionPublic:
    row = service.update_connection(session, actor, box, name, body)
    return service.describe(session, [row])[0]


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_connection(name: str, actor: CurrentUser, session: SessionDep) -> None:
    service.delete_connection(session, actor, name)


@router.post("/{name}/test", response_model=ConnectionTestResult)
def test_connection(
    name: str, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> ConnectionTestResult:
    return service.test_connection(session, actor, box, name)
