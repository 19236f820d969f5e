"""Connections: admin-only configuration of data sources, secrets sealed at rest.

Nothing here ever returns, logs or audits a secret value: responses carry the secret
names with masked values, and audit events name which secrets changed, not what to.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.data.connectors import Connector, open_connector
from modelyard.data.schemas import (
    SECRET_KEYS,
    SETTINGS,
    ConnectionCreate,
    ConnectionPublic,
    ConnectionTestResult,
    ConnectionUpdate,
)
from modelyard.data.secrets import SecretBox, masked
from modelyard.data.tables import ConnectionRow, DatasetRow
from modelyard.db import utcnow
from modelyard.errors import (
    ConflictError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from modelyard.validation import describe_validation


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("only admins can see or change connections")


def find_connection(session: Session, name: str) -> ConnectionRow | None:
    return session.scalars(select(ConnectionRow).where(ConnectionRow.name == name)).first()


def get_connection(session: Session, actor: Actor, name: str) -> ConnectionRow:
    require_admin(actor)
    row = find_connection(session, name)
    if row is None:
        raise NotFoundError(f"no connection {name!r}", field="connection")
    return row


def list_connections(session: Session, actor: Actor) -> Sequence[ConnectionRow]:
    require_admin(actor)
    return session.scalars(select(ConnectionRow).order_by(ConnectionRow.name)).all()


def describe(session: Session, rows: Sequence[ConnectionRow]) -> list[ConnectionPublic]:
    counts = dict(
        session.execute(
            select(DatasetRow.connection_id, func.count(DatasetRow.id)).group_by(
                DatasetRow.connection_id
            )
        ).all()
    )
    return [
        ConnectionPublic(
            name=row.name,
            kind=row.kind,
            description=row.description,
            settings=row.settings,
            secrets=masked(row.secret_keys),
            datasets=counts.get(row.id, 0),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def _checked_settings(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    try:
        model = SETTINGS[kind].model_validate(dict(settings))
    except ValidationError as exc:
        _, message, field = describe_validation(exc.errors())
        named = f"settings.{field}"
        # name the field as the request spells it: 'settings.host' is required
        if message.startswith(f"{field}: "):
            message = named + message[len(field) :]
        else:
            message = message.replace(repr(field), repr(named), 1)
        raise InvalidInputError(message, field=named) from None
    return model.model_dump(exclude_none=True)


def _checked_secrets(kind: str, secrets: Mapping[str, str]) -> dict[str, str]:
    allowed = SECRET_KEYS.get(kind, frozenset())
    for key in secrets:
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise InvalidInputError(
                f"a {kind} connection has no secret {key!r} (it takes: {names})",
                field=f"secrets.{key}",
            )
    return {k: v for k, v in secrets.items() if v}


def create_connection(
    session: Session, actor: Actor, box: SecretBox, data: ConnectionCreate
) -> ConnectionRow:
    require_admin(actor)
    if find_connection(session, data.name) is not None:
        raise ConflictError(f"a connection named {data.name!r} exists already", field="name")
    secrets = _checked_secrets(data.kind, data.secrets)
    row = ConnectionRow(
        name=data.name,
        kind=data.kind,
        description=data.description,
        settings=_checked_settings(data.kind, data.settings),
        secrets_encrypted=box.seal(secrets),
        secret_keys=sorted(secrets),
        created_by_id=actor.id,
    )
    session.add(row)
    audit.record(
        session,
        "connection.created",
        actor=actor.username,
        target=data.name,
        ip=actor.ip,
        kind=data.kind,
        secrets=sorted(secrets),
    )
    session.commit()
    return row


def update_connection(
    session: Session, actor: Actor, box: SecretBox, name: str, data: ConnectionUpdate
) -> ConnectionRow:
    row = get_connection(session, actor, name)
    changed: list[str] = []
    if data.description is not None:
        row.description = data.description
        changed.append("description")
    if data.settings is not None:
        row.settings = _checked_settings(row.kind, data.settings)
        changed.append("settings")
    if data.secrets is not None:
        _checked_secrets(row.kind, data.secrets)
        secrets = box.open(row.secrets_encrypted)
        for key, value in data.secrets.items():
            if value:
                secrets[key] = value
            else:
                secrets.pop(key, None)
        row.secrets_encrypted = box.seal(secrets)
        row.secret_keys = sorted(secrets)
        changed.extend(f"secrets.{key}" for key in sorted(data.secrets))
    row.updated_at = utcnow()
    audit.record(
        session,
        "connection.updated",
        actor=actor.username,
        target=name,
        ip=actor.ip,
        changed=changed,
    )
    session.commit()
    return row


def delete_connection(session: Session, actor: Actor, name: str) -> None:
    row = get_connection(session, actor, name)
    used = session.scalars(select(DatasetRow.name).where(DatasetRow.connection_id == row.id)).all()
    if used:
        raise ConflictError(
            f"connection {name!r} is used by datasets {', '.join(sorted(used))}; delete them first"
        )
    session.delete(row)
    audit.record(session, "connection.deleted", actor=actor.username, target=name, ip=actor.ip)
    session.commit()


def connector_for(row: ConnectionRow, box: SecretBox) -> Connector:
    """A live connector on `row`'s source, its secrets decrypted only into the connector."""
    return open_connector(row.kind, row.settings, box.open(row.secrets_encrypted))


def test_connection(
    session: Session, actor: Actor, box: SecretBox, name: str
) -> ConnectionTestResult:
    row = get_connection(session, actor, name)
    started = time.perf_counter()
    try:
        with connector_for(row, box) as connector:
            answer = connector.test()
        ok, message = True, f"connected: {answer}"
    except ConnectorError as exc:
        ok, message = False, exc.message
    seconds = round(time.perf_counter() - started, 3)
    audit.record(
        session, "connection.tested", actor=actor.username, target=name, ip=actor.ip, ok=ok
    )
    session.commit()
    return ConnectionTestResult(ok=ok, message=message, seconds=seconds)


def rotate_secrets(session: Session, old: SecretBox, new: SecretBox) -> int:
    """Re-seal every connection's secrets under `new` (in the caller's transaction)."""
    count = 0
    for row in session.scalars(select(ConnectionRow)).all():
        if row.secrets_encrypted:
            row.secrets_encrypted = new.seal(old.open(row.secrets_encrypted))
            count += 1
    audit.record(
        session, "secret_key.rotated", actor="modelyard admin rotate-key", connections=count
    )
    return count
