from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from modelyard.accounts import audit, service, sessions, tokens
from modelyard.accounts.actors import Actor
from modelyard.accounts.cookies import clear_login_cookies, set_login_cookies
from modelyard.accounts.deps import (
    AdminUser,
    CurrentUser,
    PasswordsDep,
    SessionDep,
    SettingsDep,
    client_ip,
)
from modelyard.accounts.schemas import (
    AuditEventList,
    AuditEventPublic,
    LoginRequest,
    LoginResponse,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenLoginRequest,
    TokenPublic,
    UserCreate,
    UserList,
    UserPublic,
    UserUpdate,
)
from modelyard.accounts.tables import TokenRow
from modelyard.accounts.throttle import LoginThrottleDep
from modelyard.http_errors import ERROR_RESPONSES, THROTTLED_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _token_public(row: TokenRow, username: str) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        username=username,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _token_created(row: TokenRow, username: str, secret: str) -> TokenCreated:
    return TokenCreated(**_token_public(row, username).model_dump(), token=secret)


@router.post(
    "/auth/login", response_model=LoginResponse, responses=THROTTLED_RESPONSES, tags=["auth"]
)
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    throttle: LoginThrottleDep,
) -> LoginResponse:
    """Sign in with a password; sets the HttpOnly session cookie and a CSRF cookie."""
    ip = client_ip(request)
    user = service.authenticate_password(
        session, body.username, body.password, ip=ip, passwords=passwords, throttle=throttle
    )
    session_id = sessions.start_session(
        session, user, ttl_seconds=settings.session_ttl_seconds, ip=ip
    )
    csrf = set_login_cookies(response, settings, session_id)
    return LoginResponse(user=UserPublic.model_validate(user), csrf_token=csrf)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def logout(request: Request, session: SessionDep) -> Response:
    session_id = request.cookies.get(sessions.COOKIE_NAME)
    if session_id:
        sessions.end_session(session, session_id, ip=client_ip(request))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_login_cookies(response)
    return response


@router.post(
    "/auth/token",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=THROTTLED_RESPONSES,
    tags=["auth"],
)
def token_login(
    body: TokenLoginRequest,
    request: Request,
    session: SessionDep,
    passwords: PasswordsDep,
    throttle: LoginThrottleDep,
) -> TokenCreated:
    """Exchange a username and password for a new API token (what `modelyard login` does)."""
    ip = client_ip(request)
    user = service.authenticate_password(
        session, body.username, body.password, ip=ip, passwords=passwords, throttle=throttle
    )
    actor = Actor.of(user, "token", ip)
    row, secret = tokens.create_token(session, actor, TokenCreate(name=body.name))
    return _token_created(row, user.username, secret)


@router.get("/me", response_model=UserPublic, tags=["users"])
def me(actor: CurrentUser, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(service.get_user_by_id(session, actor.id))


@router.get("/users", response_model=UserList, tags=["users"])
def list_users(actor: CurrentUser, session: SessionDep) -> UserList:
    users = service.list_users(session, actor)
    return UserList(items=[UserPublic.model_validate(u) for u in users])


@router.post(
    "/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED, tags=["users"]
)
def create_user(
    body: UserCreate, actor: CurrentUser, session: SessionDep, passwords: PasswordsDep
) -> UserPublic:
    return UserPublic.model_validate(service.create_user(session, actor, body, passwords=passwords))


@router.get("/users/{username}", response_model=UserPublic, tags=["users"])
def get_user(username: str, actor: CurrentUser, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(service.get_user(session, username))


@router.patch("/users/{username}", response_model=UserPublic, tags=["users"])
def update_user(
    username: str,
    body: UserUpdate,
    actor: CurrentUser,
    session: SessionDep,
    passwords: PasswordsDep,
) -> UserPublic:
    user = service.update_user(session, actor, username, body, passwords=passwords)
    return UserPublic.model_validate(user)


@router.get("/tokens", response_model=TokenList, tags=["tokens"])
def list_tokens(
    actor: CurrentUser,
    session: SessionDep,
    all_users: Annotated[bool, Query(alias="all", description="every user's (admins)")] = False,
) -> TokenList:
    rows = tokens.list_tokens(session, actor, all_users=all_users)
    return TokenList(items=[_token_public(row, username) for row, username in rows])


@router.post(
    "/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, tags=["tokens"]
)
def create_token(body: TokenCreate, actor: CurrentUser, session: SessionDep) -> TokenCreated:
    """Create an API token. The secret is in this answer only; it is stored hashed."""
    row, secret = tokens.create_token(session, actor, body)
    return _token_created(row, actor.username, secret)


@router.delete("/tokens/{token_id}", response_model=TokenPublic, tags=["tokens"])
def revoke_token(token_id: TokenId, actor: CurrentUser, session: SessionDep) -> TokenPublic:
    row = tokens.revoke_token(session, actor, token_id)
    return _token_public(row, service.get_user_by_id(session, row.user_id).username)


@router.get("/audit", response_model=AuditEventList, tags=["audit"])
def list_audit_events(
    actor: AdminUser,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditEventList:
    events = audit.list_events(session, actor, action=action, limit=limit)
    return AuditEventList(items=[AuditEventPublic.model_validate(e) for e in events])
