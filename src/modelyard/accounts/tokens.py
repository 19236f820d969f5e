"""API tokens: named, shown once, stored hashed, revocable, with a last-used time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.credentials import digest, display_prefix, new_token
from modelyard.accounts.schemas import TokenCreate
from modelyard.accounts.tables import TokenRow, UserRow
from modelyard.db import utcnow
from modelyard.errors import AuthenticationError, NotFoundError

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
LAST_USED_PRECISION = timedelta(seconds=60)


def create_token(session: Session, actor: Actor, data: TokenCreate) -> tuple[TokenRow, str]:
    """Create a token for the acting user; answer the row and the secret (never stored)."""
    secret = new_token()
    expires_at = utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    row = TokenRow(
        user_id=actor.id,
        name=data.name,
        prefix=display_prefix(secret),
        token_hash=digest(secret),
        expires_at=expires_at,
    )
    session.add(row)
    audit.record(session, "token.created", actor=actor.username, target=data.name, ip=actor.ip)
    session.commit()
    return row, secret


def list_tokens(
    session: Session, actor: Actor, *, all_users: bool = False
) -> Sequence[tuple[TokenRow, str]]:
    """The acting user's tokens (or everyone's, for an admin asking for all), newest first."""
    query = (
        select(TokenRow, UserRow.username)
        .join(UserRow, UserRow.id == TokenRow.user_id)
        .order_by(TokenRow.id.desc())
    )
    if not (all_users and actor.is_admin):
        query = query.where(TokenRow.user_id == actor.id)
    return [(row, username) for row, username in session.execute(query)]


def revoke_token(session: Session, actor: Actor, token_id: int) -> TokenRow:
    row = session.get(TokenRow, token_id)
    if row is None or (row.user_id != actor.id and not actor.is_admin):
        raise NotFoundError(f"no token with id {token_id}", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            "token.revoked",
            actor=actor.username,
            target=row.name,
            ip=actor.ip,
            token_id=row.id,
        )
        session.commit()
    return row


def authenticate_token(session: Session, secret: str) -> UserRow:
    row = session.scalars(select(TokenRow).where(TokenRow.token_hash == digest(secret))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("the API token is unknown or revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthenticationError("the API token has expired")
    user = session.get(UserRow, row.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("the token's user is deactivated")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
        session.commit()
    return user
