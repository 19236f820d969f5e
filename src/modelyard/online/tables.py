"""Feedback, learners and the summaries model-quality monitoring reads.

Time columns that are written in bulk and read in ranges are unix seconds (float or int),
as in serving's telemetry; the rest are UTC datetimes."""

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

BigId = BigInteger().with_variant(Integer, "sqlite")


class FeedbackRow(Base):
    """One label for one logged prediction, joined at arrival: the row carries the
    prediction's inputs, served output and variant, so a learner reads one table in order
    (`id` is the stream's sequence) and pruning old prediction logs loses nothing."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "prediction_id"),
        Index("ix_feedback_endpoint_predicted", "endpoint_id", "predicted_at"),
        Index("ix_feedback_endpoint_id", "endpoint_id", "id"),  # a learner reads in order
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    prediction_id: Mapped[str] = mapped_column(String(40))
    variant: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[object] = mapped_column(JSON)
    output: Mapped[object] = mapped_column(JSON)
    label: Mapped[object] = mapped_column(JSON)
    predicted_at: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # scored, never learned


class QualityRow(Base):
    """Labels scored in one ingest batch, per variant: sums that add up over any window.

    Classification counts `correct` and the majority-class baseline's `base_correct`;
    regression sums absolute and squared errors of the model and of the running-mean
    baseline. `labels` counts classes (classification) for the window's label mix."""

    __tablename__ = "quality_seconds"
    __table_args__ = (Index("ix_quality_endpoint_ts", "endpoint_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(Integer)  # unix second the labels arrived
    variant: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(16))  # classification | regression
    count: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    correct: Mapped[int] = mapped_column(Integer, default=0)
    base_correct: Mapped[int] = mapped_column(Integer, default=0)
    abs_sum: Mapped[float] = mapped_column(Float, default=0.0)
    sq_sum: Mapped[float] = mapped_column(Float, default=0.0)
    base_abs_sum: Mapped[float] = mapped_column(Float, default=0.0)
    base_sq_sum: Mapped[float] = mapped_column(Float, default=0.0)
    delay_sum: Mapped[float] = mapped_column(Float, default=0.0)  # seconds, label - prediction
    label_sum: Mapped[float] = mapped_column(Float, default=0.0)  # regression
    labels: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class LearnerRow(Base):
    """The learner of one online variant: its desired state (`paused`) and what it reported.

    `cursor` is the last feedback id whose example is in the published state, so a learner
    that restarts resumes from the state and the cursor together and no label is lost."""

    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("endpoint_variants.id", ondelete="CASCADE"), unique=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    base_sha256: Mapped[str] = mapped_column(String(64), default="")  # version it started from
    state_sha256: Mapped[str] = mapped_column(String(64), default="")  # published, "" = base
    state_seq: Mapped[int] = mapped_column(Integer, default=0)  # publications so far
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    # the prequential evaluation's running state and the drift detector's, as the learner
    # left them with the published state (restored together after a restart)
    progress: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    checkpoint_version: Mapped[int | None] = mapped_column(Integer, default=None)
    checkpointed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    checkpoint_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LearnerSampleRow(Base):
    """One learner report: how far behind the feedback stream it is and how it scored the
    examples it took since the last report (prequential, before learning each)."""

    __tablename__ = "learner_samples"
    __table_args__ = (Index("ix_learner_samples_endpoint_ts", "endpoint_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(64))
    ts: Mapped[float] = mapped_column(Float)
    cursor: Mapped[int] = mapped_column(BigInteger)
    lag_events: Mapped[int] = mapped_column(Integer)
    lag_seconds: Mapped[float] = mapped_column(Float)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    correct: Mapped[int] = mapped_column(Integer, default=0)
    abs_sum: Mapped[float] = mapped_column(Float, default=0.0)
    sq_sum: Mapped[float] = mapped_column(Float, default=0.0)
    learned: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # `learn` raised
    drifts: Mapped[int] = mapped_column(Integer, default=0)


class DriftReferenceRow(Base):
    """What live inputs and outputs of an endpoint are compared with: per feature, bin edges
    (numeric) or categories with the reference's share of each. Built once per model version
    from its training snapshot, or from the first live window when it has none."""

    __tablename__ = "drift_references"
    __table_args__ = (UniqueConstraint("endpoint_id", "model_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    model_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))  # "snapshot <id> of <dataset>" or "live"
    features: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeatureSummaryRow(Base):
    """Live inputs (and outputs, as feature `__prediction__`) of one endpoint in one minute,
    counted into the reference's bins: mergeable, so drift over any window costs the same
    however much traffic it saw."""

    __tablename__ = "feature_summaries"
    __table_args__ = (Index("ix_feature_summaries_endpoint_ts", "endpoint_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    reference_id: Mapped[int] = mapped_column(ForeignKey("drift_references.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(Integer)  # unix second the minute starts
    feature: Mapped[str] = mapped_column(String(200))
    counts: Mapped[list[int]] = mapped_column(JSON, default=list)
