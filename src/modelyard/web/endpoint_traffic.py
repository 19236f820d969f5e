"""Endpoints at a glance for the overview, a project's page and its Endpoints tab: state,
status, the traffic split, live requests/s and health (open alerts), in a fixed number of
queries per page.
The caller has already checked access to the projects."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from modelyard.monitoring.service import health_of
from modelyard.projects.service import ProjectRow
from modelyard.serving import monitoring, views
from modelyard.serving.schemas import EndpointPublic
from modelyard.serving.tables import EndpointRow, TelemetryRow, VariantRow

RECENT_ENDPOINTS = 8


@dataclass(frozen=True)
class Traffic:
    """The last minute, as the endpoint page's summary counts it."""

    requests_per_second: float = 0.0
    error_rate: float | None = None


@dataclass(frozen=True)
class EndpointLine:
    endpoint: EndpointPublic
    traffic: Traffic
    health: str = "ok"  # ok, warning or alerting: its open alerts


def traffic_of(
    session: Session, endpoint_ids: Collection[int], now: float | None = None
) -> dict[int, Traffic]:
    """Requests/s and error rate of live traffic over the last minute, per endpoint."""
    if not endpoint_ids:
        return {}
    end = int(now if now is not None else time.time()) + 1
    window = monitoring.SUMMARY_SECONDS
    errors = func.sum(case((TelemetryRow.code >= 500, TelemetryRow.count), else_=0))
    # a shadow's answers are copies of requests already counted
    shadow = exists().where(
        VariantRow.endpoint_id == TelemetryRow.endpoint_id,
        VariantRow.name == TelemetryRow.variant,
        VariantRow.mode == "shadow",
    )
    rows = session.execute(
        select(TelemetryRow.endpoint_id, func.sum(TelemetryRow.count), errors)
        .where(
            TelemetryRow.endpoint_id.in_(list(endpoint_ids)),
            TelemetryRow.ts >= end - window,
            TelemetryRow.ts < end,
            ~shadow,
        )
        .group_by(TelemetryRow.endpoint_id)
    ).all()
    found = {}
    for endpoint_id, count, failed in rows:
        count, failed = int(count or 0), int(failed or 0)
        found[endpoint_id] = Traffic(count / window, failed / count if count else None)
    return found


def endpoint_lines(
    session: Session,
    projects: Sequence[ProjectRow],
    rows: Sequence[EndpointRow],
    replicas_of: views.ReplicasOf,
    base_url: str,
) -> list[EndpointLine]:
    """These endpoints described (variants, shares, replicas, status) with their traffic,
    in the order given."""
    by_project: dict[int, list[EndpointRow]] = defaultdict(list)
    for row in rows:
        by_project[row.project_id].append(row)
    described: dict[int, EndpointPublic] = {}
    for project in projects:
        group = by_project.get(project.id, [])
        if group:
            for row, public in zip(
                group,
                views.describe_endpoints(session, project, group, replicas_of, base_url),
                strict=True,
            ):
                described[row.id] = public
    traffic = traffic_of(session, [row.id for row in rows])
    health = health_of(session, [row.id for row in rows])
    return [
        EndpointLine(described[row.id], traffic.get(row.id, Traffic()), health[row.id])
        for row in rows
    ]


def recent_endpoints(
    session: Session,
    projects: Sequence[ProjectRow],
    replicas_of: views.ReplicasOf,
    base_url: str,
    limit: int = RECENT_ENDPOINTS,
) -> list[EndpointLine]:
    """The endpoints of these projects, running ones first, then the latest changed."""
    if not projects:
        return []
    rows = session.scalars(
        select(EndpointRow)
        .where(EndpointRow.project_id.in_([p.id for p in projects]))
        .order_by(
            case((EndpointRow.state == "running", 0), else_=1),
            EndpointRow.updated_at.desc(),
            EndpointRow.id.desc(),
        )
        .limit(limit)
    ).all()
    return endpoint_lines(session, projects, rows, replicas_of, base_url)


def endpoint_counts(session: Session, project_ids: Collection[int]) -> dict[int, int]:
    if not project_ids:
        return {}
    rows = session.execute(
        select(EndpointRow.project_id, func.count())
        .where(EndpointRow.project_id.in_(list(project_ids)))
        .group_by(EndpointRow.project_id)
    )
    return {project_id: count for project_id, count in rows}
