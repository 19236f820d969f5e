"""What the endpoints API answers, as the SDK hands it back: small frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelyard.errors import NotFoundError


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Variant:
    """One model version (fixed, or following an alias) behind an endpoint, with its weight.

    `version` is the version served now (an alias resolved); `share` is its part of live
    traffic (0..1); a shadow variant gets a copy of every request and no share.
    """

    name: str
    model: str
    version: int | None
    alias: str | None
    commit: str | None
    code_ref: str
    weight: float
    share: float
    mode: str
    batching: bool
    max_wait_ms: float
    max_batch_size: int

    @property
    def ref(self) -> str:
        """`model@alias` or `model@3`, as `modelyard deploy` takes it."""
        return f"{self.model}@{self.alias or self.version}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Variant:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Replica:
    id: str
    pid: int | None
    state: str  # starting, ready or exited
    started_at: datetime
    restarts: int
    inflight: int
    spec_version: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Replica:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "started_at": datetime.fromisoformat(data["started_at"])})


@dataclass(frozen=True)
class Endpoint:
    """An endpoint: a stable URL in a project serving one or more variants.

    `state` is what was asked (running or stopped); `status` is what is true now:
    running, starting, degraded (fewer ready replicas than its minimum) or stopped.
    `variants` are in the order they were added.
    """

    name: str
    project: str
    description: str
    state: str
    status: str
    public: bool
    url: str
    port: int | None
    min_replicas: int
    max_replicas: int
    target_inflight: float
    variants: list[Variant]
    replicas: list[Replica]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise NotFoundError(f"endpoint {self.name!r} has no variant {name!r}", field="variant")

    @property
    def weights(self) -> dict[str, float]:
        """Live variants' weights, as `split` takes them."""
        return {v.name: v.weight for v in self.variants if v.mode == "live"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(
            **{
                **values,
                "variants": [Variant.from_json(v) for v in data["variants"]],
                "replicas": [Replica.from_json(r) for r in data["replicas"]],
                "created_at": datetime.fromisoformat(data["created_at"]),
                "updated_at": datetime.fromisoformat(data["updated_at"]),
            }
        )


@dataclass(frozen=True)
class EndpointKey:
    """An API key for an endpoint's prediction traffic. `token` is set only in the answer
    to `keys.create`: the server keeps a hash and cannot show it again."""

    id: int
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointKey:
        return cls(
            id=data["id"],
            name=data["name"],
            prefix=data["prefix"],
            created_by=data["created_by"],
            created_at=datetime.fromisoformat(data["created_at"]),
            revoked_at=_when(data["revoked_at"]),
            token=data.get("token"),
        )


@dataclass(frozen=True)
class Event:
    """Something the supervisor did to an endpoint: start, stop, restart, scale."""

    kind: str
    replicas_before: int
    replicas_after: int
    message: str
    at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "at": datetime.fromisoformat(data["at"])})


@dataclass(frozen=True)
class Prediction:
    """An endpoint's answer. `outputs` is one prediction for one record, a list for a
    batch; `prediction_ids` has one id per record (quote them when sending feedback)."""

    outputs: Any
    prediction_ids: list[str]
    variant: str

    @property
    def prediction_id(self) -> str:
        return self.prediction_ids[0]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        ids = data.get("prediction_ids") or [data["prediction_id"]]
        return cls(outputs=data["outputs"], prediction_ids=list(ids), variant=data["variant"])


@dataclass(frozen=True)
class LoggedPrediction:
    """A prediction as the endpoint logged it (shadow variants' included)."""

    prediction_id: str
    at: datetime
    variant: str
    shadow: bool
    inputs: Any
    outputs: Any
    latency_ms: float
    key: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoggedPrediction:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "at": datetime.fromisoformat(data["at"])})
