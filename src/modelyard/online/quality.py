"""Is it predicting correctly? Per endpoint and variant, over a window: accuracy (or MAE and
RMSE) of the served predictions against their labels next to the trivial baseline, label
coverage and delay, the learners' lag and prequential accuracy, an A/B read-out between
variants, and the timeline's markers. Everything is read from sums (quality rows, learner
reports), so the cost of a window does not grow with its traffic."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.online.intervals import Z95, newcombe
from modelyard.online.labels import CLASSIFICATION
from modelyard.online.learners import lag_seconds, unlearned
from modelyard.online.schemas import (
    Comparison,
    EndpointQuality,
    LearnerSeries,
    Marker,
    QualitySeries,
    QualitySummary,
)
from modelyard.online.summaries import feature_drift
from modelyard.online.tables import FeedbackRow, LearnerRow, LearnerSampleRow, QualityRow
from modelyard.serving.service import EndpointEventRow, PredictionRow, VariantRow

MARKER_KINDS = ("drift", "checkpoint", "rollback", "paused", "resumed", "learner_restart")
MIN_LABELS = 30  # per arm, before an A/B difference may be called significant
MAX_POINTS = 1500  # per series: a 7-day window is read in steps of at least 7 minutes


@dataclass
class Sums:
    task: str = CLASSIFICATION
    count: int = 0
    late: int = 0
    duplicates: int = 0
    correct: int = 0
    base_correct: int = 0
    abs_sum: float = 0.0
    sq_sum: float = 0.0
    base_abs_sum: float = 0.0
    base_sq_sum: float = 0.0
    delay_sum: float = 0.0

    def add(self, row: Any) -> None:
        self.task = row.task if row.count else self.task
        for name in (
            "count", "late", "duplicates", "correct", "base_correct", "abs_sum", "sq_sum",
            "base_abs_sum", "base_sq_sum", "delay_sum",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(row, name))

    def accuracy(self) -> float | None:
        return self.correct / self.count if self.count and self.task == CLASSIFICATION else None

    def baseline(self) -> float | None:
        return (
            self.base_correct / self.count if self.count and self.task == CLASSIFICATION else None
        )

    def mae(self) -> float | None:
        return self.abs_sum / self.count if self.count and self.task != CLASSIFICATION else None

    def rmse(self) -> float | None:
        ok = self.count and self.task != CLASSIFICATION
        return math.sqrt(self.sq_sum / self.count) if ok else None


def _rows(session: Session, endpoint_id: int, since: float) -> list[Any]:
    return list(
        session.execute(
            select(QualityRow).where(QualityRow.endpoint_id == endpoint_id, QualityRow.ts >= since)
        ).scalars()
    )


def _predictions(session: Session, endpoint_id: int, since: float, until: float) -> dict[str, int]:
    rows = session.execute(
        select(PredictionRow.variant, func.count())
        .where(
            PredictionRow.endpoint_id == endpoint_id,
            PredictionRow.at >= since,
            PredictionRow.at < until,
            PredictionRow.shadow.is_(False),
        )
        .group_by(PredictionRow.variant)
    )
    return {variant: count for variant, count in rows}


def _labelled(session: Session, endpoint_id: int, since: float, until: float) -> dict[str, int]:
    rows = session.execute(
        select(FeedbackRow.variant, func.count())
        .where(
            FeedbackRow.endpoint_id == endpoint_id,
            FeedbackRow.predicted_at >= since,
            FeedbackRow.predicted_at < until,
        )
        .group_by(FeedbackRow.variant)
    )
    return {variant: count for variant, count in rows}


def summaries(
    session: Session, endpoint_id: int, window: float, now: float | None = None
) -> list[QualitySummary]:
    now = time.time() if now is None else now
    since = now - window
    per_variant: dict[str, Sums] = defaultdict(Sums)
    for row in _rows(session, endpoint_id, since):
        if row.variant:
            per_variant[row.variant].add(row)
    predicted = _predictions(session, endpoint_id, since, now)
    labelled = _labelled(session, endpoint_id, since, now)
    out = []
    for variant in sorted(set(per_variant) | set(predicted)):
        sums = per_variant[variant]
        base_mae = (
            sums.base_abs_sum / sums.count if sums.count and sums.task != CLASSIFICATION else None
        )
        base_rmse = (
            math.sqrt(sums.base_sq_sum / sums.count)
            if sums.count and sums.task != CLASSIFICATION
            else None
        )
        served = predicted.get(variant, 0)
        out.append(
            QualitySummary(
                variant=variant,
                task=sums.task,
                labels=sums.count,
                accuracy=sums.accuracy(),
                baseline_accuracy=sums.baseline(),
                mae=sums.mae(),
                rmse=sums.rmse(),
                baseline_mae=base_mae,
                baseline_rmse=base_rmse,
                label_coverage=min(1.0, labelled.get(variant, 0) / served) if served else None,
                label_delay_seconds=sums.delay_sum / sums.count if sums.count else None,
                late=sums.late,
            )
        )
    return out


def compare(a: QualitySummary, b: QualitySummary, sums: dict[str, Sums]) -> Comparison | None:
    """`b` minus `a`: a two-proportion z-test on accuracy (Newcombe's interval), or Welch's
    test on absolute error."""
    sa, sb = sums.get(a.variant), sums.get(b.variant)
    if sa is None or sb is None or sa.count < 2 or sb.count < 2 or sa.task != sb.task:
        return None
    if sa.task == CLASSIFICATION:
        pa, pb = sa.correct / sa.count, sb.correct / sb.count
        difference = pb - pa
        low, high = newcombe(sa.correct, sa.count, sb.correct, sb.count)
        pooled = (sa.correct + sb.correct) / (sa.count + sb.count)
        test_se = math.sqrt(pooled * (1 - pooled) * (1 / sa.count + 1 / sb.count))
        metric = "accuracy"
    else:
        ma, mb = sa.abs_sum / sa.count, sb.abs_sum / sb.count
        va = max(0.0, sa.sq_sum / sa.count - ma * ma) * sa.count / (sa.count - 1)
        vb = max(0.0, sb.sq_sum / sb.count - mb * mb) * sb.count / (sb.count - 1)
        difference = mb - ma
        test_se = math.sqrt(va / sa.count + vb / sb.count)
        low, high = difference - Z95 * test_se, difference + Z95 * test_se
        metric = "mae"
    # both arms all right (or all wrong) leaves nothing to test: no evidence of a difference
    p_value = 1.0 if test_se == 0 else math.erfc(abs(difference / test_se) / math.sqrt(2))
    return Comparison(
        champion=a.variant,
        challenger=b.variant,
        metric=metric,
        difference=difference,
        low=low,
        high=high,
        p_value=p_value,
        # a two-sided z-test at 5%, and only once each arm has MIN_LABELS labels: with
        # fewer, the normal approximation says "significant" far too easily
        significant=p_value < 0.05 and min(sa.count, sb.count) >= MIN_LABELS,
        labels=(sa.count, sb.count),
    )


def endpoint_quality(
    session: Session,
    endpoint_id: int,
    window: int,
    step: int,
    champion: str | None,
    now: float | None = None,
) -> EndpointQuality:
    now = time.time() if now is None else now
    since = now - window
    step = max(step, math.ceil(window / MAX_POINTS))
    buckets = max(1, math.ceil(window / step))
    start = math.floor(since / step) * step
    times = [float(start + i * step) for i in range(buckets + 1)]
    rows = _rows(session, endpoint_id, start)
    duplicates = sum(row.duplicates for row in rows if row.ts >= since)
    totals: dict[str, Sums] = defaultdict(Sums)
    stepped: dict[str, list[Sums]] = defaultdict(lambda: [Sums() for _ in times])
    for row in rows:
        if not row.variant:
            continue
        index = min(len(times) - 1, max(0, int((row.ts - start) // step)))
        stepped[row.variant][index].add(row)
        if row.ts >= since:
            totals[row.variant].add(row)
    series = [
        QualitySeries(
            variant=variant,
            task=next((s.task for s in steps if s.count), CLASSIFICATION),
            accuracy=[s.accuracy() for s in steps],
            baseline=[s.baseline() for s in steps],
            mae=[s.mae() for s in steps],
            rmse=[s.rmse() for s in steps],
            labels=[s.count for s in steps],
        )
        for variant, steps in sorted(stepped.items())
    ]
    summary = summaries(session, endpoint_id, window, now)
    comparisons = []
    by_name = {s.variant: s for s in summary if s.labels}
    if champion in by_name:
        for other in by_name.values():
            if other.variant != champion:
                found = compare(by_name[champion], other, totals)
                if found is not None:
                    comparisons.append(found)
    return EndpointQuality(
        window_seconds=window,
        step_seconds=step,
        duplicates=duplicates,
        times=times,
        summary=summary,
        series=series,
        comparisons=comparisons,
        learners=_learner_series(session, endpoint_id, start, step, times),
        markers=_markers(session, endpoint_id, since),
    )


def _learner_series(
    session: Session, endpoint_id: int, start: float, step: int, times: list[float]
) -> list[LearnerSeries]:
    samples = session.scalars(
        select(LearnerSampleRow)
        .where(LearnerSampleRow.endpoint_id == endpoint_id, LearnerSampleRow.ts >= start)
        .order_by(LearnerSampleRow.id)
    ).all()
    grouped: dict[str, list[LearnerSampleRow]] = defaultdict(list)
    for sample in samples:
        grouped[sample.variant].append(sample)
    out = []
    for variant, rows in sorted(grouped.items()):
        lag_events: list[int | None] = [None] * len(times)
        lag_seconds: list[float | None] = [None] * len(times)
        scored = [0] * len(times)
        correct = [0] * len(times)
        drifts = [0] * len(times)
        for row in rows:
            i = min(len(times) - 1, max(0, int((row.ts - start) // step)))
            lag_events[i] = max(lag_events[i] or 0, row.lag_events)
            lag_seconds[i] = max(lag_seconds[i] or 0.0, row.lag_seconds)
            scored[i] += row.scored
            correct[i] += row.correct
            drifts[i] += row.drifts
        out.append(
            LearnerSeries(
                variant=variant,
                lag_events=lag_events,
                lag_seconds=lag_seconds,
                accuracy=[c / n if n else None for c, n in zip(correct, scored, strict=True)],
                drifts=drifts,
            )
        )
    return out


def _markers(session: Session, endpoint_id: int, since: float) -> list[Marker]:
    rows = session.scalars(
        select(EndpointEventRow)
        .where(
            EndpointEventRow.endpoint_id == endpoint_id,
            EndpointEventRow.kind.in_(MARKER_KINDS),
            EndpointEventRow.at >= datetime.fromtimestamp(since, UTC),
        )
        .order_by(EndpointEventRow.at)
        .limit(500)
    ).all()
    return [
        Marker(
            at=row.at.timestamp(),
            kind=row.kind,
            variant=row.message.split(":", 1)[0] if ":" in row.message else "",
            message=row.message,
        )
        for row in rows
    ]


def quality_figures(
    session: Session,
    endpoint_id: int,
    variant: str | None,
    window_seconds: float,
    now: float | None = None,
) -> dict[str, float | None]:
    """The figures alert rules watch, for one variant or the whole endpoint (label-weighted)."""
    now = time.time() if now is None else now
    summary = [
        s for s in summaries(session, endpoint_id, window_seconds, now)
        if variant is None or s.variant == variant
    ]  # fmt: skip
    labels = sum(s.labels for s in summary)

    def weighted(name: str) -> float | None:
        values = [(getattr(s, name), s.labels) for s in summary if getattr(s, name) is not None]
        total = sum(n for _, n in values)
        return sum(v * n for v, n in values) / total if total else None

    accuracy, baseline = weighted("accuracy"), weighted("baseline_accuracy")
    coverage = [s.label_coverage for s in summary if s.label_coverage is not None]
    lags = [
        (
            unlearned(session, endpoint_id, learner.cursor),
            lag_seconds(session, endpoint_id, learner.cursor, now),
        )
        for learner in session.scalars(
            select(LearnerRow)
            .join(VariantRow, VariantRow.id == LearnerRow.variant_id)
            .where(
                LearnerRow.endpoint_id == endpoint_id,
                LearnerRow.paused.is_(False),
                *([VariantRow.name == variant] if variant else []),
            )
        )
    ]  # from the stream and the cursors, so a learner that died still shows its lag
    drifts = session.scalar(
        select(func.sum(LearnerSampleRow.drifts)).where(
            LearnerSampleRow.endpoint_id == endpoint_id,
            LearnerSampleRow.ts >= now - window_seconds,
            *([LearnerSampleRow.variant == variant] if variant else []),
        )
    )
    return {
        "accuracy": accuracy,
        "baseline_accuracy": baseline,
        "accuracy_vs_baseline": accuracy - baseline
        if accuracy is not None and baseline is not None
        else None,
        "mae": weighted("mae"),
        "rmse": weighted("rmse"),
        "label_coverage": min(coverage) if coverage else None,
        "label_delay_seconds": weighted("label_delay_seconds"),
        "learner_lag_seconds": max(seconds for _, seconds in lags) if lags else None,
        "learner_lag_events": float(max(events for events, _ in lags)) if lags else None,
        "error_drifts": float(drifts or 0) if labels or drifts else None,
        "drifted_features": _drifted(session, endpoint_id, window_seconds, now),
        "labels": float(labels),
    }


def _drifted(session: Session, endpoint_id: int, window: float, now: float) -> float | None:
    judged = [f for f in feature_drift(session, endpoint_id, window, now) if f.judged]
    return float(sum(f.drifted for f in judged)) if judged else None
