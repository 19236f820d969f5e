"""The audit log: who did what security-relevant thing, when and from where."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.tables import AuditEventRow
from modelyard.errors import PermissionDeniedError


def record(
    session: Session,
    action: str,
    *,
    actor: str,
    target: str = "",
    ip: str = "",
    **detail: object,
) -> None:
    """Add an event to the caller's transaction (it commits with the change it describes)."""
    session.add(AuditEventRow(actor=actor, action=action, target=target, ip=ip, detail=detail))


def list_events(
    session: Session, actor: Actor, *, action: str | None = None, limit: int = 200
) -> Sequence[AuditEventRow]:
    if not actor.is_admin:
        raise PermissionDeniedError("only admins can read the audit log")
    query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEventRow.action == action)
    return session.scalars(query).all()
