"""Request and response shapes of endpoints, variants, keys and their live figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StringConstraints

from modelyard.accounts.schemas import Strict
from modelyard.data.schemas import Name
from modelyard.projects.schemas import Description
from modelyard.registry.schemas import Alias

EndpointName = Name
VariantName = Alias
Mode = Literal["live", "shadow"]
State = Literal["running", "stopped"]
Weight = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1_000_000)]
ModelRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^([1-9][0-9]{0,8}|[a-z][a-z0-9_-]{0,63})$"),
    Field(description="a version number (3) or an alias (champion) to follow"),
]
CodeRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=250, pattern=r"^[A-Za-z0-9._/-]*$"),
    Field(description="branch, tag or commit whose predict.py serves; '' = the model's flavor"),
]
MAX_REPLICAS = 32


class EndpointCreate(Strict):
    name: EndpointName
    description: Description = ""
    public: StrictBool = False
    min_replicas: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICAS)] = 1
    max_replicas: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICAS)] | None = None
    target_inflight: Annotated[StrictInt | StrictFloat, Field(gt=0, le=10_000)] = 4.0


class EndpointUpdate(Strict):
    description: Description | None = None
    public: StrictBool | None = None
    min_replicas: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICAS)] | None = None
    max_replicas: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICAS)] | None = None
    target_inflight: Annotated[StrictInt | StrictFloat, Field(gt=0, le=10_000)] | None = None


class VariantCreate(Strict):
    name: VariantName
    model: Name
    version: ModelRef
    code: CodeRef | None = Field(
        default=None,
        description="None: the default branch when it holds predict.py, else the flavor's "
        "default predictor; '': always the flavor's default",
    )
    weight: Weight = 0
    mode: Mode = "live"
    batching: StrictBool | None = Field(
        default=None, description="None: on for flavors that vectorize (sklearn)"
    )
    max_wait_ms: Annotated[StrictInt | StrictFloat, Field(ge=0, le=100)] = 2.0
    max_batch_size: Annotated[StrictInt, Field(ge=1, le=10_000)] = 64


class DeployCreate(Strict):
    """One step from a registered version to traffic (see serving/deploys.py)."""

    model: Name
    version: ModelRef
    variant: VariantName | None = Field(
        default=None, description="default: the alias or vN, made unique on the endpoint"
    )
    weight: Weight | None = Field(
        default=None, description="default: 100 on an endpoint without traffic, else 0"
    )
    mode: Mode = "live"
    code: CodeRef | None = None


class VariantUpdate(Strict):
    version: ModelRef | None = None
    weight: Weight | None = None
    mode: Mode | None = None
    batching: StrictBool | None = None
    max_wait_ms: Annotated[StrictInt | StrictFloat, Field(ge=0, le=100)] | None = None
    max_batch_size: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None


class TrafficSet(Strict):
    weights: dict[VariantName, Weight] = Field(
        min_length=1, max_length=100, description="variant name -> weight; others get 0"
    )


class VariantPublic(BaseModel):
    name: str
    model: str
    version: int | None  # the version served now (an alias resolved)
    alias: str | None
    commit: str | None
    code_ref: str
    weight: float
    share: float  # of live traffic, 0..1
    mode: Mode
    batching: bool
    max_wait_ms: float
    max_batch_size: int


class ReplicaPublic(BaseModel):
    id: str
    pid: int | None
    state: Literal["starting", "ready", "exited"]
    started_at: datetime
    restarts: int
    inflight: int
    spec_version: str


class EventPublic(BaseModel):
    kind: str
    replicas_before: int
    replicas_after: int
    message: str
    at: datetime


class EndpointPublic(BaseModel):
    name: str
    project: str
    description: str
    state: State
    status: Literal["running", "starting", "degraded", "stopped"]
    public: bool
    url: str
    port: int | None
    min_replicas: int
    max_replicas: int
    target_inflight: float
    variants: list[VariantPublic]
    replicas: list[ReplicaPublic]
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class EndpointList(BaseModel):
    items: list[EndpointPublic]


class EventList(BaseModel):
    items: list[EventPublic]


class KeyCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class KeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    token: str = Field(description="shown once; send it as `Authorization: Bearer <token>`")


class KeyList(BaseModel):
    items: list[KeyPublic]


class Series(BaseModel):
    """Per-bucket figures over a time window, oldest first; None where nothing was served."""

    ts: list[int]
    requests_per_second: list[float]
    error_rate: list[float | None]
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    p99_ms: list[float | None]
    replicas: list[int | None]
    variant_rps: dict[str, list[float]]


class MetricsSummary(BaseModel):
    requests: int
    errors: int
    requests_per_second: float
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    variant_share: dict[str, float]


class EndpointMetrics(BaseModel):
    window_seconds: int
    step_seconds: int
    summary: MetricsSummary
    series: Series


class PredictionPublic(BaseModel):
    prediction_id: str
    at: datetime
    variant: str
    shadow: bool
    inputs: object
    outputs: object
    latency_ms: float
    key: str | None


class PredictionList(BaseModel):
    items: list[PredictionPublic]


class Deployment(BaseModel):
    """Where a model version serves: for the model pages."""

    project: str
    endpoint: str
    variant: str
    state: State
    version: int | None
    alias: str | None
    weight: float
    share: float
    mode: Mode


class DeployedPublic(BaseModel):
    endpoint: EndpointPublic
    variant: str
    created: bool
    started: bool
