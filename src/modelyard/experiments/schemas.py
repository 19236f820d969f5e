"""Request and response shapes of runs, params, metrics, tags and artifacts."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt, StringConstraints

from modelyard.accounts.schemas import Strict
from modelyard.data.schemas import RunInput
from modelyard.experiments.tables import KEY_LENGTH, PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH

Status = Literal["queued", "running", "finished", "failed", "killed"]
FINAL_STATUSES = frozenset({"finished", "failed", "killed"})
MAX_PARAMS_PER_RUN = 500
MAX_METRICS_PER_BATCH = 10_000
MAX_TAGS_PER_RUN = 200

Key = Annotated[
    str,
    StringConstraints(min_length=1, max_length=KEY_LENGTH, pattern=r"^[A-Za-z0-9_\-. /:]+$"),
    Field(description="1-250 characters: letters, digits, '_', '-', '.', ' ', '/', ':'"),
]
RunName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(value: object) -> object:
    """Metric values are numbers; JSON has no NaN or infinity, so those may come as strings."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool):
        raise ValueError("a metric value is a number, not a boolean")
    return value


MetricValue = Annotated[float, BeforeValidator(_number)]


def _param_text(value: object) -> object:
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    return value


ParamValue = Annotated[
    str, BeforeValidator(_param_text), StringConstraints(max_length=PARAM_VALUE_LENGTH)
]
TagValue = Annotated[
    str, BeforeValidator(_param_text), StringConstraints(max_length=TAG_VALUE_LENGTH)
]


def encode_number(value: float | None) -> float | str:
    """A metric value for JSON: finite numbers as they are, the rest as "NaN"/"Infinity"."""
    if value is None or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class RunCreate(Strict):
    name: RunName = ""
    params: dict[Key, ParamValue] = Field(default_factory=dict, max_length=MAX_PARAMS_PER_RUN)
    tags: dict[Key, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS_PER_RUN)
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")] | None = None
    dirty: StrictBool | None = None
    entrypoint: Annotated[str, StringConstraints(max_length=500)] = ""


class RunUpdate(Strict):
    name: RunName | None = None
    status: Literal["running", "finished", "failed", "killed"] | None = None
    error: Annotated[str, StringConstraints(max_length=20_000)] | None = None


class ParamsIn(Strict):
    params: dict[Key, ParamValue] = Field(max_length=MAX_PARAMS_PER_RUN)


class TagsIn(Strict):
    tags: dict[Key, TagValue] = Field(max_length=MAX_TAGS_PER_RUN)


class MetricIn(Strict):
    key: Key
    value: MetricValue
    step: Annotated[StrictInt, Field(ge=0, le=2**62)] = 0
    timestamp: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None  # ms; now if absent


class MetricsIn(Strict):
    metrics: list[MetricIn] = Field(max_length=MAX_METRICS_PER_BATCH)


class MetricsAccepted(BaseModel):
    accepted: int


class LatestMetric(BaseModel):
    key: str
    value: float | str
    step: int
    timestamp: int
    count: int


class MetricHistory(BaseModel):
    """A metric's points in step order, as columns (compact for long curves)."""

    run_id: int
    key: str
    steps: list[int]
    values: list[float | str]
    timestamps: list[int]


class ArtifactPublic(BaseModel):
    path: str
    size_bytes: int
    sha256: str
    created_at: datetime


class ModelOutput(BaseModel):
    model: str
    version: int


class RunPublic(BaseModel):
    id: int
    project: str
    name: str
    status: Status
    user: str | None
    source: str
    entrypoint: str
    arguments: list[str]
    commit: str | None
    dirty: bool | None
    error: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float | str]


class RunDetail(RunPublic):
    latest_metrics: list[LatestMetric]
    artifacts: list[ArtifactPublic]
    inputs: list[RunInput]
    models: list[ModelOutput]
    has_logs: bool


class RunList(BaseModel):
    items: list[RunPublic]
    total: int
    offset: int
    limit: int
    param_keys: list[str]
    metric_keys: list[str]


class RemoteRunCreate(Strict):
    entrypoint: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ] = Field(description="a Python file in the project's repository, e.g. train.py")
    ref: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "HEAD"
    arguments: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=list, max_length=100
    )
    name: RunName = ""


class LogChunk(BaseModel):
    text: str
    offset: int
    done: bool
    status: Status
