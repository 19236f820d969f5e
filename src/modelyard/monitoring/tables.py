"""Alert rules on monitored figures, and the alerts they raise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.db import Base, UTCDateTime, utcnow


class AlertRuleRow(Base):
    """`figure` of an endpoint (optionally of one variant) compared with `threshold` over the
    last `window_seconds`; it fires once the condition has held for `for_seconds`."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    figure: Mapped[str] = mapped_column(String(40))
    variant: Mapped[str | None] = mapped_column(String(64), default=None)
    op: Mapped[str] = mapped_column(String(2))  # > >= < <=
    threshold: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[int] = mapped_column(Integer, default=300)
    for_seconds: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(16), default="warning")  # warning | critical
    webhook_encrypted: Mapped[str] = mapped_column(Text, default="")  # Fernet, "" for none
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pending_since: Mapped[float | None] = mapped_column(Float, default=None)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertRow(Base):
    """One firing of a rule, from its start until it resolves."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_endpoint_started", "endpoint_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # firing | acknowledged | resolved
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    value: Mapped[float | None] = mapped_column(Float, default=None)  # when it fired
    last_value: Mapped[float | None] = mapped_column(Float, default=None)
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    webhook_status: Mapped[str] = mapped_column(String(200), default="")
