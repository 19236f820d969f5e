"""`POST /serve/{project}/{endpoint}/feedback`: labels for logged predictions.

A request holds one `{"prediction_id", "label"}` or a batch (a JSON array of them, or
`{"feedback": [...]}`). It is all or nothing: any bad item rejects the whole request with a
4xx naming it (`feedback[3].label`) and nothing is stored or learned. The rules:
- an id must be a prediction this endpoint logged (a live answer, not a shadow's): an
  unknown id, or another endpoint's, is 404. A prediction's log reaches the control plane
  within about a second; an id that is younger than that is waited for (up to
  `online_join_wait_seconds`) before it is called unknown;
- the first label of a prediction wins: a later one is ignored and counted as a duplicate;
- a label that arrives more than `online_late_seconds` after its prediction is stored and
  scored but never learned from;
- the answer (`accepted`, `duplicates`, `late`) is sent only once the labels are committed.

Labels are committed in id order because one control-plane process writes them under one
lock; learners read the stream in id order. Several control planes writing one database
would need a per-endpoint sequence (or learners that read only rows older than a moment),
or a label committed late behind a higher id could be skipped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.errors import InvalidInputError, NotFoundError
from modelyard.online.labels import (
    CLASSIFICATION,
    LabelTypeError,
    class_key,
    coerce_label,
    predicted_value,
    task_of,
)
from modelyard.online.tables import FeedbackRow, QualityRow
from modelyard.serving.service import PredictionRow

FEEDBACK = cast(Table, FeedbackRow.__table__)
QUALITY = cast(Table, QualityRow.__table__)
JOIN_POLL_SECONDS = 0.1
LOG_DELAY_SECONDS = 2.0  # how long after a prediction its log may still be on its way


class InvalidJSONError(InvalidInputError):
    """The body is not JSON: 400, as every other JSON route of modelyard answers it."""

    status_code = 400
    code = "invalid_json"


@dataclass(frozen=True)
class Item:
    prediction_id: str
    label: Any
    where: str  # `feedback[3]`, or `` for a single label


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    late: int = 0


def parse(body: bytes, max_items: int) -> list[Item]:
    """The labels of a request body, in order; InvalidInputError names what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidJSONError("the request body is not valid JSON", field="body") from None
    prefix = "feedback"
    if isinstance(data, dict) and prefix in data:
        extra = sorted(set(data) - {prefix})
        if extra:
            raise InvalidInputError(f"unknown field {extra[0]!r}", field=extra[0])
        data = data[prefix]
    elif isinstance(data, dict):
        return [_item(data, "")]
    if not isinstance(data, list):
        raise InvalidInputError(
            'send {"prediction_id": ..., "label": ...} or a list of them', field="body"
        )
    if not data:
        raise InvalidInputError("the batch holds no labels", field=prefix)
    if len(data) > max_items:
        raise InvalidInputError(
            f"a request may hold at most {max_items} labels, this one holds {len(data)}",
            field=prefix,
        )
    return [_item(entry, f"{prefix}[{i}]") for i, entry in enumerate(data)]


def _item(entry: Any, where: str) -> Item:
    dot = f"{where}." if where else ""
    if not isinstance(entry, dict):
        raise InvalidInputError(
            "a label is an object {prediction_id, label}", field=where or "body"
        )
    extra = set(entry) - {"prediction_id", "label"}
    if extra:
        raise InvalidInputError(
            f"unknown field {sorted(extra)[0]!r}", field=f"{dot}{sorted(extra)[0]}"
        )
    prediction_id = entry.get("prediction_id")
    if not isinstance(prediction_id, str) or not 1 <= len(prediction_id) <= 40:
        raise InvalidInputError(
            "prediction_id must be the id a prediction answered (a string)",
            field=f"{dot}prediction_id",
        )
    if "label" not in entry:
        raise InvalidInputError("label is required", field=f"{dot}label")
    return Item(prediction_id, entry["label"], where)


def _predicted_at(prediction_id: str) -> float | None:
    """Prediction ids start with 12 hex digits of unix milliseconds (serving/recorder.py)."""
    try:
        return int(prediction_id[:12], 16) / 1000
    except ValueError:
        return None


@dataclass
class _Baseline:
    """The trivial model a variant must beat, scored prequentially per endpoint: the
    majority class of the labels so far (classification), their mean (regression)."""

    classes: Counter[str] = field(default_factory=Counter)
    count: int = 0
    total: float = 0.0


class Baselines:
    """Per endpoint, restored from the stored sums on first use after a restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: dict[int, _Baseline] = {}

    def get(self, session: Session, endpoint_id: int) -> _Baseline:
        with self._lock:
            found = self._by_endpoint.get(endpoint_id)
        if found is not None:
            return found
        baseline = _Baseline()
        rows = session.execute(
            select(
                QualityRow.labels, QualityRow.count, QualityRow.label_sum, QualityRow.task
            ).where(QualityRow.endpoint_id == endpoint_id)
        )
        for labels, count, label_sum, task in rows:
            if task == CLASSIFICATION:
                baseline.classes.update(labels or {})
            else:
                baseline.count += count
                baseline.total += label_sum
        with self._lock:
            return self._by_endpoint.setdefault(endpoint_id, baseline)

    def forget(self, endpoint_id: int) -> None:
        with self._lock:
            self._by_endpoint.pop(endpoint_id, None)


class FeedbackStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.baselines = Baselines()
        self._lock = threading.Lock()  # one endpoint's baseline is updated by one at a time

    def ingest(self, session: Session, endpoint_id: int, items: list[Item]) -> Outcome:
        try:
            return self._ingest(session, endpoint_id, items)
        except IntegrityError:
            # the same label arrived in two requests at once: the other one won; again,
            # this request sees its labels as duplicates. Its baseline had already counted
            # the labels it failed to store: rebuilt from the stored sums, so none count twice
            session.rollback()
            with self._lock:  # not while another request is scoring into it
                self.baselines.forget(endpoint_id)
            return self._ingest(session, endpoint_id, items)

    def _ingest(self, session: Session, endpoint_id: int, items: list[Item]) -> Outcome:
        now = time.time()
        predictions = self._join(session, endpoint_id, items)
        known = {p for p, row in predictions.items() if row.labelled is not None}
        outcome = Outcome()
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for item in items:
            prediction = predictions[item.prediction_id]
            predicted = predicted_value(prediction.outputs)
            try:
                label = coerce_label(item.label, predicted)
            except LabelTypeError as error:
                dot = f"{item.where}." if item.where else ""
                raise InvalidInputError(
                    f"prediction {item.prediction_id}: {error}", field=f"{dot}label"
                ) from None
            if item.prediction_id in known or item.prediction_id in seen:
                outcome.duplicates += 1
                continue
            seen.add(item.prediction_id)
            late = now - prediction.at > self.settings.online_late_seconds
            outcome.accepted += 1
            outcome.late += late
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "prediction_id": item.prediction_id,
                    "variant": prediction.variant,
                    "inputs": prediction.inputs,
                    "output": prediction.outputs,
                    "label": label,
                    "predicted_at": prediction.at,
                    "received_at": now,
                    "late": late,
                }
            )
        with self._lock:
            quality = self._score(session, endpoint_id, rows, int(now))
            # Core inserts: the ORM's bulk path costs more than the statement on small batches
            if rows:
                session.execute(insert(FEEDBACK), rows)
            if quality or outcome.duplicates:
                if not quality:  # duplicates alone are still counted
                    quality = [_quality_row(endpoint_id, int(now), "", CLASSIFICATION)]
                quality[0]["duplicates"] = outcome.duplicates
                session.execute(insert(QUALITY), quality)
            session.commit()
        return outcome

    def _join(self, session: Session, endpoint_id: int, items: list[Item]) -> dict[str, Any]:
        wanted = {item.prediction_id for item in items}
        found: dict[str, Any] = {}
        deadline = time.monotonic() + self.settings.online_join_wait_seconds
        while True:
            missing = list(wanted - set(found))
            for start in range(0, len(missing), 500):
                # with the label it may already have: one statement answers both questions
                for row in session.execute(
                    select(
                        PredictionRow.prediction_id,
                        PredictionRow.at,
                        PredictionRow.variant,
                        PredictionRow.inputs,
                        PredictionRow.outputs,
                        FeedbackRow.id.label("labelled"),
                    )
                    .outerjoin(
                        FeedbackRow,
                        (FeedbackRow.endpoint_id == PredictionRow.endpoint_id)
                        & (FeedbackRow.prediction_id == PredictionRow.prediction_id),
                    )
                    .where(
                        PredictionRow.endpoint_id == endpoint_id,
                        PredictionRow.prediction_id.in_(missing[start : start + 500]),
                        PredictionRow.shadow.is_(False),
                    )
                ):
                    found[row.prediction_id] = row
            missing = [p for p in wanted if p not in found]
            if not missing:
                return found
            session.rollback()  # a fresh snapshot for the next look
            now = time.time()  # a future id is forged: it is not waited for
            young = [
                p
                for p in missing
                if now - LOG_DELAY_SECONDS - 1 < (_predicted_at(p) or 0) <= now + 1
            ]
            if not young or time.monotonic() >= deadline:
                item = next(i for i in items if i.prediction_id in missing)
                dot = f"{item.where}." if item.where else ""
                raise NotFoundError(
                    f"no prediction {item.prediction_id!r} was logged by this endpoint "
                    "(an id from another endpoint, a shadow, or older than the prediction "
                    "log's retention)",
                    field=f"{dot}prediction_id",
                )
            time.sleep(JOIN_POLL_SECONDS)

    def _score(
        self, session: Session, endpoint_id: int, rows: list[dict[str, Any]], second: int
    ) -> list[dict[str, Any]]:
        """Score each new label against its served prediction and the baseline, summed per
        variant and task into quality rows."""
        if not rows:
            return []
        baseline = self.baselines.get(session, endpoint_id)
        sums: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            predicted = predicted_value(row["output"])
            task = task_of(predicted)
            if task is None:
                continue
            key = (row["variant"], task)
            summary = sums.get(key)
            if summary is None:
                summary = sums[key] = _quality_row(endpoint_id, second, row["variant"], task)
            label = row["label"]
            summary["count"] += 1
            summary["late"] += row["late"]
            summary["delay_sum"] += max(0.0, row["received_at"] - row["predicted_at"])
            if task == CLASSIFICATION:
                guess = baseline.classes.most_common(1)
                summary["correct"] += predicted == label and type(predicted) is type(label)
                summary["base_correct"] += bool(guess) and guess[0][0] == class_key(label)
                key_of_label = class_key(label)
                summary["labels"][key_of_label] = summary["labels"].get(key_of_label, 0) + 1
                baseline.classes[key_of_label] += 1
            else:
                value = float(label)
                mean = baseline.total / baseline.count if baseline.count else 0.0
                error = abs(float(predicted) - value)
                summary["abs_sum"] += error
                summary["sq_sum"] += error * error
                summary["base_abs_sum"] += abs(mean - value)
                summary["base_sq_sum"] += (mean - value) ** 2
                summary["label_sum"] += value
                baseline.count += 1
                baseline.total += value
        return list(sums.values())


def _quality_row(endpoint_id: int, second: int, variant: str, task: str) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "ts": second,
        "variant": variant,
        "task": task,
        "count": 0,
        "late": 0,
        "duplicates": 0,
        "correct": 0,
        "base_correct": 0,
        "abs_sum": 0.0,
        "sq_sum": 0.0,
        "base_abs_sum": 0.0,
        "base_sq_sum": 0.0,
        "delay_sum": 0.0,
        "label_sum": 0.0,
        "labels": {},
    }


def feedback_head(session: Session, endpoint_id: int) -> int:
    """The id of the newest label of an endpoint (0 for none): the stream's head."""
    return int(
        session.scalar(
            select(func.max(FeedbackRow.id)).where(FeedbackRow.endpoint_id == endpoint_id)
        )
        or 0
    )
