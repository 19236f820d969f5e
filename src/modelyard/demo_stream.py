"""The demo's ground truth: whether a customer the `churn` endpoint scored really churned.

The retention team's outcomes arrive a few seconds after each prediction, as labels sent to
`/serve/{project}/churn/feedback`. For the first `DRIFT_AFTER_SECONDS` of a demo they follow
the warehouse's own rule (month-to-month contracts, short tenure, high bills and many
support calls churn); then a competitor's offer changes who leaves: high bills now matter
much more and support calls stop predicting churn. The dashboard shows accuracy falling at
that moment, the champion's drift detector firing and the online champion recovering, while
the challenger, whose learning is paused (a frozen copy), stays behind.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

DRIFT_AFTER_SECONDS = 300.0
CONTRACT_RISK = {"month-to-month": 0.0, "one-year": 1.3, "two-year": 2.6}
LABEL_DELAY_SECONDS = (1.0, 6.0)


def churned(inputs: dict[str, Any], drifted: bool) -> bool:
    """The outcome for one customer, before or after the drift (deterministic, so a model
    can learn each concept well and the drop at the drift is plain to see)."""
    contract = CONTRACT_RISK.get(str(inputs.get("contract")), 1.3)
    tenure = float(inputs.get("tenure_months", 0.0))
    charges = float(inputs.get("monthly_charges", 0.0))
    calls = float(inputs.get("support_calls", 0.0))
    if not drifted:
        logit = 0.2 - contract - 0.045 * tenure + 0.018 * (charges - 70) + 0.45 * calls
    else:
        logit = 1.0 - 0.5 * contract - 0.02 * tenure + 0.06 * (charges - 70) - 0.3 * calls
    return logit > 0


@dataclass
class Outcomes:
    """Labels waiting for their (simulated) delay to pass, soonest first."""

    started: float
    rng: random.Random = field(default_factory=lambda: random.Random(5))
    _due: list[tuple[float, str, bool]] = field(default_factory=list)

    def drifted(self, now: float) -> bool:
        return now - self.started >= DRIFT_AFTER_SECONDS

    def observe(self, now: float, prediction_id: str, inputs: dict[str, Any]) -> None:
        label = churned(inputs, self.drifted(now))
        heapq.heappush(
            self._due, (now + self.rng.uniform(*LABEL_DELAY_SECONDS), prediction_id, label)
        )

    def ready(self, now: float) -> list[dict[str, Any]]:
        out = []
        while self._due and self._due[0][0] <= now:
            _, prediction_id, label = heapq.heappop(self._due)
            out.append({"prediction_id": prediction_id, "label": label})
        return out
