"""`client.alerts`: rules on an endpoint's figures and the alerts they raise.

Example:
    >>> client = modelyard.connect()  # doctest: +SKIP
    >>> client.alerts.add_rule("churn", "churn", "errors", "error_rate", ">", 0.05,
    ...                        for_seconds=60, severity="critical")  # doctest: +SKIP
    >>> [a.message for a in client.alerts.list("churn", state="firing")]  # doctest: +SKIP
    >>> client.alerts.acknowledge("churn", 7)  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelyard.client.transport import Transport


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class AlertRule:
    """`figure op threshold` over the last `window_seconds`, held for `for_seconds`. The
    webhook URL is never sent back: only whether one is set and its host."""

    id: int
    project: str
    endpoint: str
    name: str
    figure: str
    variant: str | None
    op: str
    threshold: float
    window_seconds: int
    for_seconds: int
    severity: str
    enabled: bool
    webhook_set: bool
    webhook_host: str | None
    created_by: str | None
    created_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertRule:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "created_at": datetime.fromisoformat(data["created_at"])})


@dataclass(frozen=True)
class Alert:
    """One firing of a rule: `firing`, then maybe `acknowledged`, then `resolved`."""

    id: int
    rule_id: int
    rule: str
    figure: str
    project: str
    endpoint: str
    state: str
    severity: str
    value: float | None
    last_value: float | None
    message: str
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    webhook_status: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(
            **{
                **values,
                "started_at": datetime.fromisoformat(data["started_at"]),
                "acknowledged_at": _when(data["acknowledged_at"]),
                "resolved_at": _when(data["resolved_at"]),
            }
        )


def _rules(project: str, endpoint: str) -> str:
    return f"/api/v1/projects/{project}/endpoints/{endpoint}/alert-rules"


def _alerts(project: str) -> str:
    return f"/api/v1/projects/{project}/alerts"


class Alerts:
    """`client.alerts`: what needs attention on a project's endpoints.

    Example:
        >>> rule = client.alerts.add_rule("churn", "churn", "slow", "latency_p99_ms", ">", 250)  # doctest: +SKIP
        >>> client.alerts.rules("churn", "churn")  # doctest: +SKIP
        >>> client.alerts.remove_rule("churn", "churn", rule.id)  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(
        self, project: str, *, state: str | None = None, endpoint: str | None = None
    ) -> builtins.list[Alert]:
        """The project's alerts, newest first, resolved ones included unless `state` says
        otherwise (firing, acknowledged or resolved)."""
        params = {k: v for k, v in (("state", state), ("endpoint", endpoint)) if v}
        data = self._t.request("GET", _alerts(project), params=params)
        return [Alert.from_json(a) for a in data["items"]]

    def acknowledge(self, project: str, alert_id: int) -> Alert:
        """Say someone is on it; the alert stays open until its figure recovers."""
        data = self._t.request("POST", f"{_alerts(project)}/{alert_id}/acknowledge")
        return Alert.from_json(data)

    def resolve(self, project: str, alert_id: int) -> Alert:
        """Close an alert by hand; it fires again if its figure stays beyond the threshold."""
        return Alert.from_json(self._t.request("POST", f"{_alerts(project)}/{alert_id}/resolve"))

    def rules(self, project: str, endpoint: str) -> builtins.list[AlertRule]:
        """An endpoint's alert rules."""
        data = self._t.request("GET", _rules(project, endpoint))
        return [AlertRule.from_json(r) for r in data["items"]]

    def add_rule(
        self,
        project: str,
        endpoint: str,
        name: str,
        figure: str,
        op: str,
        threshold: float,
        *,
        variant: str | None = None,
        window_seconds: int = 300,
        for_seconds: int = 0,
        severity: str = "warning",
        webhook: str | None = None,
    ) -> AlertRule:
        """A rule firing when `figure op threshold` has held for `for_seconds`; `webhook`
        gets a JSON POST when an alert fires or resolves (it is stored encrypted)."""
        body: dict[str, Any] = {
            "name": name,
            "figure": figure,
            "op": op,
            "threshold": float(threshold),
            "variant": variant,
            "window_seconds": window_seconds,
            "for_seconds": for_seconds,
            "severity": severity,
        }
        if webhook:
            body["webhook"] = webhook
        return AlertRule.from_json(self._t.request("POST", _rules(project, endpoint), json=body))

    def update_rule(self, project: str, endpoint: str, rule_id: int, **changes: Any) -> AlertRule:
        """Change a rule's fields (name, op, threshold, window_seconds, for_seconds, severity,
        webhook, enabled); `webhook=""` removes the webhook."""
        path = f"{_rules(project, endpoint)}/{rule_id}"
        return AlertRule.from_json(self._t.request("PATCH", path, json=changes))

    def remove_rule(self, project: str, endpoint: str, rule_id: int) -> None:
        """Delete a rule and the history of its alerts."""
        self._t.request("DELETE", f"{_rules(project, endpoint)}/{rule_id}")
