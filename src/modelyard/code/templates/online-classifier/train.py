"""Train the {{name}} churn model online with River, then save it to model/model.pkl.

Run it with `python train.py`. Each customer is seen once, in order: the model first predicts
the customer's churn, the prediction is scored, and only then does the model learn the true
label. This is *progressive validation*: every score is on data the model had not yet seen,
so no separate test set is needed, and it mirrors how the model will live in production.
"""

from __future__ import annotations

import argparse
import csv
import pickle
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

# train.py and predict.py must read a record the same way, so the parsing lives in one place.
from predict import CATEGORICAL_FEATURES, NUMERIC_FEATURES, to_features, to_label
from river import compose, linear_model, metrics, optim, preprocessing

HERE = Path(__file__).resolve().parent
PROJECT = "{{project}}"
DATASET = "customers"  # the dataset in modelyard's catalog (see modelyard.yaml)
MODEL_NAME = "churn-online"  # the model in modelyard's registry (see modelyard.yaml)
SAMPLE = HERE / "data" / "customers.csv"
MODEL_DIR = HERE / "model"


def customers() -> Iterator[dict[str, Any]]:
    """The customers to learn from, in signup order.

    With a modelyard login (`modelyard login URL`) they come from the `customers` dataset
    in the catalog, read through the server, so nobody needs the database's password.
    Without one (offline, or modelyard not installed) the sample shipped in data/ is used.
    """
    try:
        import modelyard

        frame = modelyard.dataset(DATASET).to_pandas()
        print(f"reading {len(frame)} customers from the modelyard dataset {DATASET!r}")
        yield from frame.to_dict("records")
        return
    except ImportError:
        reason = "modelyard is not installed here"
    except modelyard.ModelyardError as exc:
        reason = str(exc)
    print(f"using the sample in {SAMPLE.relative_to(HERE)} ({reason})")
    with open(SAMPLE, newline="") as f:
        yield from csv.DictReader(f)


def tracked_run(params: dict[str, Any]) -> AbstractContextManager[Any]:
    """A modelyard run recording this training, or a stand-in when there is no login."""
    try:
        import modelyard

        name = f"online lr={params['learning_rate']}"
        return modelyard.start_run(project=PROJECT, name=name, params=params)
    except ImportError:
        reason = "modelyard is not installed here"
    except modelyard.ModelyardError as exc:
        reason = str(exc)
    print(f"not recording this run in modelyard ({reason})")
    return nullcontext(None)


def build_model(learning_rate: float = 0.05) -> compose.Pipeline:
    # Scale the numbers (River keeps running means and variances) and one-hot the contract
    # type, then feed both into a logistic regression trained by stochastic gradient descent.
    # A learning rate of 0.05 (River's default is 0.01) lets it catch up within a few hundred
    # customers; try others and compare the progressive scores.
    numeric = compose.Select(*NUMERIC_FEATURES) | preprocessing.StandardScaler()
    categorical = compose.Select(*CATEGORICAL_FEATURES) | preprocessing.OneHotEncoder()
    classifier = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
    return (numeric + categorical) | classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument(
        "--no-register", action="store_true", help="record the run, but do not register the model"
    )
    parser.add_argument(
        "--alias", help="also point this alias (e.g. candidate) at the registered version"
    )
    options = parser.parse_args()

    with tracked_run({"learning_rate": options.learning_rate}) as run:
        model = build_model(options.learning_rate)
        accuracy = metrics.Accuracy()
        roc_auc = metrics.ROCAUC()
        first_x: dict[str, Any] | None = None

        for n, row in enumerate(customers(), start=1):
            x, y = to_features(row), to_label(row["churned"])
            first_x = first_x or x
            # 1. predict before learning, 2. score the prediction, 3. learn the answer.
            proba = model.predict_proba_one(x)
            accuracy.update(y, proba.get(True, 0.0) >= 0.5)
            roc_auc.update(y, proba)
            model.learn_one(x, y)
            if n % 500 == 0:
                print(
                    f"[{n:>5} customers] accuracy: {accuracy.get():.3f}  "
                    f"ROC AUC: {roc_auc.get():.3f}"
                )
                if run is not None:
                    scores = {
                        "progressive_accuracy": accuracy.get(),
                        "progressive_roc_auc": roc_auc.get(),
                    }
                    run.log_metrics(scores, step=n)

        print(f"progressive accuracy: {accuracy.get():.3f}")
        print(f"progressive ROC AUC: {roc_auc.get():.3f}")

        MODEL_DIR.mkdir(exist_ok=True)
        with open(MODEL_DIR / "model.pkl", "wb") as f:
            pickle.dump(model, f)
        print(f"model saved to {MODEL_DIR / 'model.pkl'}")

        if run is not None:
            run.log_metrics(
                {"progressive_accuracy": accuracy.get(), "progressive_roc_auc": roc_auc.get()},
                step=n,
            )
        registered = None
        if run is not None and not options.no_register:
            registered = run.log_model(model, MODEL_NAME, input_example=first_x).version
            print(f"registered {MODEL_NAME} version {registered} (run {run.id}: {run.url})")

    if registered is not None and options.alias:
        name_version(options.alias, registered)


def name_version(alias: str, version: int) -> None:
    """Point an alias at the version this run registered. Outside the run: the run and its
    model are fine whether or not the alias can be set (a typo, or a viewer's login)."""
    import modelyard

    try:
        modelyard.connect().models.set_alias(PROJECT, MODEL_NAME, alias, version)
    except modelyard.ModelyardError as exc:
        print(f"could not point {MODEL_NAME}@{alias} at version {version}: {exc}")
        return
    print(f"{MODEL_NAME}@{alias} now points at version {version}")


if __name__ == "__main__":
    main()
