"""Users and password authentication."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.passwords import Passwords
from modelyard.accounts.schemas import UserCreate, UserUpdate
from modelyard.accounts.tables import SessionRow, UserRow
from modelyard.accounts.throttle import LoginThrottle, Refusal
from modelyard.db import utcnow
from modelyard.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)


def usernames_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Usernames of the given user ids (None and unknown ids are skipped)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(wanted)))
    return {user_id: username for user_id, username in rows.all()}


def find_user(session: Session, username: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.username == username)).first()


def get_user(session: Session, username: str) -> UserRow:
    user = find_user(session, username)
    if user is None:
        raise NotFoundError(f"no user named {username!r}", field="username")
    return user


def get_user_by_id(session: Session, user_id: int) -> UserRow:
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user


def list_users(session: Session, actor: Actor) -> Sequence[UserRow]:
    # Every signed-in user may see who exists, to add teammates to a project.
    return session.scalars(select(UserRow).order_by(UserRow.username)).all()


def create_user(
    session: Session, actor: Actor, data: UserCreate, *, passwords: Passwords
) -> UserRow:
    if not actor.is_admin:
        raise PermissionDeniedError("only admins can create users")
    if find_user(session, data.username) is not None:
        raise ConflictError(f"a user named {data.username!r} exists already", field="username")
    user = UserRow(
        username=data.username,
        display_name=data.display_name,
        password_hash=passwords.hash(data.password),
        is_admin=data.is_admin,
    )
    session.add(user)
    audit.record(
        session,
        "user.created",
        actor=actor.username,
        target=data.username,
        ip=actor.ip,
        is_admin=data.is_admin,
    )
    session.commit()
    return user


def update_user(
    session: Session, actor: Actor, username: str, data: UserUpdate, *, passwords: Passwords
) -> UserRow:
    user = get_user(session, username)
    is_self = user.id == actor.id
    if not actor.is_admin and not is_self:
        raise PermissionDeniedError("only admins can change other users")
    if not actor.is_admin and (data.is_admin is not None or data.is_active is not None):
        raise PermissionDeniedError("only admins can change roles or deactivate users")
    if is_self and (data.is_admin is False or data.is_active is False):
        raise ConflictError("you cannot remove your own admin role or deactivate yourself")
    changed: dict[str, object] = {}
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.password is not None:
        if is_self and not passwords.verify(user.password_hash, data.current_password or ""):
            # A stolen session or token alone must not be enough to take the account over.
            raise PermissionDeniedError(
                "give your current password to change it", field="current_password"
            )
        user.password_hash = passwords.hash(data.password)
        changed["password"] = "changed"
        _end_sessions(session, user.id)
    if data.is_admin is not None and data.is_admin != user.is_admin:
        user.is_admin = data.is_admin
        changed["is_admin"] = data.is_admin
    if data.is_active is not None and data.is_active != user.is_active:
        user.is_active = data.is_active
        changed["is_active"] = data.is_active
        if not data.is_active:
            _end_sessions(session, user.id)
    if changed:
        audit.record(
            session, "user.updated", actor=actor.username, target=username, ip=actor.ip, **changed
        )
    session.commit()
    return user


def _end_sessions(session: Session, user_id: int) -> None:
    for row in session.scalars(select(SessionRow).where(SessionRow.user_id == user_id)):
        session.delete(row)


def authenticate_password(
    session: Session,
    username: str,
    password: str,
    *,
    ip: str,
    passwords: Passwords,
    throttle: LoginThrottle,
) -> UserRow:
    """The user with these credentials, or AuthenticationError (and an audited failure).

    After too many failures for the username (existing or not) or from the address, raises
    RateLimitedError without checking the password, so a right one is refused as well.
    """
    normalized = username.strip().lower()
    outcome = throttle.begin(normalized, ip)
    if isinstance(outcome, Refusal):
        _refuse(session, username, ip, outcome)
    user = find_user(session, normalized)
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        audit.record(session, "login.failed", actor=username[:64], target=username[:200], ip=ip)
        session.commit()
        raise AuthenticationError("wrong username or password")
    throttle.succeeded(outcome)
    user.last_login_at = utcnow()
    return user


def _refuse(session: Session, username: str, ip: str, refusal: Refusal) -> NoReturn:
    if refusal.first:
        # Once per lockout: refusals are cheap to provoke, an audit row each would not be.
        audit.record(
            session,
            "login.throttled",
            actor=username[:64],
            target=username[:200],
            ip=ip,
            limit=refusal.scope,
            retry_after=refusal.retry_after,
        )
        session.commit()
    whom = "for this account" if refusal.scope == "username" else "from your address"
    raise RateLimitedError(
        f"too many failed sign-ins {whom}; try again in {refusal.retry_after} s "
        "(until then even the right password is refused)",
        field="username" if refusal.scope == "username" else None,
        retry_after=refusal.retry_after,
    )


def ensure_admin(session: Session, password: str | None, *, passwords: Passwords) -> str | None:
    """Create the first admin when none exists; answer the generated password, if any."""
    has_admin = session.scalar(select(func.count()).select_from(UserRow).where(UserRow.is_admin))
    if has_admin:
        return None
    if find_user(session, "admin") is not None:
        raise ConflictError("a user named 'admin' exists but no user is an admin")
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    if len(password) < 8:
        raise InvalidInputError("MODELYARD_ADMIN_PASSWORD must be at least 8 characters")
    session.add(
        UserRow(
            username="admin",
            display_name="Administrator",
            password_hash=passwords.hash(password),
            is_admin=True,
        )
    )
    audit.record(session, "user.created", actor="system", target="admin", is_admin=True)
    session.commit()
    return generated
