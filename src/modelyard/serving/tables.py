from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.db import Base, UTCDateTime, utcnow


class EndpointRow(Base):
    """A stable name and URL in a project. `state` is the desired state; the supervisor
    makes the processes match it."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="stopped")  # running, stopped
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    min_replicas: Mapped[int] = mapped_column(Integer, default=1)
    max_replicas: Mapped[int] = mapped_column(Integer, default=1)
    target_inflight: Mapped[float] = mapped_column(Float, default=4.0)
    port: Mapped[int | None] = mapped_column(Integer, default=None)  # kept across restarts
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VariantRow(Base):
    """A model version (fixed, or following an alias) + the project's code at a commit."""

    __tablename__ = "endpoint_variants"
    __table_args__ = (UniqueConstraint("endpoint_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    alias: Mapped[str | None] = mapped_column(String(64), default=None)
    code_ref: Mapped[str] = mapped_column(String(250), default="")
    code_commit: Mapped[str | None] = mapped_column(String(40), default=None)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    mode: Mapped[str] = mapped_column(String(16), default="live")  # live, shadow
    batching: Mapped[bool] = mapped_column(Boolean, default=True)
    max_wait_ms: Mapped[float] = mapped_column(Float, default=2.0)
    max_batch_size: Mapped[int] = mapped_column(Integer, default=64)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EndpointKeyRow(Base):
    """An API key for prediction traffic; only its SHA-256 is kept."""

    __tablename__ = "endpoint_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class TrafficChangeRow(Base):
    """Every split an endpoint had, so a rollback can put the previous one back."""

    __tablename__ = "endpoint_traffic_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EndpointEventRow(Base):
    """What the supervisor did: started, stopped, restarted a replica, scaled up or down."""

    __tablename__ = "endpoint_events"
    __table_args__ = (Index("ix_endpoint_events_endpoint_at", "endpoint_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # scale_up scale_down restart start stop
    replicas_before: Mapped[int] = mapped_column(Integer, default=0)
    replicas_after: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TelemetryRow(Base):
    """Requests one variant answered with one status in one second, from one replica."""

    __tablename__ = "endpoint_telemetry"
    __table_args__ = (Index("ix_endpoint_telemetry_endpoint_ts", "endpoint_id", "ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(Integer)  # unix second the window ended in
    variant: Mapped[str] = mapped_column(String(64))
    code: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)
    buckets: Mapped[list[int]] = mapped_column(JSON)


class ReplicaSampleRow(Base):
    """The pool's size and load once a second: the replicas chart and the autoscaler's view."""

    __tablename__ = "endpoint_replica_samples"
    __table_args__ = (Index("ix_endpoint_replica_samples_endpoint_ts", "endpoint_id", "ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(Integer)
    replicas: Mapped[int] = mapped_column(Integer)
    ready: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[float] = mapped_column(Float)


class PredictionRow(Base):
    """One logged prediction (one record of a request), live or shadow."""

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_endpoint_at", "endpoint_id", "at"),
        # a label's lookup: without it SQLite walks every prediction of the endpoint
        Index("ix_predictions_endpoint_prediction", "endpoint_id", "prediction_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # a shadow variant's answer to a request carries the live answer's id
    prediction_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    at: Mapped[float] = mapped_column(Float)  # unix seconds: cheap to write in bulk and to range
    variant: Mapped[str] = mapped_column(String(64))
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[object] = mapped_column(JSON)
    outputs: Mapped[object] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    key: Mapped[str | None] = mapped_column(String(200), default=None)
