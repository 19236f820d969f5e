"""Model quality (`GET .../quality`, `quality.quality_figures`) from labels whose right and
wrong answers are known: accuracy per variant, the prequential majority-class baseline, label
coverage, the A/B read-out, and MAE/RMSE with the running-mean baseline for regression."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi import FastAPI
from scipy.stats import norm  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from modelyard.online.intervals import newcombe
from modelyard.online.quality import quality_figures
from tests.conftest import Person
from tests.online.test_feedback_api import endpoint_key, log_prediction, make_endpoint
from tests.serving import fleet

team = fleet.team
BASE = "/api/v1/projects/churn/endpoints"
T, F = True, False
# (variant, label) in the order the labels arrive; a always answers True, b always False
LABELS = [
    ("a", T), ("b", T), ("a", F), ("b", T), ("a", T),
    ("b", F), ("a", F), ("b", T), ("a", F), ("a", T),
]  # fmt: skip
# The majority class of the labels before each one, as the baseline guesses it (none before
# the first, so that one counts as wrong); chosen so that no guess is a tie.
GUESSES = [None, T, T, T, T, T, T, T, T, T]


def test_the_guesses_are_the_running_majority() -> None:
    seen: list[bool] = []
    for (_, label), guess in zip(LABELS, GUESSES, strict=True):
        trues = sum(seen)
        assert trues != len(seen) - trues or not seen, "a tie: the hand count would be ambiguous"
        assert guess == (None if not seen else trues > len(seen) - trues)
        seen.append(label)


def test_classification_quality_matches_the_hand_count(
    team: dict[str, Person], db: Session, app: FastAPI
) -> None:
    owner = team["owner"]
    endpoint_id = make_endpoint(owner, db)  # a and b live with equal weight: a is the champion
    key = {"Authorization": f"Bearer {endpoint_key(owner)}"}
    ids = [
        log_prediction(db, endpoint_id, [variant == "a"], variant=variant, age=10)
        for variant, _ in LABELS
    ]
    # logged, never labelled: 2 more of a, 4 more of b; a shadow's and an old one do not count
    for variant, n in (("a", 2), ("b", 4)):
        for _ in range(n):
            log_prediction(db, endpoint_id, [variant == "a"], variant=variant, age=10)
    log_prediction(db, endpoint_id, [False], variant="b", age=10, shadow=True)
    log_prediction(db, endpoint_id, [True], variant="a", age=2000)

    items = [{"prediction_id": p, "label": y} for p, (_, y) in zip(ids, LABELS, strict=True)]
    assert owner.client.post("/serve/churn/churn/feedback", json=items[:4], headers=key).is_success
    # a restarted control plane rebuilds the baseline from the stored sums
    app.state.online.feedback.baselines.forget(endpoint_id)
    answer = owner.client.post("/serve/churn/churn/feedback", json=items[4:], headers=key)
    assert answer.json() == {"accepted": 6, "duplicates": 0, "late": 0}

    # by hand: a answers True, so it is right where the label is True; b the other way round
    a = [y for v, y in LABELS if v == "a"]
    b = [y for v, y in LABELS if v == "b"]
    assert (sum(a), len(a), len(b) - sum(b), len(b)) == (3, 6, 1, 4)
    base_a = sum(g == y for (v, y), g in zip(LABELS, GUESSES, strict=True) if v == "a")
    base_b = sum(g == y for (v, y), g in zip(LABELS, GUESSES, strict=True) if v == "b")
    assert (base_a, base_b) == (2, 3)

    quality = owner.client.get(f"{BASE}/churn/quality", params={"window": 900}).json()
    summary = {s["variant"]: s for s in quality["summary"]}
    assert set(summary) == {"a", "b"}
    expected: dict[str, dict[str, float]] = {
        "a": {"labels": 6, "accuracy": 3 / 6, "baseline_accuracy": 2 / 6, "label_coverage": 6 / 8},
        "b": {"labels": 4, "accuracy": 1 / 4, "baseline_accuracy": 3 / 4, "label_coverage": 4 / 8},
    }
    for variant, wanted in expected.items():
        for name, value in wanted.items():
            assert summary[variant][name] == pytest.approx(value), (variant, name)
        assert summary[variant]["task"] == "classification"
        assert summary[variant]["mae"] is None and summary[variant]["late"] == 0
        assert summary[variant]["label_delay_seconds"] == pytest.approx(10, abs=3)

    # the A/B read-out: b minus a; the two-proportion z-test pools the arms, the 95%
    # interval (Newcombe's, from two Wilson intervals) does not; too few labels to call
    # anything significant
    [comparison] = quality["comparisons"]
    pooled = 4 / 10
    test_se = math.sqrt(pooled * (1 - pooled) * (1 / 6 + 1 / 4))
    assert (comparison["champion"], comparison["challenger"]) == ("a", "b")
    assert comparison["metric"] == "accuracy" and comparison["labels"] == [6, 4]
    assert comparison["difference"] == pytest.approx(-0.25)
    assert comparison["p_value"] == pytest.approx(2 * norm.sf(0.25 / test_se), rel=1e-9)
    assert (comparison["low"], comparison["high"]) == pytest.approx(newcombe(3, 6, 1, 4))
    assert -1 <= comparison["low"] < -0.25 < comparison["high"] <= 1
    assert comparison["significant"] is False
    # every label is in one step of the series
    series = {s["variant"]: s for s in quality["series"]}
    assert sum(series["a"]["labels"]) == 6 and sum(series["b"]["labels"]) == 4
    assert len(quality["times"]) == len(series["a"]["labels"])

    # the figures alert rules watch are the same numbers
    figures = quality_figures(db, endpoint_id, "a", 900)
    assert figures["labels"] == 6
    assert figures["accuracy"] == pytest.approx(0.5)
    assert figures["baseline_accuracy"] == pytest.approx(2 / 6)
    assert figures["accuracy_vs_baseline"] == pytest.approx(0.5 - 2 / 6)
    assert figures["label_coverage"] == pytest.approx(0.75)
    assert figures["mae"] is None
    whole = quality_figures(db, endpoint_id, None, 900)
    assert whole["labels"] == 10
    assert whole["accuracy"] == pytest.approx(4 / 10)  # label-weighted over the variants
    assert whole["baseline_accuracy"] == pytest.approx(5 / 10)
    assert whole["label_coverage"] == pytest.approx(0.5)  # the worst variant's


def test_regression_errors_the_running_mean_baseline_and_integer_classes(
    team: dict[str, Person], db: Session
) -> None:
    owner = team["owner"]
    endpoint_id = make_endpoint(owner, db)
    predictions = [2.0, 3.5, 1.0]
    labels = [2.5, 3, 4.0]  # an integer label for a float prediction is a number too
    ids = [log_prediction(db, endpoint_id, [p], variant="a", age=5) for p in predictions]
    log_prediction(db, endpoint_id, [9.0], variant="a", age=5)  # not labelled
    items: list[dict[str, Any]] = [
        {"prediction_id": i, "label": y} for i, y in zip(ids, labels, strict=True)
    ]
    assert owner.client.post("/serve/churn/churn/feedback", json=items).json()["accepted"] == 3

    errors = [0.5, 0.5, 3.0]
    # the baseline predicts the mean of the labels before (0 before the first)
    base_errors = [abs(0.0 - 2.5), abs(2.5 - 3), abs(2.75 - 4.0)]
    quality = owner.client.get(f"{BASE}/churn/quality", params={"window": 900}).json()
    [summary] = [s for s in quality["summary"] if s["labels"]]
    assert summary["variant"] == "a" and summary["task"] == "regression"
    assert summary["accuracy"] is None and summary["baseline_accuracy"] is None
    assert summary["mae"] == pytest.approx(sum(errors) / 3)
    assert summary["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 3))
    assert summary["baseline_mae"] == pytest.approx(sum(base_errors) / 3)
    assert summary["baseline_rmse"] == pytest.approx(math.sqrt(sum(e * e for e in base_errors) / 3))
    assert summary["label_coverage"] == pytest.approx(3 / 4)

    # integer predictions are classes: a label sent as 1.0 is class 1, right or wrong as 1 is
    classes = [log_prediction(db, endpoint_id, [c], variant="b", age=5) for c in (1, 0, 2)]
    items = [{"prediction_id": i, "label": y} for i, y in zip(classes, [1.0, 0.0, 1], strict=True)]
    assert owner.client.post("/serve/churn/churn/feedback", json=items).json()["accepted"] == 3
    quality = owner.client.get(f"{BASE}/churn/quality", params={"window": 900}).json()
    [b] = [s for s in quality["summary"] if s["variant"] == "b"]
    assert (b["task"], b["labels"], b["accuracy"]) == ("classification", 3, pytest.approx(2 / 3))
    # the baseline guessed nothing, then 1 (wrong), then 1 (right: 1.0 and 1 are one class)
    assert b["baseline_accuracy"] == pytest.approx(1 / 3)

    figures = quality_figures(db, endpoint_id, "a", 900)
    assert figures["mae"] == pytest.approx(sum(errors) / 3)
    assert figures["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 3))
    assert figures["accuracy"] is None


def test_newcombe_interval_matches_the_published_example() -> None:
    """Newcombe (1998), Statistics in Medicine 17:873, table II: 56/70 vs 48/80, method 10
    gives 0.0524 to 0.3339 for 56/70 - 48/80; and an arm with every label right keeps a
    real width (the Wald interval would be 0 wide there)."""
    low, high = newcombe(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    all_right = newcombe(600, 800, 9, 9)
    assert all_right[1] - all_right[0] > 0.3
