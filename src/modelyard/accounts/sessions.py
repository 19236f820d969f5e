"""Portal sessions: a random id in an HttpOnly cookie, its hash and expiry in the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.credentials import digest, new_session_id
from modelyard.accounts.tables import SessionRow, UserRow
from modelyard.db import utcnow
from modelyard.errors import AuthenticationError

COOKIE_NAME = "modelyard_session"
CSRF_COOKIE_NAME = "modelyard_csrf"
CSRF_HEADER = "X-CSRF-Token"


def start_session(session: Session, user: UserRow, *, ttl_seconds: int, ip: str) -> str:
    """Record a login and answer the session id to put in the cookie."""
    session_id = new_session_id()
    now = utcnow()
    session.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
    session.add(
        SessionRow(
            user_id=user.id,
            session_hash=digest(session_id),
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    audit.record(session, "login", actor=user.username, target=user.username, ip=ip)
    session.commit()
    return session_id


def authenticate_session(session: Session, session_id: str) -> UserRow:
    row = session.scalars(
        select(SessionRow).where(SessionRow.session_hash == digest(session_id))
    ).first()
    if row is None or row.expires_at <= utcnow():
        raise AuthenticationError("your session has expired; sign in again")
    user = session.get(UserRow, row.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("your account is deactivated")
    return user


def end_session(session: Session, session_id: str, *, ip: str) -> None:
    row = session.scalars(
        select(SessionRow).where(SessionRow.session_hash == digest(session_id))
    ).first()
    if row is None:
        return
    user = session.get(UserRow, row.user_id)
    session.delete(row)
    audit.record(session, "logout", actor=user.username if user else "", ip=ip)
    session.commit()
