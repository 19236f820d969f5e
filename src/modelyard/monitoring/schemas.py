"""Request and response shapes of alert rules and the alerts they raise.

A rule's webhook URL is write-only: requests may carry it, responses only say whether one
is set and on which host (the URL may hold a token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from modelyard.accounts.schemas import Strict
from modelyard.serving.schemas import VariantName

SERVING_FIGURES = ("latency_p99_ms", "error_rate", "requests_per_second", "replicas_ready")
ONLINE_FIGURES = (
    "accuracy",
    "baseline_accuracy",
    "accuracy_vs_baseline",
    "mae",
    "rmse",
    "label_coverage",
    "label_delay_seconds",
    "learner_lag_seconds",
    "learner_lag_events",
    "error_drifts",
    "drifted_features",
)
FIGURES = SERVING_FIGURES + ONLINE_FIGURES
Figure = Literal[
    "latency_p99_ms",
    "error_rate",
    "requests_per_second",
    "replicas_ready",
    "accuracy",
    "baseline_accuracy",
    "accuracy_vs_baseline",
    "mae",
    "rmse",
    "label_coverage",
    "label_delay_seconds",
    "learner_lag_seconds",
    "learner_lag_events",
    "error_drifts",
    "drifted_features",
]
Op = Literal[">", ">=", "<", "<="]
Severity = Literal["warning", "critical"]
AlertState = Literal["firing", "acknowledged", "resolved"]
Health = Literal["ok", "warning", "alerting"]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Threshold = Annotated[StrictFloat, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
WindowSeconds = Annotated[StrictInt, Field(ge=10, le=7 * 86400)]
ForSeconds = Annotated[StrictInt, Field(ge=0, le=7 * 86400)]


def _check_webhook(url: str) -> str:
    if url == "":
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a webhook is an http:// or https:// URL with a host")
    return url


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(_check_webhook),
    Field(description="POSTed JSON on firing and resolving; stored encrypted, never shown"),
]


def webhook_host(url: str) -> str | None:
    """What pages and answers may show of a webhook: its host, never its path or query."""
    return urlsplit(url).hostname if url else None


class AlertRuleCreate(Strict):
    name: RuleName
    figure: Figure
    variant: VariantName | None = Field(
        default=None, description="one variant's figure; None: the endpoint's live traffic"
    )
    op: Op
    threshold: Threshold
    window_seconds: WindowSeconds = 300
    for_seconds: ForSeconds = 0
    severity: Severity = "warning"
    webhook: WebhookUrl = ""
    enabled: StrictBool = True


class AlertRuleUpdate(Strict):
    """Fields left out keep their value; `webhook: ""` removes the webhook."""

    name: RuleName | None = None
    op: Op | None = None
    threshold: Threshold | None = None
    window_seconds: WindowSeconds | None = None
    for_seconds: ForSeconds | None = None
    severity: Severity | None = None
    webhook: WebhookUrl | None = None
    enabled: StrictBool | None = None


class AlertRulePublic(BaseModel):
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
    pending_since: float | None
    created_by: str | None
    created_at: datetime


class AlertRuleList(BaseModel):
    items: list[AlertRulePublic]


class AlertPublic(BaseModel):
    id: int
    rule_id: int
    rule: str
    figure: str
    project: str
    endpoint: str
    state: AlertState
    severity: str
    value: float | None = Field(description="the figure when the alert fired")
    last_value: float | None = Field(description="the figure at the latest evaluation")
    message: str
    started_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    webhook_status: str


class AlertList(BaseModel):
    items: list[AlertPublic]
