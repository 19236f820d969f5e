"""Endpoint API keys: they guard prediction traffic, are shown once and stored as SHA-256."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.db import utcnow
from modelyard.errors import NotFoundError
from modelyard.projects.schemas import Role
from modelyard.serving.service import get_endpoint
from modelyard.serving.spec import key_hash
from modelyard.serving.tables import EndpointKeyRow

KEY_PREFIX = "mye_"  # tells an endpoint key from a user's API token (myd_) at a glance


def create_key(
    session: Session, actor: Actor, slug: str, name: str, key_name: str
) -> tuple[EndpointKeyRow, str]:
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = EndpointKeyRow(
        endpoint_id=endpoint.id,
        name=key_name,
        prefix=secret[: len(KEY_PREFIX) + 4],
        key_hash=key_hash(secret),
        created_by_id=actor.id,
    )
    session.add(row)
    audit.record(
        session,
        "endpoint.key_created",
        actor=actor.username,
        target=f"{slug}/{name}",
        key=key_name,
    )
    session.commit()
    return row, secret


def list_keys(session: Session, actor: Actor, slug: str, name: str) -> list[EndpointKeyRow]:
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    return list(
        session.scalars(
            select(EndpointKeyRow)
            .where(EndpointKeyRow.endpoint_id == endpoint.id)
            .order_by(EndpointKeyRow.id.desc())
        ).all()
    )


def revoke_key(session: Session, actor: Actor, slug: str, name: str, key_id: int) -> EndpointKeyRow:
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    row = session.get(EndpointKeyRow, key_id)
    if row is None or row.endpoint_id != endpoint.id:
        raise NotFoundError(f"endpoint {name!r} has no key {key_id}", field="key_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            "endpoint.key_revoked",
            actor=actor.username,
            target=f"{slug}/{name}",
            key=row.name,
        )
        session.commit()
    return row


def active_key_hashes(session: Session, endpoint_id: int) -> tuple[str, ...]:
    return tuple(
        session.scalars(
            select(EndpointKeyRow.key_hash)
            .where(EndpointKeyRow.endpoint_id == endpoint_id, EndpointKeyRow.revoked_at.is_(None))
            .order_by(EndpointKeyRow.id)
        ).all()
    )
