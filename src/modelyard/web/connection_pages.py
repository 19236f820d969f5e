"""Admin pages for connections: list, create, edit, test and delete. Secrets go in through
password fields and never come back out: the pages show which secrets are set, not their values."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.data import connections
from modelyard.data.deps import BoxDep
from modelyard.data.schemas import ConnectionCreate, ConnectionTestResult, ConnectionUpdate
from modelyard.errors import ModelyardError
from modelyard.web.connection_fields import (
    KINDS,
    changed_secrets_from,
    form_values,
    new_secrets_from,
    secret_names,
    settings_fields,
    settings_from,
)
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(prefix="/admin/connections", include_in_schema=False)

NOTICES = {
    "created": "Connection created. Test it, then create datasets on it.",
    "saved": "Changes saved.",
    "deleted": "Connection deleted.",
}


@router.get("")
def connections_page(
    request: Request, actor: PortalUser, session: SessionDep, done: str | None = None
) -> Response:
    rows = connections.list_connections(session, actor)
    context = {
        "connections": connections.describe(session, rows),
        "kinds": KINDS,
        "notice": NOTICES.get(done or ""),
    }
    return render(request, "admin_connections.html", context)


def new_view(
    request: Request,
    actor: Actor,
    kind: str,
    *,
    error: ModelyardError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    connections.require_admin(actor)
    chosen = kind if kind in KINDS else ""
    context = {
        "kinds": KINDS,
        "kind": chosen,
        "fields": settings_fields(chosen) if chosen else [],
        "secret_names": secret_names(chosen) if chosen else [],
        "form": form or {},
        "error": error,
    }
    return render(
        request, "admin_connection_new.html", context, status=error.status_code if error else 200
    )


@router.get("/new")
def new_connection_page(
    request: Request, actor: PortalUser, kind: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    return new_view(request, actor, kind)


@router.post("")
def create_connection_submit(
    request: Request, actor: PortalUser, session: SessionDep, box: BoxDep, form: CheckedForm
) -> Response:
    connections.require_admin(actor)
    kind = text_field(form, "kind")
    shown = {k: text_field(form, k) for k in ("name", "description")}
    try:
        data = parse(
            ConnectionCreate,
            {
                **shown,
                "kind": kind,
                "settings": settings_from(form, kind) if kind in KINDS else {},
                "secrets": new_secrets_from(form, kind) if kind in KINDS else {},
            },
        )
        row = connections.create_connection(session, actor, box, data)
    except ModelyardError as error:
        session.rollback()
        # Settings are shown again as typed; secrets are not: they are typed again.
        values = {
            f"settings.{f.name}": text_field(form, f"settings.{f.name}")
            for f in (settings_fields(kind) if kind in KINDS else [])
        }
        return new_view(request, actor, kind, error=error, form={**shown, **values})
    return RedirectResponse(f"/admin/connections/{row.name}?done=created", status_code=303)


def connection_view(
    request: Request,
    session: Session,
    actor: Actor,
    name: str,
    *,
    error: ModelyardError | None = None,
    result: ConnectionTestResult | None = None,
    done: str | None = None,
) -> Response:
    connection = connections.describe(session, [connections.get_connection(session, actor, name)])[
        0
    ]
    values: dict[str, Any] = {
        f"settings.{k}": v for k, v in form_values(connection.settings).items()
    }
    context = {
        "connection": connection,
        "kind_label": KINDS.get(connection.kind, connection.kind),
        "fields": settings_fields(connection.kind),
        "secret_names": secret_names(connection.kind),
        "form": values,
        "result": result,
        "error": error,
        "notice": NOTICES.get(done or ""),
    }
    status = error.status_code if error else 200
    return render(request, "admin_connection.html", context, status=status)


@router.get("/{name}")
def connection_page(
    request: Request, name: str, actor: PortalUser, session: SessionDep, done: str | None = None
) -> Response:
    return connection_view(request, session, actor, name, done=done)


@router.post("/{name}")
def update_connection_submit(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    form: CheckedForm,
) -> Response:
    row = connections.get_connection(session, actor, name)
    try:
        data = parse(
            ConnectionUpdate,
            {
                "description": text_field(form, "description"),
                "settings": settings_from(form, row.kind),
                "secrets": changed_secrets_from(form, row.kind),
            },
        )
        connections.update_connection(session, actor, box, name, data)
    except ModelyardError as error:
        session.rollback()
        return connection_view(request, session, actor, name, error=error)
    return RedirectResponse(f"/admin/connections/{name}?done=saved", status_code=303)


@router.post("/{name}/test")
def test_connection_submit(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    form: CheckedForm,
) -> Response:
    result = connections.test_connection(session, actor, box, name)
    return connection_view(request, session, actor, name, result=result)


@router.post("/{name}/delete")
def delete_connection_submit(
    request: Request, name: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    try:
        connections.delete_connection(session, actor, name)
    except ModelyardError as error:
        session.rollback()
        if error.status_code in (403, 404):
            raise
        return connection_view(request, session, actor, name, error=error)
    return RedirectResponse("/admin/connections?done=deleted", status_code=303)
