"""What the control plane does with a replica's once-a-second report: per-second rows for the
charts, prediction logs in one bulk insert, and running totals for Prometheus."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.orm import Session

from modelyard.serving.spec import LATENCY_BUCKETS, Telemetry
from modelyard.serving.tables import PredictionRow, TelemetryRow


@dataclass
class Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0


class Totals:
    """Cumulative counts since this control plane started, as Prometheus expects them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self.durations: dict[tuple[str, str, str], Histogram] = defaultdict(Histogram)

    def add(self, project: str, endpoint: str, telemetry: Telemetry) -> None:
        with self._lock:
            for stats in telemetry.stats:
                self.requests[(project, endpoint, stats.variant, str(stats.code))] += stats.count
                histogram = self.durations[(project, endpoint, stats.variant)]
                for i, count in enumerate(stats.buckets[: len(histogram.buckets)]):
                    histogram.buckets[i] += count
                histogram.total += stats.latency_sum

    def snapshot(
        self,
    ) -> tuple[dict[tuple[str, str, str, str], int], dict[tuple[str, str, str], Histogram]]:
        with self._lock:
            durations = {k: Histogram(list(h.buckets), h.total) for k, h in self.durations.items()}
            return dict(self.requests), durations


def store(session: Session, endpoint_id: int, telemetry: Telemetry) -> None:
    """Write one report: a row per (variant, status) and a row per logged prediction."""
    second = int(time.time())
    rows = [
        {
            "endpoint_id": endpoint_id,
            "ts": second,
            "variant": s.variant,
            "code": s.code,
            "count": s.count,
            "latency_sum": s.latency_sum,
            "buckets": s.buckets,
        }
        for s in telemetry.stats
        if s.count
    ]
    if rows:
        session.execute(insert(TelemetryRow), rows)
    predictions = [
        {
            "prediction_id": p.id[:40],
            "endpoint_id": endpoint_id,
            "at": p.at,
            "variant": p.variant[:64],
            "shadow": p.shadow,
            "inputs": p.inputs,
            "outputs": p.outputs,
            "latency_ms": p.latency_ms,
            "key": p.key[:200].replace("\x00", "") if p.key else None,
        }
        for p in telemetry.predictions
    ]
    if predictions:
        session.execute(insert(PredictionRow), predictions)
    session.commit()
