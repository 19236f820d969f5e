from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from modelyard.db import Base, UTCDateTime, utcnow


class CodeRefRow(Base):
    """Which commit of a project's repository a run, model version or endpoint variant was
    built from: the "what code is live" marker the code pages show."""

    __tablename__ = "code_refs"
    __table_args__ = (UniqueConstraint("kind", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # run, model_version, variant
    object_id: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200), default="")
    commit: Mapped[str] = mapped_column(String(40), index=True)
    ref: Mapped[str] = mapped_column(String(200), default="")
    live: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
