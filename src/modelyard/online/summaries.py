"""Live inputs and outputs counted per minute into the reference's bins, and drift read back
from those counts.

`DriftRecorder.record_inputs` is a serving report listener: it runs on every replica report
(once a second per replica), so it only counts. The endpoint's champion and its reference
are cached per endpoint and looked at again every `RECHECK_SECONDS`: a new champion version
gets its own reference, and summaries carry the reference they were counted against. Until a
reference exists (a live one waits for its first predictions) nothing is counted.

Inputs of every live (non-shadow) prediction count; outputs count only when the champion's
variant answered, as a canary's answers would mix another model's predictions in.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from modelyard.errors import InvalidInputError
from modelyard.online.drift import (
    MIN_LIVE,
    FeatureReference,
    compare,
    count_into,
    is_prediction,
    merge,
    prediction_values,
)
from modelyard.online.drift_schemas import DriftSeries, FeatureDrift, FeatureSeries
from modelyard.online.references import (
    LIVE_RECORDS,
    Champion,
    SnapshotColumns,
    champion_of,
    ensure_reference,
    parse_features,
    record_fields,
)
from modelyard.online.tables import DriftReferenceRow, FeatureSummaryRow

RECHECK_SECONDS = 5.0
MINUTE = 60
MAX_STEPS = 1500


class Logged(Protocol):
    """What is read of a logged prediction (`serving.spec.PredictionLog`)."""

    @property
    def at(self) -> float: ...
    @property
    def variant(self) -> str: ...
    @property
    def shadow(self) -> bool: ...
    @property
    def inputs(self) -> Any: ...
    @property
    def outputs(self) -> Any: ...


class Report(Protocol):
    """What is read of a replica's report (`serving.spec.Telemetry`, which a capability may
    not import)."""

    @property
    def predictions(self) -> Sequence[Logged]: ...


@dataclass
class _Watch:
    """What the recorder knows of one endpoint."""

    checked_at: float
    champion: Champion | None = None
    reference_id: int | None = None
    complete: bool = False  # has prediction features (or never will get more)
    inputs: dict[str, FeatureReference] = field(default_factory=dict)
    outputs: dict[str, FeatureReference] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # input order, for list records


class DriftRecorder:
    """Counts each report's predictions into per-minute `FeatureSummaryRow`s.

    `read_snapshot` reads a training snapshot's columns (see `references`); without it
    references come from live traffic only. Safe to call from several threads at once."""

    def __init__(
        self,
        read_snapshot: SnapshotColumns | None = None,
        *,
        live_records: int = LIVE_RECORDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_snapshot = read_snapshot
        self._live_records = live_records
        self._clock = clock
        self._lock = threading.Lock()
        self._watches: dict[int, _Watch] = {}
        self._refreshing: set[int] = set()

    def record_inputs(self, session: Session, endpoint_id: int, telemetry: Report) -> None:
        """The report listener: `serving.report_listeners.append(recorder.record_inputs)`."""
        live = [p for p in telemetry.predictions if not p.shadow]
        if not live:
            return
        watch = self._watch(session, endpoint_id)
        if watch is None or watch.reference_id is None:
            return
        rows = summarize(endpoint_id, watch, live)
        if rows:
            session.execute(insert(FeatureSummaryRow), rows)
            session.commit()

    def forget(self, endpoint_id: int) -> None:
        """Drop the cached champion and reference (an endpoint deleted or redeployed)."""
        with self._lock:
            self._watches.pop(endpoint_id, None)

    def _watch(self, session: Session, endpoint_id: int) -> _Watch | None:
        now = self._clock()
        with self._lock:
            watch = self._watches.get(endpoint_id)
            fresh = watch is not None and now - watch.checked_at < RECHECK_SECONDS
            if fresh or endpoint_id in self._refreshing:
                return watch  # another report is refreshing it: count with what is known
            self._refreshing.add(endpoint_id)
        try:
            refreshed = self._refresh(session, endpoint_id, watch, now)
        except Exception:
            # a failing build (an unreadable snapshot) is retried after RECHECK_SECONDS, not on
            # every report; the serving listener loop logs the error
            with self._lock:
                self._watches[endpoint_id] = watch or _Watch(now)
                self._watches[endpoint_id].checked_at = now
            raise
        else:
            with self._lock:
                self._watches[endpoint_id] = refreshed
            return refreshed
        finally:
            with self._lock:
                self._refreshing.discard(endpoint_id)

    def _refresh(
        self, session: Session, endpoint_id: int, watch: _Watch | None, now: float
    ) -> _Watch:
        champion = champion_of(session, endpoint_id)
        if champion is None:
            return _Watch(now)
        if watch is not None and watch.champion == champion and watch.complete:
            watch.checked_at = now
            return watch
        row = ensure_reference(
            session, endpoint_id, champion, self._read_snapshot, self._live_records
        )
        if row is None:
            return _Watch(now, champion)
        features = parse_features(row)
        outputs = {n: f for n, f in features.items() if is_prediction(n)}
        inputs = {n: f for n, f in features.items() if n not in outputs}
        names = [n for n, _ in champion.signature] or list(inputs)
        complete = bool(outputs) or row.source == "live"
        return _Watch(now, champion, row.id, complete, inputs, outputs, names)


def summarize(
    endpoint_id: int, watch: _Watch, predictions: Sequence[Logged]
) -> list[dict[str, object]]:
    """The summary rows of some predictions: one per (minute, feature) that saw a value."""
    by_minute: dict[int, list[Logged]] = defaultdict(list)
    for p in predictions:
        by_minute[int(p.at) // MINUTE * MINUTE].append(p)
    champion = watch.champion.variant if watch.champion else None
    rows: list[dict[str, object]] = []
    for minute, logged in by_minute.items():
        columns: dict[str, list[object]] = {}
        if watch.inputs:
            fields = [record_fields(p.inputs, watch.names) for p in logged]
            for name in watch.inputs:
                columns[name] = list(map(methodcaller("get", name), fields))
        if watch.outputs:
            outputs = [prediction_values(p.outputs) for p in logged if p.variant == champion]
            for name in watch.outputs:
                columns[name] = list(map(methodcaller("get", name), outputs))
        for name, values in columns.items():
            if not values:
                continue
            reference = watch.inputs.get(name) or watch.outputs[name]
            counts = [0] * reference.slots
            count_into(reference, values, counts)
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "reference_id": watch.reference_id,
                    "ts": minute,
                    "feature": name,
                    "counts": counts,
                }
            )
    return rows


# --- reading drift back ------------------------------------------------------------------


def _summaries(
    session: Session, endpoint_id: int, start: int, end: float
) -> tuple[DriftReferenceRow | None, list[tuple[int, str, list[int]]]]:
    """The window's summaries of the reference counted last (older references' bins differ:
    their minutes are left out)."""
    rows = session.execute(
        select(
            FeatureSummaryRow.ts,
            FeatureSummaryRow.reference_id,
            FeatureSummaryRow.feature,
            FeatureSummaryRow.counts,
        )
        .where(
            FeatureSummaryRow.endpoint_id == endpoint_id,
            FeatureSummaryRow.ts >= start,
            FeatureSummaryRow.ts <= end,
        )
        .order_by(FeatureSummaryRow.ts, FeatureSummaryRow.id)
    ).all()
    if not rows:
        return None, []
    current = rows[-1][1]
    reference = session.get(DriftReferenceRow, current)
    return reference, [(ts, name, counts) for ts, ref, name, counts in rows if ref == current]


def _window(window_seconds: float, now: float | None) -> tuple[int, float]:
    if window_seconds <= 0:
        raise InvalidInputError("the window must be positive", field="window")
    end = time.time() if now is None else now
    return int(end - window_seconds) // MINUTE * MINUTE, end


def feature_drift(
    session: Session, endpoint_id: int, window_seconds: float, now: float | None = None
) -> list[FeatureDrift]:
    """Drift of each feature of the current reference over the last `window_seconds`
    (whole minutes: the minute `now - window_seconds` falls in is included); [] when the
    window has no summaries."""
    start, end = _window(window_seconds, now)
    reference, summaries = _summaries(session, endpoint_id, start, end)
    if reference is None:
        return []
    features = parse_features(reference)
    live = {name: [0] * f.slots for name, f in features.items()}
    for _, name, counts in summaries:
        if name in live:
            merge(live[name], counts)
    found = []
    for name, feature in features.items():
        result = compare(feature, live[name])
        found.append(
            FeatureDrift(
                feature=name,
                kind=result.kind,
                prediction=is_prediction(name),
                psi=result.psi,
                test="ks" if result.kind == "numeric" else "chi2",
                statistic=result.statistic,
                p_value=result.p_value,
                drifted=result.drifted,
                judged=result.live_count >= MIN_LIVE,
                live_count=result.live_count,
                reference_count=result.reference_count,
                reference_id=reference.id,
                reference_source=reference.source,
            )
        )
    return found


def drift_series(
    session: Session,
    endpoint_id: int,
    window_seconds: float,
    step_seconds: int,
    now: float | None = None,
) -> DriftSeries:
    """PSI of each feature per `step_seconds` (whole minutes) over the window, for a chart."""
    if step_seconds < MINUTE or step_seconds % MINUTE:
        raise InvalidInputError("the step must be a whole number of minutes", field="step")
    start, end = _window(window_seconds, now)
    start = start // step_seconds * step_seconds
    steps = int(end - start) // step_seconds + 1
    if steps > MAX_STEPS:
        raise InvalidInputError(f"at most {MAX_STEPS} steps: use a longer step", field="step")
    reference, summaries = _summaries(session, endpoint_id, start, end)
    times = [start + i * step_seconds for i in range(steps)]
    if reference is None:
        return DriftSeries(reference_id=None, reference_source="", times=times, features=[])
    features = parse_features(reference)
    live = {name: [[0] * f.slots for _ in times] for name, f in features.items()}
    for ts, name, counts in summaries:
        if name in live:
            merge(live[name][(ts - start) // step_seconds], counts)
    series = []
    for name, feature in features.items():
        results = [compare(feature, counts) for counts in live[name]]
        series.append(
            FeatureSeries(
                feature=name,
                psi=[r.psi if r.live_count else None for r in results],
                counts=[r.live_count for r in results],
            )
        )
    return DriftSeries(
        reference_id=reference.id, reference_source=reference.source, times=times, features=series
    )
