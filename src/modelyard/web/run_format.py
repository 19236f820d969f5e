"""How run values read on the portal: metric values (with NaN and infinities), durations."""

from __future__ import annotations

from datetime import datetime


def metric(value: float | str | None) -> str:
    """A metric value to four significant digits; "NaN", "Infinity" shown as they are."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:.4g}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def elapsed(started_at: datetime, ended_at: datetime | None, now: datetime) -> float:
    """How long a run took, or has been going for."""
    return ((ended_at or now) - started_at).total_seconds()
