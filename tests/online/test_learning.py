"""`learning.Learning`, the learner process's per-example loop, without processes: prequential
scoring exactly as River's `progressive_val_score`, late labels scored but not learned, a
`learn` that raises skips its example, and the drift detector survives a restart."""

from __future__ import annotations

import pickle
import random
from typing import Any

import pytest
from river import (
    compose,
    evaluate,
    linear_model,
    metrics,
    naive_bayes,
    optim,
    preprocessing,
)

from modelyard.online.learning import Event, Learning, Progress
from modelyard.serving.predictors import Predictor, RiverPredictor


def stream(
    n: int, seed: int = 1, flip_at: int | None = None
) -> list[tuple[dict[str, float], bool]]:
    """x1 + x2 > 1, with the rule inverted after `flip_at` examples."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = {"x1": round(rng.random(), 6), "x2": round(rng.random(), 6)}
        above = x["x1"] + x["x2"] > 1.0
        out.append((x, above if flip_at is None or i < flip_at else not above))
    return out


def events(
    pairs: list[tuple[dict[str, Any], Any]], late: frozenset[int] = frozenset()
) -> list[Event]:
    """Feedback ids count from 1, as the control plane sends them."""
    return [(i, x, y, None, i in late) for i, (x, y) in enumerate(pairs, start=1)]


def logistic() -> Any:
    return compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(optim.SGD(0.5))
    )


def gaussian_nb() -> Any:
    """Answers None until it has seen an example."""
    return naive_bayes.GaussianNB()  # type: ignore[no-untyped-call]


def progressive(pairs: list[Any], model: Any, metric: str) -> Any:
    """River's own prequential evaluation: the metric, named as in `river.metrics`."""
    score: Any = getattr(metrics, metric)()
    return evaluate.progressive_val_score(pairs, model, score)


def consume_in_chunks(learning: Learning, all_events: list[Event], size: int = 37) -> None:
    for start in range(0, len(all_events), size):
        learning.consume(all_events[start : start + size])


@pytest.mark.parametrize("new_model", [logistic, gaussian_nb])
def test_classification_is_scored_before_learning_like_progressive_val_score(
    new_model: Any,
) -> None:
    pairs = stream(400, flip_at=250)
    offline = new_model()
    expected = progressive(pairs, offline, "Accuracy")
    learning = Learning(RiverPredictor(new_model()))
    consume_in_chunks(learning, events(pairs))
    progress = learning.progress
    assert progress.learned == len(pairs) and progress.skipped == 0 and progress.late == 0
    # GaussianNB answers None before its first example: neither River nor we score that
    assert progress.scored == expected.cm.total_weight
    assert progress.correct / progress.scored == pytest.approx(expected.get(), abs=1e-12)
    assert learning.cursor == len(pairs)
    probes = [x for x, _ in stream(50, seed=9)]
    assert [learning.state().predict_one(x) for x in probes] == [
        offline.predict_one(x) for x in probes
    ]


def test_an_untrained_model_that_answers_none_is_not_scored() -> None:
    pairs = stream(30)
    learning = Learning(RiverPredictor(gaussian_nb()))
    learning.consume(events(pairs[:1]))
    assert (learning.progress.scored, learning.progress.learned) == (0, 1)
    learning.consume(events(pairs)[1:])
    assert learning.progress.scored == len(pairs) - 1


def test_regression_errors_match_progressive_val_score() -> None:
    rng = random.Random(3)
    pairs = []
    for _ in range(300):
        x = {"a": rng.uniform(-1, 1), "b": rng.uniform(-1, 1)}
        pairs.append((x, 3 * x["a"] - 2 * x["b"] + rng.gauss(0, 0.1)))

    def new_model() -> Any:
        return compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())

    mae = progressive(pairs, new_model(), "MAE")
    rmse = progressive(pairs, new_model(), "RMSE")
    learning = Learning(RiverPredictor(new_model()))
    consume_in_chunks(learning, events(pairs))
    progress = learning.progress
    assert progress.scored == len(pairs) and progress.correct == 0
    assert progress.abs_sum / progress.scored == pytest.approx(mae.get(), rel=1e-9)
    assert (progress.sq_sum / progress.scored) ** 0.5 == pytest.approx(rmse.get(), rel=1e-9)


def test_a_late_label_is_scored_but_not_learned() -> None:
    pairs = stream(120, seed=4)
    late = frozenset({5, 40, 41, 100})
    learning = Learning(RiverPredictor(logistic()))
    consume_in_chunks(learning, events(pairs, late))
    progress = learning.progress
    assert (progress.scored, progress.learned, progress.late) == (120, 116, 4)
    # the model is what learning on the timely examples alone makes
    on_time = logistic()
    for i, (x, y) in enumerate(pairs, start=1):
        if i not in late:
            on_time.learn_one(x, y)
    probes = [x for x, _ in stream(60, seed=5)]
    assert [learning.state().predict_one(x) for x in probes] == [
        on_time.predict_one(x) for x in probes
    ]
    assert learning.state()["LogisticRegression"].weights == on_time["LogisticRegression"].weights


class Fussy(Predictor):
    """A River model behind a project's Predictor that refuses some examples."""

    can_learn = True

    def __init__(self, refuse_learn: set[float], refuse_predict: set[float]) -> None:
        self.model = logistic()
        self.refuse_learn = refuse_learn
        self.refuse_predict = refuse_predict

    def predict_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        if any(r["x1"] in self.refuse_predict for r in records):
            raise RuntimeError("cannot predict that")
        return [self.model.predict_one(r) for r in records]

    def learn(self, inputs: dict[str, Any], label: Any) -> None:
        if inputs["x1"] in self.refuse_learn:
            raise ValueError("bad example")
        self.model.learn_one(inputs, label)


def test_an_example_whose_learn_or_predict_raises_is_skipped_and_counted() -> None:
    pairs = stream(100, seed=6)
    bad_learn = {pairs[3][0]["x1"], pairs[50][0]["x1"]}
    bad_predict = {pairs[70][0]["x1"]}
    fussy = Fussy(bad_learn, bad_predict)
    learning = Learning(fussy)
    learning.consume(events(pairs))
    progress = learning.progress
    assert progress.skipped == 3
    assert progress.learned == 97
    # a failed learn is still scored (scoring comes first); a failed predict is not
    assert progress.scored == 99
    assert learning.cursor == 100  # it kept going to the end
    reference = logistic()
    for x, y in pairs:
        if x["x1"] not in bad_learn | bad_predict:
            reference.learn_one(x, y)
    assert learning.state()["LogisticRegression"].weights == reference["LogisticRegression"].weights


def test_a_predictor_that_cannot_learn_is_refused() -> None:
    with pytest.raises(ValueError, match="learn"):
        Learning(Predictor())


def test_the_drift_detector_survives_a_restart_through_its_state() -> None:
    pairs = stream(1200, seed=7, flip_at=600)
    all_events = events(pairs)
    whole = Learning(RiverPredictor(logistic()))
    whole.consume(all_events)
    assert whole.progress.drifts > 0
    assert 600 < whole.progress.last_drift_event <= 900

    # a learner that stops just after the flip and restarts from what it published
    first = Learning(RiverPredictor(logistic()))
    first.consume(all_events[:620])
    published = pickle.dumps(first.state())
    progress = first.progress.to_json()
    detector = first.detector_state()
    restarted = Learning(
        RiverPredictor(pickle.loads(published)), Progress.from_json(progress), detector=detector
    )
    restarted.consume(all_events[620:])
    assert restarted.progress == whole.progress
    assert restarted.detector.width == whole.detector.width

    # with a fresh detector it would have forgotten the low error before the flip
    forgetful = Learning(RiverPredictor(pickle.loads(published)), Progress.from_json(progress))
    forgetful.consume(all_events[620:])
    assert forgetful.progress.last_drift_event != whole.progress.last_drift_event
