"""Admin pages: users and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts import audit, service
from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import PasswordsDep, SessionDep
from modelyard.accounts.schemas import UserCreate, UserUpdate
from modelyard.errors import ModelyardError, PermissionDeniedError
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("this page is for admins")


def users_view(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    error: ModelyardError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    _require_admin(actor)
    context = {"users": service.list_users(session, actor), "error": error, "form": form or {}}
    return render(request, "admin_users.html", context, status=error.status_code if error else 200)


@router.get("/users")
def users_page(request: Request, actor: PortalUser, session: SessionDep) -> Response:
    return users_view(request, session, actor)


@router.post("/users")
def create_user_submit(
    request: Request,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
    passwords: PasswordsDep,
) -> Response:
    _require_admin(actor)
    fields = {k: text_field(form, k) for k in ("username", "display_name", "password")}
    try:
        data = parse(UserCreate, {**fields, "is_admin": text_field(form, "is_admin") == "on"})
        service.create_user(session, actor, data, passwords=passwords)
    except ModelyardError as error:
        session.rollback()
        return users_view(request, session, actor, error=error, form=fields)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{username}")
def update_user_submit(
    request: Request,
    username: str,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
    passwords: PasswordsDep,
) -> Response:
    _require_admin(actor)
    changes: dict[str, object] = {}
    for flag in ("is_admin", "is_active"):
        if text_field(form, flag) in ("true", "false"):
            changes[flag] = text_field(form, flag) == "true"
    if text_field(form, "password"):
        changes["password"] = text_field(form, "password")
    try:
        changed = parse(UserUpdate, changes)
        service.update_user(session, actor, username, changed, passwords=passwords)
    except ModelyardError as error:
        session.rollback()
        return users_view(request, session, actor, error=error)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit")
def audit_page(
    request: Request,
    actor: PortalUser,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    _require_admin(actor)
    events = audit.list_events(session, actor, action=action or None, limit=500)
    return render(request, "admin_audit.html", {"events": events, "action": action or ""})
