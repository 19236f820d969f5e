"""Train the {{name}} churn model with scikit-learn, then save it to model/model.pkl.

Run it with `python train.py [--C 0.5]`, or on the modelyard server with
`modelyard run train.py --project {{project}} -- --C 0.5`. It holds out a quarter of the
customers, fits on the rest, reports how well the model does on the held-out customers, and
saves the fitted pipeline. With a modelyard login, the whole run is recorded in the project:
its parameters, scores, the data it read, the commit, and the model as a new version of
`churn-clf` in the registry.
"""

from __future__ import annotations

import argparse
import pickle
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

# train.py and predict.py must agree on the model's inputs, so the list lives in one place.
from predict import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
PROJECT = "{{project}}"
DATASET = "customers"  # the dataset in modelyard's catalog (see modelyard.yaml)
MODEL_NAME = "churn-clf"  # the model in modelyard's registry (see modelyard.yaml)
SAMPLE = HERE / "data" / "customers.csv"
MODEL_DIR = HERE / "model"
TARGET = "churned"


def load_customers() -> pd.DataFrame:
    """The customers to train on.

    With a modelyard login (`modelyard login URL`) they come from the `customers` dataset
    in the catalog, read through the server, so nobody needs the database's password.
    Without one (offline, or modelyard not installed) the sample shipped in data/ is used.
    """
    try:
        import modelyard

        frame = modelyard.dataset(DATASET).to_pandas(columns=[*FEATURES, TARGET])
        print(f"read {len(frame)} customers from the modelyard dataset {DATASET!r}")
        return frame
    except ImportError:
        reason = "modelyard is not installed here"
    except modelyard.ModelyardError as exc:
        reason = str(exc)
    print(f"using the sample in {SAMPLE.relative_to(HERE)} ({reason})")
    return pd.read_csv(SAMPLE)


def tracked_run(params: dict[str, Any]) -> AbstractContextManager[Any]:
    """A modelyard run recording this training, or a stand-in when there is no login."""
    try:
        import modelyard

        return modelyard.start_run(project=PROJECT, name=f"logreg C={params['C']}", params=params)
    except ImportError:
        reason = "modelyard is not installed here"
    except modelyard.ModelyardError as exc:
        reason = str(exc)
    print(f"not recording this run in modelyard ({reason})")
    return nullcontext(None)


def build_model(C: float = 1.0, max_iter: int = 1000) -> Pipeline:
    # Preprocessing is part of the pipeline, so the saved model scales and encodes new
    # records exactly as it did the training data. `handle_unknown="ignore"` lets it score a
    # contract type it never saw instead of failing.
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC_FEATURES),
            ("contract", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
        ]
    )
    classifier = LogisticRegression(C=C, max_iter=max_iter)
    return Pipeline([("features", features), ("classifier", classifier)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--max-iter", type=int, default=1000)
    options = parser.parse_args()
    params = {"C": options.C, "max_iter": options.max_iter, "test_size": 0.25}

    with tracked_run(params) as run:
        data = load_customers()
        X, y = data[FEATURES], data[TARGET]
        # A fixed random_state makes the split, and so the scores, the same on every run;
        # stratify keeps the share of churners equal in both parts.
        X_train, X_valid, y_train, y_valid = train_test_split(
            X, y, test_size=0.25, random_state=42, stratify=y
        )

        model = build_model(options.C, options.max_iter).fit(X_train, y_train)

        p_churn = model.predict_proba(X_valid)[:, 1]
        scores = {
            "validation_accuracy": accuracy_score(y_valid, p_churn >= 0.5),
            "validation_roc_auc": roc_auc_score(y_valid, p_churn),
        }
        print(f"trained on {len(X_train)} customers, validated on {len(X_valid)}")
        print(f"validation accuracy: {scores['validation_accuracy']:.3f}")
        print(f"validation ROC AUC: {scores['validation_roc_auc']:.3f}")

        MODEL_DIR.mkdir(exist_ok=True)
        with open(MODEL_DIR / "model.pkl", "wb") as f:
            pickle.dump(model, f)
        print(f"model saved to {MODEL_DIR / 'model.pkl'}")

        if run is not None:
            run.log_metrics(scores)
            version = run.log_model(model, MODEL_NAME, input_example=X_train)
            print(f"registered {MODEL_NAME} version {version.version} (run {run.id}: {run.url})")


if __name__ == "__main__":
    main()
