"""Alert rules on an endpoint's figures and the alerts they raise: viewers of the endpoint's
project read them, editors change rules and acknowledge or resolve alerts.

Resolving an alert by hand says "fixed": its rule starts over, so if the figure is still
beyond the threshold after `for_seconds`, a new alert fires."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.service import usernames_by_id
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.monitoring.schemas import (
    AlertPublic,
    AlertRuleCreate,
    AlertRulePublic,
    AlertRuleUpdate,
    AlertState,
    webhook_host,
)
from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from modelyard.monitoring.webhooks import Sealer, open_webhook, seal_webhook
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project, require_writable
from modelyard.serving.service import (
    EndpointRow,
    ProjectRow,
    find_endpoint,
    get_endpoint,
    variants_of,
)

OPEN_STATES = ("firing", "acknowledged")
MAX_RULES_PER_ENDPOINT = 50
MAX_ALERTS = 500


def _check_variant(session: Session, endpoint: EndpointRow, variant: str | None) -> None:
    if variant is None:
        return
    names = {v.name for v in variants_of(session, [endpoint.id])[endpoint.id]}
    if variant not in names:
        raise InvalidInputError(
            f"endpoint {endpoint.name!r} has no variant {variant!r}", field="variant"
        )


def _target(project: ProjectRow, endpoint: EndpointRow, rule: AlertRuleRow) -> str:
    return f"{project.slug}/{endpoint.name}/{rule.name}"


def create_rule(
    session: Session, actor: Actor, box: Sealer, slug: str, endpoint: str, data: AlertRuleCreate
) -> tuple[AlertRuleRow, ProjectRow]:
    row, project = get_endpoint(session, actor, slug, endpoint, min_role=Role.editor)
    _check_variant(session, row, data.variant)
    count = session.scalar(
        select(func.count()).select_from(AlertRuleRow).where(AlertRuleRow.endpoint_id == row.id)
    )
    if (count or 0) >= MAX_RULES_PER_ENDPOINT:
        raise ConflictError(
            f"endpoint {endpoint!r} has {MAX_RULES_PER_ENDPOINT} alert rules already: "
            "delete one first",
            field="endpoint",
        )
    rule = AlertRuleRow(
        project_id=project.id,
        endpoint_id=row.id,
        name=data.name,
        figure=data.figure,
        variant=data.variant,
        op=data.op,
        threshold=float(data.threshold),
        window_seconds=data.window_seconds,
        for_seconds=data.for_seconds,
        severity=data.severity,
        webhook_encrypted=seal_webhook(box, data.webhook),
        enabled=data.enabled,
        created_by_id=actor.id,
    )
    session.add(rule)
    audit.record(
        session,
        "alert_rule.created",
        actor=actor.username,
        target=_target(project, row, rule),
        figure=data.figure,
    )
    session.commit()
    return rule, project


def list_rules(
    session: Session, actor: Actor, slug: str, endpoint: str | None = None
) -> tuple[list[AlertRuleRow], ProjectRow]:
    """The rules of one endpoint, or of every endpoint of the project."""
    project = get_project(session, actor, slug)
    query = select(AlertRuleRow).where(AlertRuleRow.project_id == project.id)
    if endpoint is not None:
        row, _ = get_endpoint(session, actor, slug, endpoint)
        query = query.where(AlertRuleRow.endpoint_id == row.id)
    rules = session.scalars(query.order_by(AlertRuleRow.endpoint_id, AlertRuleRow.id)).all()
    return list(rules), project


def get_rule(
    session: Session,
    actor: Actor,
    slug: str,
    endpoint: str,
    rule_id: int,
    *,
    min_role: Role = Role.viewer,
) -> tuple[AlertRuleRow, EndpointRow, ProjectRow]:
    row, project = get_endpoint(session, actor, slug, endpoint, min_role=min_role)
    rule = session.get(AlertRuleRow, rule_id)
    if rule is None or rule.endpoint_id != row.id:
        raise NotFoundError(f"endpoint {endpoint!r} has no alert rule {rule_id}", field="rule")
    return rule, row, project


def _resolve_open(session: Session, rule: AlertRuleRow, message: str) -> None:
    alerts = session.scalars(
        select(AlertRow).where(AlertRow.rule_id == rule.id, AlertRow.state.in_(OPEN_STATES))
    ).all()
    for alert in alerts:
        alert.state, alert.resolved_at = "resolved", utcnow()
        alert.message = f"{alert.message} · {message}" if alert.message else message
    rule.pending_since = None


def update_rule(
    session: Session,
    actor: Actor,
    box: Sealer,
    slug: str,
    endpoint: str,
    rule_id: int,
    data: AlertRuleUpdate,
) -> tuple[AlertRuleRow, ProjectRow]:
    """Change a rule; one whose condition changes (or that is disabled) starts over: its open
    alerts resolve."""
    rule, row, project = get_rule(session, actor, slug, endpoint, rule_id, min_role=Role.editor)
    changes = data.model_dump(exclude_none=True)
    webhook = changes.pop("webhook", None)
    if webhook is not None:
        rule.webhook_encrypted = seal_webhook(box, webhook)
    if "threshold" in changes:
        changes["threshold"] = float(changes["threshold"])
    condition = {"op", "threshold", "window_seconds", "for_seconds", "enabled"}
    restart = any(getattr(rule, k) != v for k, v in changes.items() if k in condition)
    for field, value in changes.items():
        setattr(rule, field, value)
    if restart:
        _resolve_open(session, rule, "rule changed")
    audit.record(
        session,
        "alert_rule.updated",
        actor=actor.username,
        target=_target(project, row, rule),
        webhook_changed=webhook is not None,
        **changes,
    )
    session.commit()
    return rule, project


def delete_rule(session: Session, actor: Actor, slug: str, endpoint: str, rule_id: int) -> None:
    """Delete a rule and the history of its alerts."""
    rule, row, project = get_rule(session, actor, slug, endpoint, rule_id, min_role=Role.editor)
    audit.record(
        session, "alert_rule.deleted", actor=actor.username, target=_target(project, row, rule)
    )
    for alert in session.scalars(select(AlertRow).where(AlertRow.rule_id == rule.id)).all():
        session.delete(alert)
    session.delete(rule)
    session.commit()


# --- alerts --------------------------------------------------------------------------------


def list_alerts(
    session: Session,
    actor: Actor,
    slug: str,
    *,
    state: AlertState | None = None,
    endpoint: str | None = None,
    limit: int = MAX_ALERTS,
) -> tuple[list[AlertRow], ProjectRow]:
    """The project's alerts, newest first, resolved ones included (their history)."""
    project = get_project(session, actor, slug)
    query = (
        select(AlertRow)
        .join(AlertRuleRow, AlertRuleRow.id == AlertRow.rule_id)
        .where(AlertRuleRow.project_id == project.id)
    )
    if state is not None:
        query = query.where(AlertRow.state == state)
    if endpoint is not None:
        row = find_endpoint(session, project, endpoint)
        if row is None:
            raise NotFoundError(f"no endpoint {endpoint!r} in project {slug!r}", field="endpoint")
        query = query.where(AlertRow.endpoint_id == row.id)
    rows = session.scalars(
        query.order_by(AlertRow.started_at.desc(), AlertRow.id.desc()).limit(limit)
    ).all()
    return list(rows), project


def _alert(session: Session, actor: Actor, slug: str, alert_id: int) -> tuple[AlertRow, ProjectRow]:
    project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
    alert = session.get(AlertRow, alert_id)
    rule = session.get(AlertRuleRow, alert.rule_id) if alert is not None else None
    if alert is None or rule is None or rule.project_id != project.id:
        raise NotFoundError(f"project {slug!r} has no alert {alert_id}", field="alert")
    return alert, project


def acknowledge_alert(
    session: Session, actor: Actor, slug: str, alert_id: int
) -> tuple[AlertRow, ProjectRow]:
    """Someone is on it: the alert stays open until its figure recovers or it is resolved."""
    alert, project = _alert(session, actor, slug, alert_id)
    if alert.state == "resolved":
        raise ConflictError(f"alert {alert_id} is resolved already", field="alert")
    if alert.state == "firing":
        alert.state, alert.acknowledged_at = "acknowledged", utcnow()
        alert.acknowledged_by_id = actor.id
        audit.record(
            session, "alert.acknowledged", actor=actor.username, target=f"{slug}/{alert_id}"
        )
        session.commit()
    return alert, project


def resolve_alert(
    session: Session, actor: Actor, slug: str, alert_id: int
) -> tuple[AlertRow, ProjectRow]:
    alert, project = _alert(session, actor, slug, alert_id)
    if alert.state != "resolved":
        alert.state, alert.resolved_at = "resolved", utcnow()
        alert.message = f"{alert.message} · resolved by {actor.username}"
        rule = session.get(AlertRuleRow, alert.rule_id)
        if rule is not None:
            rule.pending_since = None
        audit.record(session, "alert.resolved", actor=actor.username, target=f"{slug}/{alert_id}")
        session.commit()
    return alert, project


def health_of(session: Session, endpoint_ids: Collection[int]) -> dict[int, str]:
    """Per endpoint: "alerting" with an open critical alert, "warning" with an open warning
    alert, else "ok". The caller has checked access to the endpoints."""
    health = dict.fromkeys(endpoint_ids, "ok")
    if not endpoint_ids:
        return health
    rows = session.execute(
        select(AlertRow.endpoint_id, AlertRow.severity)
        .where(AlertRow.endpoint_id.in_(list(endpoint_ids)), AlertRow.state.in_(OPEN_STATES))
        .distinct()
    ).all()
    for endpoint_id, severity in rows:
        if severity == "critical":
            health[endpoint_id] = "alerting"
        elif health[endpoint_id] == "ok":
            health[endpoint_id] = "warning"
    return health


# --- descriptions --------------------------------------------------------------------------


def _endpoint_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(EndpointRow.id, EndpointRow.name).where(EndpointRow.id.in_(list(ids)))
    ).all()
    return {i: name for i, name in rows}


def describe_rules(
    session: Session, box: Sealer, project: ProjectRow, rules: Sequence[AlertRuleRow]
) -> list[AlertRulePublic]:
    names = _endpoint_names(session, {r.endpoint_id for r in rules})
    users = usernames_by_id(session, [r.created_by_id for r in rules])
    described = []
    for r in rules:
        url = open_webhook(box, r.webhook_encrypted)
        described.append(
            AlertRulePublic(
                id=r.id,
                project=project.slug,
                endpoint=names.get(r.endpoint_id, ""),
                name=r.name,
                figure=r.figure,
                variant=r.variant,
                op=r.op,
                threshold=r.threshold,
                window_seconds=r.window_seconds,
                for_seconds=r.for_seconds,
                severity=r.severity,
                enabled=r.enabled,
                webhook_set=bool(r.webhook_encrypted),
                webhook_host=webhook_host(url) if url else None,
                pending_since=r.pending_since,
                created_by=users.get(r.created_by_id) if r.created_by_id else None,
                created_at=r.created_at,
            )
        )
    return described


def describe_alerts(
    session: Session, project: ProjectRow, alerts: Sequence[AlertRow]
) -> list[AlertPublic]:
    rules = {
        r.id: r
        for r in session.scalars(
            select(AlertRuleRow).where(AlertRuleRow.id.in_({a.rule_id for a in alerts}))
        ).all()
    }
    names = _endpoint_names(session, {a.endpoint_id for a in alerts})
    users = usernames_by_id(session, [a.acknowledged_by_id for a in alerts])
    described = []
    for a in alerts:
        rule = rules.get(a.rule_id)
        described.append(
            AlertPublic(
                id=a.id,
                rule_id=a.rule_id,
                rule=rule.name if rule else "",
                figure=rule.figure if rule else "",
                project=project.slug,
                endpoint=names.get(a.endpoint_id, ""),
                state=a.state,  # type: ignore[arg-type]
                severity=a.severity,
                value=a.value,
                last_value=a.last_value,
                message=a.message,
                started_at=a.started_at,
                acknowledged_at=a.acknowledged_at,
                acknowledged_by=users.get(a.acknowledged_by_id) if a.acknowledged_by_id else None,
                resolved_at=a.resolved_at,
                webhook_status=a.webhook_status,
            )
        )
    return described


def open_counts(session: Session, project_id: int) -> dict[str, int]:
    """Open alerts of a project by severity."""
    rows = session.execute(
        select(AlertRow.severity, func.count())
        .join(AlertRuleRow, AlertRuleRow.id == AlertRow.rule_id)
        .where(AlertRuleRow.project_id == project_id, AlertRow.state.in_(OPEN_STATES))
        .group_by(AlertRow.severity)
    ).all()
    found: dict[str, int] = defaultdict(int)
    for severity, count in rows:
        found[severity] += count
    return dict(found)
