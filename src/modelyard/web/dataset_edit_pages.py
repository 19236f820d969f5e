"""Changing the catalog: admins create datasets; owners and admins document and grant them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.accounts.service import list_users
from modelyard.data import connections, service
from modelyard.data.deps import BoxDep
from modelyard.data.schemas import DatasetCreate, DatasetUpdate
from modelyard.data.tables import DatasetRow
from modelyard.errors import ModelyardError, PermissionDeniedError
from modelyard.projects.service import list_projects
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

FILE_FORMATS = ("", "parquet", "csv", "json")
NEW_FIELDS = ("name", "connection", "table", "query", "path", "file_format", "description")
NOTICES = {"granted": "Access granted.", "revoked": "Access revoked."}


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("only admins create datasets; ask one to add yours")


def new_view(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    error: ModelyardError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    _require_admin(actor)
    context = {
        "connections": connections.describe(session, connections.list_connections(session, actor)),
        "users": [u.username for u in list_users(session, actor) if u.is_active],
        "projects": [p.slug for p in list_projects(session, actor)],
        "file_formats": FILE_FORMATS,
        "form": form or {"owner": actor.username, "grants": []},
        "error": error,
    }
    return render(request, "data_new.html", context, status=error.status_code if error else 200)


# Registered before /data/{name}, so that this page is not read as a dataset named "new".
@router.get("/data/new")
def new_dataset_page(request: Request, actor: PortalUser, session: SessionDep) -> Response:
    return new_view(request, session, actor)


@router.post("/data")
def create_dataset_submit(
    request: Request, actor: PortalUser, session: SessionDep, box: BoxDep, form: CheckedForm
) -> Response:
    _require_admin(actor)
    fields: dict[str, Any] = {k: text_field(form, k) for k in NEW_FIELDS}
    fields["owner"] = text_field(form, "owner")
    fields["tags"] = text_field(form, "tags")
    fields["grants"] = [g for g in form.getlist("grants") if isinstance(g, str) and g]
    try:
        data = parse(
            DatasetCreate,
            {
                **{k: fields[k] for k in NEW_FIELDS},
                "owner": fields["owner"] or None,
                "tags": split_tags(fields["tags"]),
                "grants": fields["grants"],
            },
        )
        row = service.create_dataset(session, actor, box, data)
    except ModelyardError as error:
        session.rollback()
        return new_view(request, session, actor, error=error, form=fields)
    return RedirectResponse(f"/data/{row.name}?done=created", status_code=303)


def edit_view(
    request: Request,
    session: Session,
    actor: Actor,
    name: str,
    *,
    error: ModelyardError | None = None,
    done: str | None = None,
) -> Response:
    row = service.get_dataset(session, actor, name, edit=True)
    dataset = service.describe(session, actor, [row])[0]
    candidates = [p.slug for p in list_projects(session, actor) if p.slug not in dataset.grants]
    context = {
        "dataset": dataset,
        "candidates": candidates,
        "users": [u.username for u in list_users(session, actor) if u.is_active],
        "error": error,
        "notice": NOTICES.get(done or ""),
    }
    return render(request, "data_edit.html", context, status=error.status_code if error else 200)


@router.get("/data/{name}/edit")
def edit_dataset_page(
    request: Request, name: str, actor: PortalUser, session: SessionDep, done: str | None = None
) -> Response:
    return edit_view(request, session, actor, name, done=done)


def _column_docs(form: FormData, row: DatasetRow) -> dict[str, Any]:
    """Every column's documentation: what the form sent over what was stored before."""
    docs: dict[str, Any] = {
        column: {"description": str(doc.get("description", "")), "pii": bool(doc.get("pii"))}
        for column, doc in row.columns.items()
    }
    for index in range(len(row.schema)):
        if column := text_field(form, f"column-{index}-name"):
            docs[column] = {
                "description": text_field(form, f"column-{index}-description").strip(),
                "pii": text_field(form, f"column-{index}-pii") == "on",
            }
    return docs


def _act(
    request: Request, session: Session, actor: Actor, name: str, action: Callable[[], str]
) -> Response:
    """Run a form action; on a user error show the edit page again with the message."""
    try:
        target = action()
    except ModelyardError as error:
        session.rollback()
        if error.status_code in (403, 404):
            raise
        return edit_view(request, session, actor, name, error=error)
    return RedirectResponse(target, status_code=303)


@router.post("/data/{name}/edit")
def edit_dataset_submit(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        row = service.get_dataset(session, actor, name, edit=True)
        changes: dict[str, Any] = {
            "description": text_field(form, "description"),
            "tags": split_tags(text_field(form, "tags")),
            "columns": _column_docs(form, row),
        }
        if actor.is_admin and text_field(form, "owner"):
            changes["owner"] = text_field(form, "owner")
        service.update_dataset(session, actor, box, name, parse(DatasetUpdate, changes))
        return f"/data/{name}?done=saved"

    return _act(request, session, actor, name, action)


@router.post("/data/{name}/grants")
def grant_submit(
    request: Request, name: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    def action() -> str:
        service.grant(session, actor, name, text_field(form, "project"))
        return f"/data/{name}/edit?done=granted#grants"

    return _act(request, session, actor, name, action)


@router.post("/data/{name}/grants/{project}/revoke")
def revoke_submit(
    request: Request,
    name: str,
    project: str,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        service.revoke(session, actor, name, project)
        return f"/data/{name}/edit?done=revoked#grants"

    return _act(request, session, actor, name, action)
