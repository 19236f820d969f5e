"""What a learner does with each labelled example, in feedback order: score the model's
prediction for it *before* learning (prequential evaluation, as River's
`evaluate.progressive_val_score`), feed the error to a drift detector, then `learn` unless
the label came late. A `learn` that raises skips that example and is counted.

Runs inside the learner process: no control-plane imports."""

from __future__ import annotations

import base64
import logging
import pickle
from dataclasses import asdict, dataclass
from typing import Any

from modelyard.online.labels import (
    CLASSIFICATION,
    REGRESSION,
    coerce_label,
    predicted_value,
    task_of,
)
from modelyard.serving.predictors import Predictor

log = logging.getLogger("modelyard.online")

# One labelled example as the control plane sends it:
# [feedback id, inputs, label, served output, late]
Event = tuple[int, dict[str, Any], Any, Any, bool]


@dataclass
class Progress:
    """Running totals since the learner began (restored after a restart)."""

    scored: int = 0
    correct: int = 0
    abs_sum: float = 0.0
    sq_sum: float = 0.0
    learned: int = 0
    skipped: int = 0  # `learn` or `predict` raised
    late: int = 0  # scored, not learned
    drifts: int = 0  # the error stream's detector fired
    last_drift_event: int = 0  # the feedback id it fired at

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def minus(self, earlier: Progress) -> Progress:
        return Progress(
            **{k: getattr(self, k) - getattr(earlier, k) for k in self.__dataclass_fields__}
        )


def _detector() -> Any:
    from river import drift

    return drift.ADWIN()  # type: ignore[no-untyped-call]


class Learning:
    def __init__(
        self,
        predictor: Predictor,
        progress: Progress | None = None,
        detector: str = "",
        score_served: bool = False,
    ) -> None:
        if not predictor.can_learn:
            raise ValueError("this variant's predictor has no `learn`")
        self.predictor = predictor
        self.progress = progress or Progress()
        # the detector's window is published with the state, so a restarted learner replays
        # the same examples into the same window and fires where it would have
        self.detector = pickle.loads(base64.b64decode(detector)) if detector else _detector()
        self.cursor = 0
        # prequential (False): the model predicts each example just before learning it, as
        # River's progressive_val_score does; served (True): the answer the replica gave is
        # scored instead, which saves a predict per example but lags the learned state
        self.score_served = score_served

    def detector_state(self) -> str:
        return base64.b64encode(pickle.dumps(self.detector)).decode()

    def consume(self, events: list[Event]) -> None:
        predict = self.predictor.predict_batch
        learn = self.predictor.learn
        progress = self.progress
        score_served = self.score_served
        for event_id, inputs, label, served, late in events:
            self.cursor = event_id
            if score_served:
                output = served
            else:
                try:
                    output = predict([inputs])[0]
                except Exception:
                    progress.skipped += 1
                    log.debug("predict raised on feedback %s", event_id, exc_info=True)
                    continue
            self._score(event_id, output, label)
            if late:
                progress.late += 1
                continue
            try:
                learn(inputs, label)
            except Exception:
                progress.skipped += 1
                log.debug("learn raised on feedback %s", event_id, exc_info=True)
                continue
            progress.learned += 1

    def _score(self, event_id: int, output: Any, label: Any) -> None:
        predicted = predicted_value(output)
        task = task_of(predicted)
        if task is None:  # no prediction yet (an untrained tree answers None): not scored,
            return  # as River's progressive_val_score does
        try:
            label = coerce_label(label, predicted)
        except ValueError:
            return
        progress = self.progress
        progress.scored += 1
        if task == CLASSIFICATION:
            right = predicted == label
            progress.correct += right
            error = 0.0 if right else 1.0
        else:
            assert task == REGRESSION
            error = abs(float(predicted) - float(label))
            progress.abs_sum += error
            progress.sq_sum += error * error
        self.detector.update(error)
        if self.detector.drift_detected:
            progress.drifts += 1
            progress.last_drift_event = event_id

    def state(self) -> Any:
        """The object to publish: what the predictor's model file holds."""
        return model_of(self.predictor)


def model_of(predictor: Predictor) -> Any:
    """River's default predictor publishes its model; a project's `Predictor` publishes its
    `model` attribute, which its `__init__` loads from `model.pkl` in the model folder."""
    model = getattr(predictor, "model", None)
    if model is None:
        instance = getattr(predictor, "instance", None)
        model = getattr(instance, "model", None)
    if model is None:
        raise ValueError(
            "an online Predictor keeps what it learns in `self.model` (loaded from model.pkl "
            "in its model folder), so modelyard can publish and checkpoint it"
        )
    return model
