"""Endpoints and their variants: the desired state the supervisor makes real.

Everything here only writes the database; the supervisor notices within a fraction of a
second (the API also wakes it) and replicas pick up the new spec on their next poll.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.code.service import record_code_ref
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.projects.schemas import Role
from modelyard.projects.service import ProjectRow as ProjectRow
from modelyard.projects.service import get_project, require_writable
from modelyard.serving.monitoring import endpoint_metrics as endpoint_metrics
from modelyard.serving.schemas import (
    EndpointCreate,
    EndpointUpdate,
    TrafficSet,
)
from modelyard.serving.spec import key_hash as key_hash
from modelyard.serving.tables import EndpointEventRow as EndpointEventRow
from modelyard.serving.tables import EndpointKeyRow as EndpointKeyRow
from modelyard.serving.tables import EndpointRow as EndpointRow
from modelyard.serving.tables import PredictionRow as PredictionRow
from modelyard.serving.tables import TrafficChangeRow
from modelyard.serving.tables import VariantRow as VariantRow

PREDICTOR_FILE = "predict.py"


def find_endpoint(session: Session, project: ProjectRow, name: str) -> EndpointRow | None:
    return session.scalars(
        select(EndpointRow).where(EndpointRow.project_id == project.id, EndpointRow.name == name)
    ).first()


def get_endpoint(
    session: Session, actor: Actor, slug: str, name: str, *, min_role: Role = Role.viewer
) -> tuple[EndpointRow, ProjectRow]:
    project = get_project(session, actor, slug, min_role=min_role)
    if min_role is not Role.viewer:
        require_writable(project)
    endpoint = find_endpoint(session, project, name)
    if endpoint is None:
        raise NotFoundError(f"no endpoint {name!r} in project {slug!r}", field="endpoint")
    return endpoint, project


def list_endpoints(
    session: Session, actor: Actor, slug: str
) -> tuple[list[EndpointRow], ProjectRow]:
    project = get_project(session, actor, slug)
    rows = session.scalars(
        select(EndpointRow).where(EndpointRow.project_id == project.id).order_by(EndpointRow.name)
    ).all()
    return list(rows), project


def variants_of(session: Session, endpoint_ids: Sequence[int]) -> dict[int, list[VariantRow]]:
    found: dict[int, list[VariantRow]] = {i: [] for i in endpoint_ids}
    rows = session.scalars(
        select(VariantRow)
        .where(VariantRow.endpoint_id.in_(list(endpoint_ids)))
        .order_by(VariantRow.id)
    ).all()
    for row in rows:
        found[row.endpoint_id].append(row)
    return found


def _check_replicas(minimum: int, maximum: int) -> None:
    if maximum < minimum:
        raise InvalidInputError(
            f"max_replicas ({maximum}) is below min_replicas ({minimum})", field="max_replicas"
        )


def create_endpoint(session: Session, actor: Actor, slug: str, data: EndpointCreate) -> EndpointRow:
    project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
    maximum = data.max_replicas if data.max_replicas is not None else data.min_replicas
    _check_replicas(data.min_replicas, maximum)
    if find_endpoint(session, project, data.name) is not None:
        raise ConflictError(f"project {slug!r} already has an endpoint {data.name!r}", field="name")
    row = EndpointRow(
        project_id=project.id,
        name=data.name,
        description=data.description,
        public=data.public,
        min_replicas=data.min_replicas,
        max_replicas=maximum,
        target_inflight=float(data.target_inflight),
        created_by_id=actor.id,
    )
    session.add(row)
    audit.record(session, "endpoint.created", actor=actor.username, target=target_of(slug, row))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            f"project {slug!r} already has an endpoint {data.name!r}", field="name"
        ) from None
    return row


def update_endpoint(
    session: Session, actor: Actor, slug: str, name: str, data: EndpointUpdate
) -> EndpointRow:
    row, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    changes = data.model_dump(exclude_none=True)
    minimum = changes.get("min_replicas", row.min_replicas)
    maximum = changes.get("max_replicas", max(row.max_replicas, minimum))
    _check_replicas(minimum, maximum)
    for field, value in changes.items():
        setattr(row, field, value)
    row.min_replicas, row.max_replicas = minimum, maximum
    row.updated_at = utcnow()
    audit.record(
        session, "endpoint.updated", actor=actor.username, target=target_of(slug, row), **changes
    )
    session.commit()
    return row


def set_state(session: Session, actor: Actor, slug: str, name: str, state: str) -> EndpointRow:
    """Start ("running") or stop ("stopped") an endpoint."""
    row, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    if state == "running":
        variants = variants_of(session, [row.id])[row.id]
        if not any(v.mode == "live" and v.weight > 0 for v in variants):
            raise ConflictError(
                f"endpoint {name!r} has no live variant with traffic: add one "
                f"(`modelyard deploy MODEL@VERSION --endpoint {name}`) first",
                field="variants",
            )
    if row.state != state:
        row.state, row.updated_at = state, utcnow()
        action = "endpoint.started" if state == "running" else "endpoint.stopped"
        audit.record(session, action, actor=actor.username, target=target_of(slug, row))
        session.commit()
    return row


def delete_endpoint(session: Session, actor: Actor, slug: str, name: str) -> None:
    """Delete an endpoint; its processes stop at the supervisor's next pass."""
    row, project = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    for variant in variants_of(session, [row.id])[row.id]:
        mark_code(session, project, row, variant, live=False)
    audit.record(session, "endpoint.deleted", actor=actor.username, target=target_of(slug, row))
    session.delete(row)
    session.commit()


# --- traffic -------------------------------------------------------------------------------


def _live_weights(variants: Sequence[VariantRow]) -> dict[str, float]:
    return {v.name: v.weight for v in variants if v.mode == "live"}


def record_weights(
    session: Session, actor: Actor, endpoint: EndpointRow, variants: Sequence[VariantRow]
) -> None:
    session.add(
        TrafficChangeRow(
            endpoint_id=endpoint.id, weights=_live_weights(variants), actor=actor.username
        )
    )


def _apply_weights(
    session: Session, actor: Actor, endpoint: EndpointRow, weights: dict[str, float]
) -> list[VariantRow]:
    variants = variants_of(session, [endpoint.id])[endpoint.id]
    by_name = {v.name: v for v in variants}
    unknown = sorted(set(weights) - by_name.keys())
    if unknown:
        raise InvalidInputError(
            f"endpoint {endpoint.name!r} has no variant {unknown[0]!r}", field="weights"
        )
    shadows = sorted(n for n, w in weights.items() if w > 0 and by_name[n].mode == "shadow")
    if shadows:
        raise InvalidInputError(
            f"{shadows[0]!r} is a shadow variant: it gets a copy of all traffic, not a weight",
            field="weights",
        )
    live = [v for v in variants if v.mode == "live"]
    if endpoint.state == "running" and not any(weights.get(v.name, 0) > 0 for v in live):
        raise InvalidInputError(
            "at least one live variant must keep traffic while the endpoint runs",
            field="weights",
        )
    for variant in live:
        variant.weight = float(weights.get(variant.name, 0.0))
    endpoint.updated_at = utcnow()
    record_weights(session, actor, endpoint, variants)
    return variants


def set_traffic(
    session: Session, actor: Actor, slug: str, name: str, data: TrafficSet
) -> list[VariantRow]:
    """Set every live variant's weight at once (those not named get 0)."""
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    weights = {k: float(v) for k, v in data.weights.items()}
    variants = _apply_weights(session, actor, endpoint, weights)
    audit.record(
        session,
        "endpoint.traffic_set",
        actor=actor.username,
        target=target_of(slug, endpoint),
        weights=weights,
    )
    session.commit()
    return variants


def rollback(session: Session, actor: Actor, slug: str, name: str) -> list[VariantRow]:
    """Put back the split the endpoint had before its current one (rolling back twice
    returns to where it started: the rollback is itself a change of split)."""
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    variants = variants_of(session, [endpoint.id])[endpoint.id]
    current = _live_weights(variants)
    history = session.scalars(
        select(TrafficChangeRow)
        .where(TrafficChangeRow.endpoint_id == endpoint.id)
        .order_by(TrafficChangeRow.id.desc())
        .limit(200)
    ).all()
    existing = {v.name for v in variants if v.mode == "live"}
    for change in history:
        # a variant missing from an older split had weight 0 then
        weights = {k: float(change.weights.get(k, 0.0)) for k in existing}
        if weights != current and any(w > 0 for w in weights.values()):
            variants = _apply_weights(session, actor, endpoint, weights)
            audit.record(
                session,
                "endpoint.rolled_back",
                actor=actor.username,
                target=target_of(slug, endpoint),
                weights=weights,
            )
            session.commit()
            return variants
    raise ConflictError(
        f"endpoint {name!r} has no earlier traffic split to roll back to", field="endpoint"
    )


def target_of(slug: str, endpoint: EndpointRow) -> str:
    return f"{slug}/{endpoint.name}"


def mark_code(
    session: Session, project: ProjectRow, endpoint: EndpointRow, variant: VariantRow, *, live: bool
) -> None:
    if variant.code_commit:
        record_code_ref(
            session,
            project.id,
            kind="endpoint_variant",
            object_id=f"{endpoint.id}:{variant.name}",
            commit=variant.code_commit,
            label=f"endpoint {endpoint.name} · {variant.name}",
            ref=variant.code_ref,
            live=live,
        )
