"""The alerts' background thread: an evaluation pass every `alerts_interval_seconds`, then
the webhooks of the alerts that fired or resolved, each with a short timeout, outside the
pass's transaction. Built by `create_app`, started and stopped by its lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy.orm import Session

from modelyard.monitoring import service
from modelyard.monitoring.evaluator import (
    Providers,
    ReplicasOf,
    Transition,
    default_providers,
    evaluate,
)
from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from modelyard.monitoring.webhooks import Sealer, deliver
from modelyard.projects.service import ProjectRow

logger = logging.getLogger(__name__)


def payload_of(session: Session, box: Sealer, alert: AlertRow, state: str) -> dict[str, Any]:
    """What a webhook receives: the alert and its rule as the API shows them (the rule
    without its webhook), the endpoint's and project's names, and the new state."""
    rule = session.get(AlertRuleRow, alert.rule_id)
    project = session.get(ProjectRow, rule.project_id) if rule is not None else None
    if rule is None or project is None:
        raise LookupError(f"alert {alert.id} lost its rule or project")
    described = service.describe_alerts(session, project, [alert])[0]
    rule_public = service.describe_rules(session, box, project, [rule])[0]
    return {
        "alert": described.model_dump(mode="json"),
        "rule": rule_public.model_dump(mode="json"),
        "endpoint": described.endpoint,
        "project": project.slug,
        "state": state,
    }


def notify(
    session: Session,
    box: Sealer,
    transitions: Sequence[Transition],
    *,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Send each transition to its rule's webhook and record the outcome on the alert."""
    for change in transitions:
        alert = session.get(AlertRow, change.alert_id)
        rule = session.get(AlertRuleRow, change.rule_id)
        if alert is None or rule is None or not rule.webhook_encrypted:
            continue
        payload = payload_of(session, box, alert, change.state)
        session.commit()  # no transaction stays open while the webhook answers
        status = deliver(box, rule.webhook_encrypted, payload, transport=transport)
        alert.webhook_status = f"{change.state}: {status}"[:200]
        session.commit()


class AlertsLoop:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        box: Sealer,
        interval_seconds: float,
        *,
        replicas_of: ReplicasOf | None = None,
        providers: Providers | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.box = box
        self.interval = interval_seconds
        self.replicas_of = replicas_of
        self.providers = providers
        self.transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: float | None = None) -> list[Transition]:
        """One pass and its webhooks; answers what fired or resolved."""
        providers = self.providers or default_providers(self.replicas_of)
        with self.session_factory() as session:
            transitions = evaluate(session, providers, now)
            notify(session, self.box, transitions, transport=self.transport)
        return transitions

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # the next pass tries again; the loop must not die
                logger.exception("alert evaluation failed")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="modelyard-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
