"""The signed-in user's own API tokens, and the admin's view of everyone's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts import tokens
from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.accounts.schemas import TokenCreate
from modelyard.errors import ModelyardError, PermissionDeniedError
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)


def tokens_view(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    all_users: bool = False,
    created: str | None = None,
    error: ModelyardError | None = None,
) -> Response:
    context = {
        "tokens": tokens.list_tokens(session, actor, all_users=all_users),
        "all_users": all_users,
        "created": created,
        "error": error,
    }
    return render(request, "tokens.html", context, status=error.status_code if error else 200)


@router.get("/tokens")
def tokens_page(request: Request, actor: PortalUser, session: SessionDep) -> Response:
    return tokens_view(request, session, actor)


@router.post("/tokens")
def create_token_submit(
    request: Request, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    try:
        data = parse(TokenCreate, {"name": text_field(form, "name")})
        _, secret = tokens.create_token(session, actor, data)
    except ModelyardError as error:
        return tokens_view(request, session, actor, error=error)
    # Shown in this answer only: the page is marked no-store and the secret is not kept.
    return tokens_view(request, session, actor, created=secret)


@router.post("/tokens/{token_id}/revoke")
def revoke_token_submit(
    request: Request,
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    tokens.revoke_token(session, actor, token_id)
    back = "/admin/tokens" if text_field(form, "back") == "admin" else "/tokens"
    return RedirectResponse(back, status_code=303)


@router.get("/admin/tokens")
def admin_tokens_page(request: Request, actor: PortalUser, session: SessionDep) -> Response:
    if not actor.is_admin:
        raise PermissionDeniedError("this page is for admins")
    return tokens_view(request, session, actor, all_users=True)
