"""An endpoint's live figures over a time window, from the per-second telemetry rows:
requests/s, error rate, latency percentiles (from merged histograms), traffic per variant
and replicas, in buckets of `step` seconds for the charts."""

from __future__ import annotations

import time
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.serving.schemas import EndpointMetrics, MetricsSummary, Series
from modelyard.serving.spec import LATENCY_BUCKETS
from modelyard.serving.tables import ReplicaSampleRow, TelemetryRow

SUMMARY_SECONDS = 60
QUANTILES = (0.5, 0.95, 0.99)


def quantile_ms(buckets: list[int], q: float) -> float | None:
    """The q-quantile of a latency histogram in milliseconds, interpolated within its bucket
    (as Prometheus' histogram_quantile does); None for an empty histogram."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            if i >= len(LATENCY_BUCKETS):  # the +Inf bucket: the highest finite bound
                return LATENCY_BUCKETS[-1] * 1000
            lower = LATENCY_BUCKETS[i - 1] if i else 0.0
            upper = LATENCY_BUCKETS[i]
            return (lower + (upper - lower) * (rank - seen) / count) * 1000
        seen += count
    return LATENCY_BUCKETS[-1] * 1000


class _Bucket:
    __slots__ = ("count", "errors", "latency", "variants")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self.variants: dict[str, int] = defaultdict(int)

    def add(self, row: TelemetryRow, shadow: bool) -> None:
        if row.variant:
            self.variants[row.variant] += row.count
        if shadow:  # a copy of traffic already counted: only its own series shows it
            return
        self.count += row.count
        if row.code >= 500:
            self.errors += row.count
        for i, n in enumerate(row.buckets[: len(self.latency)]):
            self.latency[i] += n


def endpoint_metrics(
    session: Session,
    endpoint_id: int,
    window: int,
    step: int,
    shadows: frozenset[str] = frozenset(),
    now: float | None = None,
) -> EndpointMetrics:
    """Figures of the live traffic; `shadows` (variant names) appear in `variant_rps` only."""
    end = int(now if now is not None else time.time()) + 1
    count = max(1, window // step)
    start = end - count * step
    buckets = [_Bucket() for _ in range(count)]
    summary = _Bucket()
    rows = session.scalars(
        select(TelemetryRow).where(
            TelemetryRow.endpoint_id == endpoint_id,
            TelemetryRow.ts >= start,
            TelemetryRow.ts < end,
        )
    ).all()
    for row in rows:
        shadow = row.variant in shadows
        buckets[min(count - 1, (row.ts - start) // step)].add(row, shadow)
        if row.ts >= end - SUMMARY_SECONDS:
            summary.add(row, shadow)
    replicas: list[int | None] = [None] * count
    samples = session.execute(
        select(ReplicaSampleRow.ts, ReplicaSampleRow.replicas)
        .where(
            ReplicaSampleRow.endpoint_id == endpoint_id,
            ReplicaSampleRow.ts >= start,
            ReplicaSampleRow.ts < end,
        )
        .order_by(ReplicaSampleRow.ts)
    ).all()
    for ts, n in samples:
        replicas[min(count - 1, (ts - start) // step)] = n  # the last sample in the bucket
    names = sorted({v for b in buckets for v in b.variants})
    series = Series(
        ts=[start + i * step for i in range(count)],
        requests_per_second=[b.count / step for b in buckets],
        error_rate=[b.errors / b.count if b.count else None for b in buckets],
        p50_ms=[quantile_ms(b.latency, 0.5) for b in buckets],
        p95_ms=[quantile_ms(b.latency, 0.95) for b in buckets],
        p99_ms=[quantile_ms(b.latency, 0.99) for b in buckets],
        replicas=replicas,
        variant_rps={n: [b.variants.get(n, 0) / step for b in buckets] for n in names},
    )
    live = {k: v for k, v in summary.variants.items() if k not in shadows}
    routed = sum(live.values())
    return EndpointMetrics(
        window_seconds=window,
        step_seconds=step,
        summary=MetricsSummary(
            requests=summary.count,
            errors=summary.errors,
            requests_per_second=summary.count / SUMMARY_SECONDS,
            error_rate=summary.errors / summary.count if summary.count else None,
            p50_ms=quantile_ms(summary.latency, 0.5),
            p95_ms=quantile_ms(summary.latency, 0.95),
            p99_ms=quantile_ms(summary.latency, 0.99),
            variant_share={k: v / routed for k, v in sorted(live.items())} if routed else {},
        ),
        series=series,
    )
