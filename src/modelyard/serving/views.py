"""Endpoints as the API and the portal show them: variants with the versions they serve now,
traffic shares, replica status from the supervisor, and where a model is deployed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.service import usernames_by_id
from modelyard.projects.service import ProjectRow
from modelyard.registry.service import ModelAliasRow, ModelRow, ModelVersionRow
from modelyard.serving.schemas import (
    Deployment,
    EndpointPublic,
    EventPublic,
    ReplicaPublic,
    VariantPublic,
)
from modelyard.serving.service import variants_of
from modelyard.serving.tables import EndpointEventRow, EndpointRow, VariantRow

ReplicasOf = Callable[[int], list[ReplicaPublic]]


def shares(variants: Sequence[VariantRow]) -> dict[str, float]:
    """Each live variant's share of traffic (0..1); shadows get a copy, not a share."""
    total = sum(v.weight for v in variants if v.mode == "live")
    return {v.name: (v.weight / total if total and v.mode == "live" else 0.0) for v in variants}


def _served_versions(session: Session, variants: Sequence[VariantRow]) -> dict[int, int | None]:
    """variant id -> the version number it serves now (an alias resolved)."""
    following = [v for v in variants if v.alias]
    served: dict[int, int | None] = {v.id: v.version for v in variants}
    if following:
        rows = session.execute(
            select(ModelAliasRow.model_id, ModelAliasRow.alias, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
            .where(ModelAliasRow.model_id.in_([v.model_id for v in following]))
        ).all()
        numbers = {(m, a): n for m, a, n in rows}
        for v in following:
            served[v.id] = numbers.get((v.model_id, v.alias or ""))
    return served


def _model_names(session: Session, variants: Sequence[VariantRow]) -> dict[int, str]:
    ids = list({v.model_id for v in variants})
    return (
        dict(session.execute(select(ModelRow.id, ModelRow.name).where(ModelRow.id.in_(ids))).all())
        if ids
        else {}
    )


def describe_variants(session: Session, variants: Sequence[VariantRow]) -> list[VariantPublic]:
    served = _served_versions(session, variants)
    names = _model_names(session, variants)
    share = shares(variants)
    return [
        VariantPublic(
            name=v.name,
            model=names.get(v.model_id, "?"),
            version=served[v.id],
            alias=v.alias,
            commit=v.code_commit,
            code_ref=v.code_ref,
            weight=v.weight,
            share=share[v.name],
            mode="shadow" if v.mode == "shadow" else "live",
            batching=v.batching,
            max_wait_ms=v.max_wait_ms,
            max_batch_size=v.max_batch_size,
        )
        for v in variants
    ]


def _status(row: EndpointRow, replicas: list[ReplicaPublic]) -> str:
    if row.state != "running":
        return "stopped"
    ready = sum(1 for r in replicas if r.state == "ready")
    if ready == 0:
        return "starting"
    return "running" if ready >= row.min_replicas else "degraded"


def describe_endpoints(
    session: Session,
    project: ProjectRow,
    rows: Sequence[EndpointRow],
    replicas_of: ReplicasOf,
    base_url: str,
) -> list[EndpointPublic]:
    variants = variants_of(session, [r.id for r in rows])
    users = usernames_by_id(session, [r.created_by_id for r in rows if r.created_by_id])
    described = []
    for row in rows:
        replicas = replicas_of(row.id) if row.state == "running" else []
        described.append(
            EndpointPublic(
                name=row.name,
                project=project.slug,
                description=row.description,
                state="running" if row.state == "running" else "stopped",
                status=_status(row, replicas),  # type: ignore[arg-type]
                public=row.public,
                url=f"{base_url.rstrip('/')}/serve/{project.slug}/{row.name}/predict",
                port=row.port,
                min_replicas=row.min_replicas,
                max_replicas=row.max_replicas,
                target_inflight=row.target_inflight,
                variants=describe_variants(session, variants[row.id]),
                replicas=replicas,
                created_by=users.get(row.created_by_id) if row.created_by_id else None,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return described


def events(session: Session, endpoint_id: int, limit: int = 50) -> list[EventPublic]:
    rows = session.scalars(
        select(EndpointEventRow)
        .where(EndpointEventRow.endpoint_id == endpoint_id)
        .order_by(EndpointEventRow.id.desc())
        .limit(limit)
    ).all()
    return [
        EventPublic(
            kind=r.kind,
            replicas_before=r.replicas_before,
            replicas_after=r.replicas_after,
            message=r.message,
            at=r.at,
        )
        for r in rows
    ]


def deployments_of_model(session: Session, project: ProjectRow, model_id: int) -> list[Deployment]:
    """Every endpoint variant of the project that serves a version of this model."""
    rows = session.execute(
        select(VariantRow, EndpointRow)
        .join(EndpointRow, EndpointRow.id == VariantRow.endpoint_id)
        .where(VariantRow.model_id == model_id, EndpointRow.project_id == project.id)
        .order_by(EndpointRow.name, VariantRow.name)
    ).all()
    pairs = [(variant, endpoint) for variant, endpoint in rows]
    all_variants = variants_of(session, list({e.id for _, e in pairs}))
    served = _served_versions(session, [v for v, _ in pairs])
    found = []
    for variant, endpoint in pairs:
        share = shares(all_variants[endpoint.id])
        found.append(
            Deployment(
                project=project.slug,
                endpoint=endpoint.name,
                variant=variant.name,
                state="running" if endpoint.state == "running" else "stopped",
                version=served[variant.id],
                alias=variant.alias,
                weight=variant.weight,
                share=share.get(variant.name, 0.0),
                mode="shadow" if variant.mode == "shadow" else "live",
            )
        )
    return found
