"""Train the {{name}} churn model with scikit-learn, then save it to model/model.pkl.

Run it with `python train.py`. It holds out a quarter of the customers, fits on the rest,
reports how well the model does on the held-out customers, and saves the fitted pipeline.
"""

from __future__ import annotations

import pickle
from pathlib import Path

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
DATASET = "customers"  # the dataset in modelyard's catalog (see modelyard.yaml)
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


def build_model() -> Pipeline:
    # Preprocessing is part of the pipeline, so the saved model scales and encodes new
    # records exactly as it did the training data. `handle_unknown="ignore"` lets it score a
    # contract type it never saw instead of failing.
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC_FEATURES),
            ("contract", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


def main() -> None:
    data = load_customers()
    X, y = data[FEATURES], data[TARGET]
    # A fixed random_state makes the split, and so the scores, the same on every run;
    # stratify keeps the share of churners equal in both parts.
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, test_size=0.25, random_state=42, stratify=y
    )

    model = build_model().fit(X_train, y_train)

    p_churn = model.predict_proba(X_valid)[:, 1]
    print(f"trained on {len(X_train)} customers, validated on {len(X_valid)}")
    print(f"validation accuracy: {accuracy_score(y_valid, p_churn >= 0.5):.3f}")
    print(f"validation ROC AUC: {roc_auc_score(y_valid, p_churn):.3f}")

    MODEL_DIR.mkdir(exist_ok=True)
    with open(MODEL_DIR / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    print(f"model saved to {MODEL_DIR / 'model.pkl'}")


if __name__ == "__main__":
    main()
