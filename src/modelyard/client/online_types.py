"""What the online learning API answers, as the SDK hands it back: small frozen dataclasses
(the calls are in `client/online.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelyard.errors import NotFoundError


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class FeedbackTotals:
    """What the server did with labels: `accepted` (stored; `late` of them only scored, not
    learned from, as they came too long after their prediction) and `duplicates` (ignored:
    the prediction had a label already — so sending a batch again is harmless)."""

    accepted: int = 0
    duplicates: int = 0
    late: int = 0

    def __add__(self, other: FeedbackTotals) -> FeedbackTotals:
        return FeedbackTotals(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.late + other.late,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedbackTotals:
        return cls(int(data["accepted"]), int(data["duplicates"]), int(data["late"]))


@dataclass(frozen=True)
class Learner:
    """The learner of one online variant.

    `state` is learning, paused, starting or stopped (the endpoint is stopped). `cursor` is
    the last label in the state the replicas serve, `head` the endpoint's newest label, so
    `lag_events` labels wait to be learned. `prequential` holds `accuracy` (classification)
    or `mae` and `rmse` (regression) of every example scored before it was learned.
    """

    variant: str
    state: str
    paused: bool
    cursor: int
    head: int
    lag_events: int
    lag_seconds: float
    publications: int
    published_at: datetime | None
    learned: int
    scored: int
    skipped: int
    late: int
    prequential: dict[str, float | None]
    drifts: int
    checkpoint_version: int | None
    checkpointed_at: datetime | None
    serving: str
    error: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Learner:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(
            **{
                **values,
                "published_at": _when(data["published_at"]),
                "checkpointed_at": _when(data["checkpointed_at"]),
            }
        )


@dataclass(frozen=True)
class VariantQuality:
    """One variant's served predictions against their labels over the window, next to the
    trivial baseline (the majority class, or the mean label). Classification fills
    `accuracy` and `baseline_accuracy`; regression `mae`, `rmse` and their baselines.
    `label_coverage` is the share of the window's predictions labelled so far."""

    variant: str
    task: str
    labels: int
    accuracy: float | None
    baseline_accuracy: float | None
    mae: float | None
    rmse: float | None
    baseline_mae: float | None
    baseline_rmse: float | None
    label_coverage: float | None
    label_delay_seconds: float | None
    late: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VariantQuality:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Comparison:
    """An A/B read-out: `challenger` minus `champion` on `metric` (accuracy, or MAE where
    lower is better), with its 95% interval `low..high` and p-value."""

    champion: str
    challenger: str
    metric: str
    difference: float
    low: float
    high: float
    p_value: float
    significant: bool
    labels: tuple[int, int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "labels": (int(data["labels"][0]), int(data["labels"][1]))})


@dataclass(frozen=True)
class Quality:
    """Is the endpoint predicting correctly? `summary` per variant, `comparisons` of each
    variant against the heaviest live one; `times`, `series`, `learners` and `markers` are
    the API's per-step figures and timeline events, as JSON, for charts."""

    window_seconds: int
    step_seconds: int
    duplicates: int
    summary: list[VariantQuality]
    comparisons: list[Comparison]
    times: list[float]
    series: list[dict[str, Any]]
    learners: list[dict[str, Any]]
    markers: list[dict[str, Any]]

    def variant(self, name: str) -> VariantQuality:
        for summary in self.summary:
            if summary.variant == name:
                return summary
        raise NotFoundError(f"no quality figures for variant {name!r}", field="variant")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quality:
        return cls(
            window_seconds=data["window_seconds"],
            step_seconds=data["step_seconds"],
            duplicates=data["duplicates"],
            summary=[VariantQuality.from_json(s) for s in data["summary"]],
            comparisons=[Comparison.from_json(c) for c in data["comparisons"]],
            times=list(data["times"]),
            series=list(data["series"]),
            learners=list(data["learners"]),
            markers=list(data["markers"]),
        )


@dataclass(frozen=True)
class FeatureDrift:
    """One feature (or `__prediction__`) of live traffic against the reference: PSI, and a
    KS (numeric) or chi-squared (categorical) test. `judged` is false while too few live
    values were seen, and then `drifted` is false too."""

    feature: str
    kind: str
    prediction: bool
    psi: float
    test: str
    statistic: float
    p_value: float
    drifted: bool
    judged: bool
    live_count: int
    reference_count: int
    reference_id: int
    reference_source: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureDrift:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Drift:
    """Per-feature drift over the window, and `series` (the API's PSI per step, as JSON)."""

    features: list[FeatureDrift]
    series: dict[str, Any]

    @property
    def drifted(self) -> list[str]:
        """The features judged to have drifted."""
        return [f.feature for f in self.features if f.drifted]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Drift:
        return cls([FeatureDrift.from_json(f) for f in data["features"]], dict(data["series"]))
