"""One evaluation pass over the enabled alert rules.

Each rule's figure is computed over its last `window_seconds` by a *source*: a function
answering a dict of figures for (endpoint, variant, window, now); `Providers` maps every
figure name to the source that computes it, and a pass calls each source once per
(endpoint, variant, window). The serving figures come from the endpoint's telemetry; the
online ones from `modelyard.online.service.quality_figures`, imported when a pass starts
(while that capability is absent, its figures are unavailable).

The condition holds from the first pass that sees it (`pending_since`); once it has held
for `for_seconds` an alert fires. When it stops holding, the open (firing or acknowledged)
alert resolves. A figure that is None (no traffic, no labels yet, no source) neither fires
nor resolves: an open alert stays open with its last value, and a pending condition starts
over.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.monitoring.schemas import ONLINE_FIGURES
from modelyard.monitoring.service import OPEN_STATES
from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from modelyard.online.service import quality_figures
from modelyard.serving.schemas import ReplicaPublic
from modelyard.serving.service import EndpointRow, endpoint_metrics, variants_of

logger = logging.getLogger(__name__)

Figures = Mapping[str, float | None]
Source = Callable[[Session, EndpointRow, str | None, int, float], Figures]
Providers = Mapping[str, Source]
ReplicasOf = Callable[[int], list[ReplicaPublic]]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Transition:
    """An alert that fired or resolved in a pass: what its webhook is told."""

    alert_id: int
    rule_id: int
    state: str  # firing | resolved


def serving_source(replicas_of: ReplicasOf | None = None) -> Source:
    """Latency, errors and traffic of the endpoint's live requests over the window (a
    variant's own requests when the rule names one, plus those no variant answered); and
    its ready replicas now, from `replicas_of` (None while the endpoint is stopped)."""

    def figures(
        session: Session, endpoint: EndpointRow, variant: str | None, window: int, now: float
    ) -> Figures:
        variants = variants_of(session, [endpoint.id])[endpoint.id]
        if variant is None:
            others = {v.name for v in variants if v.mode == "shadow"}
        else:
            others = {v.name for v in variants if v.name != variant}
        series = endpoint_metrics(
            session, endpoint.id, window, window, frozenset(others), now=now
        ).series
        ready: float | None = None
        if replicas_of is not None and endpoint.state == "running":
            ready = float(sum(1 for r in replicas_of(endpoint.id) if r.state == "ready"))
        return {
            "latency_p99_ms": series.p99_ms[-1],
            "error_rate": series.error_rate[-1],
            "requests_per_second": series.requests_per_second[-1],
            "replicas_ready": ready,
        }

    return figures


def online_source() -> Source:
    """Accuracy, labels, learner lag and drift, from the online capability."""

    def figures(
        session: Session, endpoint: EndpointRow, variant: str | None, window: int, now: float
    ) -> Figures:
        found: Figures = quality_figures(session, endpoint.id, variant, float(window), now=now)
        return found

    return figures


def default_providers(replicas_of: ReplicasOf | None = None) -> dict[str, Source]:
    serving = serving_source(replicas_of)
    providers: dict[str, Source] = dict.fromkeys(
        ("latency_p99_ms", "error_rate", "requests_per_second", "replicas_ready"), serving
    )
    providers.update(dict.fromkeys(ONLINE_FIGURES, online_source()))
    return providers


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def describe_condition(rule: AlertRuleRow, value: float) -> str:
    of = f" of {rule.variant}" if rule.variant else ""
    held = f", for {rule.for_seconds} s" if rule.for_seconds else ""
    return (
        f"{rule.figure}{of} is {value:.4g} ({rule.op} {rule.threshold:g}) "
        f"over the last {rule.window_seconds} s{held}"
    )


class _Figures:
    """Each source called once per (endpoint, variant, window) in a pass."""

    def __init__(self, session: Session, providers: Providers, now: float) -> None:
        self.session, self.providers, self.now = session, providers, now
        self.cache: dict[tuple[int, int, str | None, int], Figures] = {}

    def value(self, rule: AlertRuleRow, endpoint: EndpointRow) -> float | None:
        source = self.providers.get(rule.figure)
        if source is None:
            return None
        key = (id(source), endpoint.id, rule.variant, rule.window_seconds)
        if key not in self.cache:
            try:
                self.cache[key] = source(
                    self.session, endpoint, rule.variant, rule.window_seconds, self.now
                )
            except Exception:
                logger.exception("alert figures of endpoint %s failed", endpoint.id)
                self.cache[key] = {}
        value = self.cache[key].get(rule.figure)
        return None if value is None else float(value)


def evaluate(session: Session, providers: Providers, now: float | None = None) -> list[Transition]:
    """Evaluate every enabled rule at `now` (default: the clock), commit, and answer the
    alerts that fired or resolved."""
    now = time.time() if now is None else now
    rules = session.scalars(
        select(AlertRuleRow).where(AlertRuleRow.enabled.is_(True)).order_by(AlertRuleRow.id)
    ).all()
    if not rules:
        return []
    rule_ids = [r.id for r in rules]
    open_alerts = {
        a.rule_id: a
        for a in session.scalars(
            select(AlertRow)
            .where(AlertRow.rule_id.in_(rule_ids), AlertRow.state.in_(OPEN_STATES))
            .order_by(AlertRow.id)
        ).all()
    }
    endpoints = {
        e.id: e
        for e in session.scalars(
            select(EndpointRow).where(EndpointRow.id.in_({r.endpoint_id for r in rules}))
        ).all()
    }
    figures = _Figures(session, providers, now)
    fired: list[AlertRow] = []
    transitions: list[Transition] = []
    for rule in rules:
        endpoint = endpoints.get(rule.endpoint_id)
        value = figures.value(rule, endpoint) if endpoint is not None else None
        alert = open_alerts.get(rule.id)
        if value is None:
            rule.pending_since = None
            continue
        if alert is not None:
            alert.last_value = value
        if COMPARE[rule.op](value, rule.threshold):
            if rule.pending_since is None:
                rule.pending_since = now
            if alert is None and now - rule.pending_since >= rule.for_seconds:
                alert = AlertRow(
                    rule_id=rule.id,
                    endpoint_id=rule.endpoint_id,
                    state="firing",
                    severity=rule.severity,
                    value=value,
                    last_value=value,
                    message=describe_condition(rule, value),
                    started_at=_at(now),
                )
                session.add(alert)
                fired.append(alert)
        else:
            rule.pending_since = None
            if alert is not None:
                alert.state, alert.resolved_at = "resolved", _at(now)
                transitions.append(Transition(alert.id, rule.id, "resolved"))
    session.flush()
    transitions.extend(Transition(a.id, a.rule_id, "firing") for a in fired)
    session.commit()
    return transitions
