"""The contract between the control plane and an endpoint's replica processes.

The control plane resolves an endpoint's desired state (variants, aliases, code commits,
keys) into an `EndpointSpec`: plain data with every model file and code folder already on
local disk. Replicas fetch it from the internal API, poll it for changes, and send back
`Telemetry` once a second. Both sides import only this module, so it holds no server code.

Internal API (the replica authenticates with its pool token as a Bearer token):
    GET  /internal/serving/endpoints/{id}/spec        If-None-Match: <version> -> 304 or spec
    POST /internal/serving/endpoints/{id}/telemetry   a `Telemetry` document
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Upper bounds (seconds) of the latency histogram's buckets, Prometheus style; the last
# bucket (+Inf) is implicit: counts carry len(LATENCY_BUCKETS) + 1 entries.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

TOKEN_ENV = "MODELYARD_REPLICA_TOKEN"  # the pool token, passed to replicas in the environment
MODEL_FILE = "model.pkl"  # inside a variant's model_dir, next to meta.json

Mode = Literal["live", "shadow"]


def key_hash(token: str) -> str:
    """How endpoint API keys are stored and compared: keys are random, so SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # number, integer, boolean, string, datetime, object


@dataclass(frozen=True)
class VariantSpec:
    name: str
    mode: Mode
    weight: float  # share of live traffic, relative to the other live variants
    model_name: str
    model_version: int
    flavor: str  # sklearn, river, custom
    model_dir: str  # holds MODEL_FILE (a pickle) and meta.json
    model_sha256: str
    signature: tuple[Feature, ...] = ()  # empty: inputs are passed through unchecked
    code_dir: str | None = None  # the project's files at `commit`, when they hold predict.py
    commit: str | None = None
    batching: bool = True  # micro-batch concurrent requests into one model call
    max_batch_size: int = 64
    max_wait_ms: float = 2.0


@dataclass(frozen=True)
class EndpointSpec:
    endpoint_id: int
    project: str
    name: str
    public: bool
    key_hashes: tuple[str, ...]
    variants: tuple[VariantSpec, ...]
    max_body_bytes: int = 1024 * 1024
    max_batch_records: int = 1000
    version: str = field(default="")  # content hash; filled by `build`

    @classmethod
    def build(cls, **values: Any) -> EndpointSpec:
        draft = cls(**values)
        return cls(**{**values, "version": _digest(draft)})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointSpec:
        variants = tuple(
            VariantSpec(
                **{
                    **v,
                    "signature": tuple(Feature(**f) for f in v.get("signature", ())),
                }
            )
            for v in data["variants"]
        )
        return cls(
            **{
                **data,
                "key_hashes": tuple(data.get("key_hashes", ())),
                "variants": variants,
            }
        )

    @property
    def live(self) -> tuple[VariantSpec, ...]:
        return tuple(v for v in self.variants if v.mode == "live" and v.weight > 0)

    @property
    def shadows(self) -> tuple[VariantSpec, ...]:
        return tuple(v for v in self.variants if v.mode == "shadow")


def _digest(spec: EndpointSpec) -> str:
    body = {k: v for k, v in asdict(spec).items() if k != "version"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


# --- telemetry: what a replica sends once a second -------------------------------------


@dataclass
class VariantStats:
    """Requests answered by one variant with one HTTP status in the window."""

    variant: str  # "" for requests rejected before routing (401, 4xx on the body)
    code: int
    count: int = 0
    latency_sum: float = 0.0  # seconds
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))


@dataclass
class PredictionLog:
    id: str
    at: float  # unix seconds
    variant: str
    shadow: bool
    inputs: Any
    outputs: Any
    latency_ms: float
    key: str | None = None


@dataclass
class Telemetry:
    replica: str  # the replica's id given by the supervisor
    pid: int
    ready: bool
    spec_version: str
    inflight: int  # requests in progress when the report was made
    concurrency: float  # average in-flight requests over the window (sum of latencies / window)
    window_seconds: float
    stats: list[VariantStats] = field(default_factory=list)
    predictions: list[PredictionLog] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Telemetry:
        return cls(
            **{
                **data,
                "stats": [VariantStats(**s) for s in data.get("stats", ())],
                "predictions": [PredictionLog(**p) for p in data.get("predictions", ())],
            }
        )
