"""Request and response shapes of feedback, learners and model quality."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt

from modelyard.accounts.schemas import Strict
from modelyard.online.drift_schemas import DriftSeries, FeatureDrift


class FeedbackAnswer(BaseModel):
    accepted: int = Field(description="labels stored")
    duplicates: int = Field(description="labels ignored: the prediction already had one")
    late: int = Field(description="labels stored and scored, not learned from (too late)")


class LearnerPublic(BaseModel):
    variant: str
    state: str = Field(description="learning, paused, starting, stopped (endpoint stopped)")
    paused: bool
    cursor: int = Field(description="the last label in the published state")
    head: int = Field(description="the newest label of the endpoint")
    lag_events: int
    lag_seconds: float
    publications: int
    published_at: datetime | None
    learned: int
    scored: int
    skipped: int = Field(description="examples whose predict or learn raised")
    late: int
    prequential: dict[str, float | None] = Field(
        description="accuracy (classification) or mae/rmse (regression) since the start"
    )
    drifts: int
    checkpoint_version: int | None
    checkpointed_at: datetime | None
    serving: str = Field(description="registered version X, or learned state <sha> from it")
    error: str


class LearnerList(BaseModel):
    learners: list[LearnerPublic]


class CheckpointAnswer(BaseModel):
    version: int = Field(description="the new model version holding the learned state")


class RollbackRequest(Strict):
    version: StrictInt = Field(ge=1, description="the model version to serve and learn on from now")


class QualitySeries(BaseModel):
    """One variant's figures per time step (None where the step had no labels)."""

    variant: str
    task: str
    accuracy: list[float | None]
    baseline: list[float | None]
    mae: list[float | None]
    rmse: list[float | None]
    labels: list[int]


class QualitySummary(BaseModel):
    variant: str
    task: str
    labels: int
    accuracy: float | None
    baseline_accuracy: float | None
    mae: float | None
    rmse: float | None
    baseline_mae: float | None
    baseline_rmse: float | None
    label_coverage: float | None = Field(description="share of the window's predictions labelled")
    label_delay_seconds: float | None
    late: int


class Comparison(BaseModel):
    """An A/B read-out: `challenger` minus `champion` on accuracy (or MAE), with a 95% CI."""

    champion: str
    challenger: str
    metric: str
    difference: float
    low: float
    high: float
    p_value: float
    significant: bool
    labels: tuple[int, int]


class LearnerSeries(BaseModel):
    variant: str
    lag_events: list[int | None]
    lag_seconds: list[float | None]
    accuracy: list[float | None] = Field(description="prequential, of the examples in each step")
    drifts: list[int]


class Marker(BaseModel):
    at: float
    kind: str  # drift checkpoint rollback paused resumed
    variant: str
    message: str


class EndpointQuality(BaseModel):
    window_seconds: int
    step_seconds: int
    duplicates: int = Field(description="labels ignored in the window: their prediction had one")
    times: list[float]
    summary: list[QualitySummary]
    series: list[QualitySeries]
    comparisons: list[Comparison]
    learners: list[LearnerSeries]
    markers: list[Marker]


class DriftReport(BaseModel):
    features: list[FeatureDrift]
    series: DriftSeries
