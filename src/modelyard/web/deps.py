"""Portal dependencies: the signed-in user (or a redirect to the login page) and checked forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from modelyard.accounts.actors import Actor
from modelyard.accounts.csrf import check_csrf
from modelyard.accounts.deps import SessionDep, SettingsDep, client_ip
from modelyard.accounts.service import get_user_by_id
from modelyard.accounts.sessions import COOKIE_NAME, CSRF_COOKIE_NAME, authenticate_session
from modelyard.errors import AuthenticationError, PermissionDeniedError


def portal_actor(request: Request, session: SessionDep) -> Actor:
    """The user behind the session cookie. Pages use cookies only, never bearer tokens."""
    session_id = request.cookies.get(COOKIE_NAME)
    if not session_id:
        raise AuthenticationError("sign in to continue")
    user = authenticate_session(session, session_id)
    actor = Actor.of(user, "session", client_ip(request))
    request.state.actor = actor
    request.state.display_name = get_user_by_id(session, user.id).display_name
    return actor


PortalUser = Annotated[Actor, Depends(portal_actor)]


async def checked_form(request: Request, settings: SettingsDep) -> FormData:
    form = await request.form()
    submitted = form.get("csrf_token")
    if not check_csrf(
        settings.secret_key,
        request.cookies.get(CSRF_COOKIE_NAME),
        submitted if isinstance(submitted, str) else None,
        request.cookies.get(COOKIE_NAME),
    ):
        raise PermissionDeniedError("this form has expired; reload the page and submit it again")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
