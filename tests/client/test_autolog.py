"""`modelyard.autolog()` for scikit-learn and River, against a live server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from river import compose, evaluate, linear_model, metrics, preprocessing
from sklearn import metrics as sk_metrics
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import modelyard
from modelyard.client import Client
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")
UNPATCHED_FIT = LogisticRegression.fit


@pytest.fixture(autouse=True)
def _autolog() -> Iterator[None]:
    modelyard.autolog()
    yield
    modelyard.autolog(disable=True)


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Iterator[Client]:
    with modelyard.connect(live_server.url, people("alice").token) as client:
        client.projects.create("churn", "Churn")
        yield client


def churn(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(18, 80, rows),
            "spend": rng.normal(50, 20, rows),
            "visits": rng.integers(0, 30, rows),
        }
    )
    noise = rng.normal(0, 10, rows)
    return frame, (frame["age"] + frame["visits"] + noise > 65).astype(int)


def metric_keys(client: Client, run_id: int) -> dict[str, int]:
    return {m["key"]: m["count"] for m in client.runs.get(run_id)["latest_metrics"]}


def test_a_fit_logs_params_training_and_validation_scores(alice: Client) -> None:
    x_train, y_train = churn(200, seed=1)
    x_val, y_val = churn(80, seed=2)
    weights = np.linspace(0.5, 1.5, len(y_train))
    with modelyard.start_run(project="churn", name="lr", client=alice) as run:
        model = LogisticRegression(C=0.5, max_iter=300)
        assert model.fit(x_train, y_train, sample_weight=weights) is model
        assert run.training_input is x_train
        run.flush()
        assert set(metric_keys(alice, run.id)) == {
            "training_accuracy_score",
            "training_f1_score",
            "training_precision_score",
            "training_recall_score",
            "training_roc_auc",
            "training_log_loss",
            "training_score",
        }
        validation_score = model.score(x_val, y_val)
        auc = sk_metrics.roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])
        later_score = model.score(x_val[:40], y_val[:40])
        model.score(x_train, y_train)  # the training data: already logged as training_score
        sk_metrics.accuracy_score(y_train, model.predict(x_train))
    stored = alice.runs.get(run.id)
    assert stored["params"]["C"] == "0.5" and stored["params"]["max_iter"] == "300"
    assert stored["tags"]["estimator_name"] == "LogisticRegression"
    assert stored["tags"]["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    logged = stored["metrics"]
    predicted = model.predict(x_train)
    probabilities = model.predict_proba(x_train)
    expected = {
        "training_accuracy_score": sk_metrics.accuracy_score(
            y_train, predicted, sample_weight=weights
        ),
        "training_f1_score": sk_metrics.f1_score(
            y_train, predicted, average="weighted", sample_weight=weights
        ),
        "training_roc_auc": sk_metrics.roc_auc_score(
            y_train, probabilities[:, 1], sample_weight=weights
        ),
        "training_log_loss": sk_metrics.log_loss(y_train, probabilities, sample_weight=weights),
        "training_score": model.score(x_train, y_train, sample_weight=weights),
        "validation_roc_auc_score": auc,
        "validation_score": later_score,
    }
    for key, value in expected.items():
        assert logged[key] == pytest.approx(value), key
    history = alice.runs.metric_history(run.id, "validation_score")
    assert history["steps"] == [0, 1]
    assert history["values"] == pytest.approx([validation_score, later_score])
    assert "validation_accuracy_score" not in logged  # predictions on the training data


def test_a_pipeline_logs_once_and_a_search_logs_its_best_params(alice: Client) -> None:
    x, y = churn(150, seed=3)
    with modelyard.start_run(project="churn", name="pipeline", client=alice) as run:
        pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=2.0))])
        pipeline.fit(x, y)
        accuracy = sk_metrics.accuracy_score(y[:50], pipeline.predict(x[:50]))
    stored = alice.runs.get(run.id)
    assert stored["tags"]["estimator_name"] == "Pipeline"
    assert "C" not in stored["params"]  # the steps' own fits did not log
    assert "LogisticRegression(C=2.0)" in stored["params"]["steps"]
    counts = metric_keys(alice, run.id)
    assert counts["training_score"] == 1 and counts["training_roc_auc"] == 1
    assert stored["metrics"]["validation_accuracy_score"] == pytest.approx(accuracy)

    with modelyard.start_run(project="churn", name="search", client=alice) as run:
        search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=3).fit(x, y)
    stored = alice.runs.get(run.id)
    assert stored["params"]["estimator"] == "LogisticRegression"
    assert stored["params"]["best_C"] == str(search.best_params_["C"])
    assert "C" not in stored["params"]
    assert stored["metrics"]["best_cv_score"] == pytest.approx(search.best_score_)
    assert metric_keys(alice, run.id)["training_score"] == 1


def test_nothing_is_logged_without_a_run_or_once_disabled(alice: Client) -> None:
    x, y = churn(100, seed=4)
    model = LogisticRegression().fit(x, y)  # no active run: nothing happens
    with modelyard.start_run(project="churn", name="later", client=alice) as run:
        model.score(x[:30], y[:30])
        sk_metrics.roc_auc_score(y, model.predict_proba(x)[:, 1])
    stored = alice.runs.get(run.id)
    assert stored["params"] == {} and stored["metrics"] == {} and stored["tags"] == {}

    with modelyard.start_run(project="churn", name="folds", client=alice) as run:
        scores = cross_val_score(LogisticRegression(C=0.3), x, y, cv=3)
    assert len(scores) == 3
    stored = alice.runs.get(run.id)  # the folds are not the model: nothing to log
    assert stored["params"] == {} and stored["metrics"] == {} and stored["tags"] == {}

    modelyard.autolog()  # again: still one layer of patching
    assert LogisticRegression.fit.__wrapped__ is UNPATCHED_FIT
    modelyard.autolog(disable=True)
    assert LogisticRegression.fit is UNPATCHED_FIT
    with modelyard.start_run(project="churn", name="disabled", client=alice) as run:
        LogisticRegression().fit(x, y).score(x[:30], y[:30])
    stored = alice.runs.get(run.id)
    assert stored["params"] == {} and stored["metrics"] == {}


def test_a_failure_to_log_is_a_warning_and_the_fit_goes_on(alice: Client) -> None:
    x, y = churn(100, seed=5)
    with modelyard.start_run(project="churn", name="twice", client=alice) as run:
        LogisticRegression(C=1.0).fit(x, y)
        with pytest.warns(UserWarning, match="could not log the params of LogisticRegression"):
            model = LogisticRegression(C=3.0).fit(x, y)  # params are write-once
        assert model.coef_.shape == (1, 3)
        with pytest.raises(ValueError):  # the user's own error still arrives as it was
            LogisticRegression(C=-1.0).fit(x, y)
    stored = alice.runs.get(run.id)
    assert stored["params"]["C"] == "1.0"
    assert metric_keys(alice, run.id)["training_score"] == 2


def test_log_model_after_an_autologged_fit_records_the_columns(alice: Client) -> None:
    x, y = churn(100, seed=6)
    modelyard.autolog(log_models=True)
    with modelyard.start_run(project="churn", name="signature", client=alice) as run:
        model = LogisticRegression().fit(x, y)
        version = run.log_model(model, "churn-clf")
    assert version.signature == [
        {"name": "age", "type": "number"},
        {"name": "spend", "type": "number"},
        {"name": "visits", "type": "integer"},  # from the frame: the model alone does not know
    ]
    assert [a["path"] for a in alice.runs.get(run.id)["artifacts"]] == ["model/model.pkl"]


def stream(rows: int) -> list[tuple[dict[str, float], bool]]:
    x, y = churn(rows, seed=7)
    return [
        ({k: float(v) for k, v in row.items()}, bool(label))
        for row, label in zip(x.to_dict("records"), y, strict=True)
    ]


def river_model() -> Any:
    return compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())


def test_progressive_validation_logs_the_metric_as_it_goes(
    alice: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    modelyard.autolog(river_log_every=200)
    data = stream(1030)
    with modelyard.start_run(project="churn", name="online", client=alice) as run:
        metric = metrics.ROCAUC()
        returned = evaluate.progressive_val_score(data, river_model(), metric)
        assert run.training_input == data[0][0]
        version = run.log_model(river_model(), "churn-online")
    assert returned is metric and capsys.readouterr().out == ""
    history = alice.runs.metric_history(run.id, "progressive_rocauc")
    assert history["steps"] == [200, 400, 600, 800, 1000, 1030]
    assert history["values"][-1] == pytest.approx(metric.get())
    stored = alice.runs.get(run.id)
    assert stored["tags"]["estimator_class"] == "river.compose.pipeline.Pipeline"
    assert stored["params"]["LogisticRegression.optimizer"] == "SGD"
    assert stored["params"]["LogisticRegression.optimizer.lr.learning_rate"] == "0.01"
    assert [f["name"] for f in version.signature] == ["age", "spend", "visits"]

    # Printing every 250 samples: the same lines as without autolog, logged at the same steps.
    modelyard.autolog(disable=True)
    plain = metrics.Accuracy() + metrics.LogLoss()
    evaluate.progressive_val_score(data, river_model(), plain, print_every=250)
    printed = capsys.readouterr().out
    modelyard.autolog()
    with modelyard.start_run(project="churn", name="printing", client=alice) as run:
        both = metrics.Accuracy() + metrics.LogLoss()
        evaluate.progressive_val_score(data, river_model(), both, print_every=250)
    assert capsys.readouterr().out == printed and printed.count("] Accuracy") == 5
    for key, member in (("progressive_accuracy", both[0]), ("progressive_logloss", both[1])):
        history = alice.runs.metric_history(run.id, key)
        assert history["steps"] == [250, 500, 750, 1000, 1030]
        assert history["values"][-1] == pytest.approx(member.get())


def test_iter_progressive_val_score_yields_what_it_yielded(alice: Client) -> None:
    data = stream(300)
    checkpoints = evaluate.iter_progressive_val_score(
        data, river_model(), metrics.Accuracy(), step=100
    )
    plain = [(c["Step"], c["Accuracy"].get()) for c in checkpoints]
    with modelyard.start_run(project="churn", name="iter", client=alice) as run:
        checkpoints = evaluate.iter_progressive_val_score(
            data, river_model(), metrics.Accuracy(), step=100
        )
        logged = [(c["Step"], c["Accuracy"].get()) for c in checkpoints]
    assert logged == plain and [step for step, _ in plain] == [100, 200, 300]
    history = alice.runs.metric_history(run.id, "progressive_accuracy")
    assert history["steps"] == [100, 200, 300]
    assert history["values"] == pytest.approx([value for _, value in plain])


def test_importing_modelyard_imports_neither_library() -> None:
    code = "import sys, modelyard; print([m for m in ('sklearn', 'river') if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
