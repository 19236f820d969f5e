"""FastAPI dependencies shared by every router: the DB session, the acting user, settings
and the password hasher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from modelyard.accounts import sessions, tokens
from modelyard.accounts.actors import Actor
from modelyard.accounts.csrf import check_csrf
from modelyard.accounts.passwords import Passwords
from modelyard.config import Settings
from modelyard.errors import AuthenticationError, PermissionDeniedError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def find_actor(request: Request, session: Session) -> Actor | None:
    """Who is calling: a bearer token wins over the session cookie; None if neither is sent.

    Raises AuthenticationError for credentials that are sent but invalid (revoked, expired).
    """
    ip = client_ip(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("send 'Authorization: Bearer <token>'")
        return Actor.of(tokens.authenticate_token(session, value.strip()), "token", ip)
    session_id = request.cookies.get(sessions.COOKIE_NAME)
    if session_id:
        return Actor.of(sessions.authenticate_session(session, session_id), "session", ip)
    return None


def current_actor(request: Request, session: SessionDep, settings: SettingsDep) -> Actor:
    actor = find_actor(request, session)
    if actor is None:
        raise AuthenticationError("sign in or send 'Authorization: Bearer <token>'")
    unsafe = request.method not in SAFE_METHODS
    if (
        actor.via == "session"
        and unsafe
        and not check_csrf(
            settings.secret_key,
            request.cookies.get(sessions.CSRF_COOKIE_NAME),
            request.headers.get(sessions.CSRF_HEADER),
            request.cookies.get(sessions.COOKIE_NAME),
        )
    ):
        raise PermissionDeniedError(
            f"cookie-authenticated writes must repeat the CSRF token in {sessions.CSRF_HEADER}"
        )
    return actor


CurrentUser = Annotated[Actor, Depends(current_actor)]


def admin_actor(actor: CurrentUser) -> Actor:
    if not actor.is_admin:
        raise PermissionDeniedError("this needs the admin role")
    return actor


AdminUser = Annotated[Actor, Depends(admin_actor)]
