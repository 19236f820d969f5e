"""Train the {{name}} churn model online with River, then save it to model/model.pkl.

Run it with `python train.py`. Each customer is seen once, in order: the model first predicts
the customer's churn, the prediction is scored, and only then does the model learn the true
label. This is *progressive validation*: every score is on data the model had not yet seen,
so no separate test set is needed, and it mirrors how the model will live in production.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

# train.py and predict.py must read a record the same way, so the parsing lives in one place.
from predict import CATEGORICAL_FEATURES, NUMERIC_FEATURES, to_features, to_label
from river import compose, linear_model, metrics, optim, preprocessing

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "customers.csv"
MODEL_DIR = HERE / "model"


def build_model() -> compose.Pipeline:
    # Scale the numbers (River keeps running means and variances) and one-hot the contract
    # type, then feed both into a logistic regression trained by stochastic gradient descent.
    # A learning rate of 0.05 (River's default is 0.01) lets it catch up within a few hundred
    # customers; try others and compare the progressive scores.
    numeric = compose.Select(*NUMERIC_FEATURES) | preprocessing.StandardScaler()
    categorical = compose.Select(*CATEGORICAL_FEATURES) | preprocessing.OneHotEncoder()
    classifier = linear_model.LogisticRegression(optimizer=optim.SGD(0.05))
    return (numeric + categorical) | classifier


def main() -> None:
    model = build_model()
    accuracy = metrics.Accuracy()
    roc_auc = metrics.ROCAUC()

    with open(DATA, newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=1):
            x, y = to_features(row), to_label(row["churned"])
            # 1. predict before learning, 2. score the prediction, 3. learn the answer.
            proba = model.predict_proba_one(x)
            accuracy.update(y, proba.get(True, 0.0) >= 0.5)
            roc_auc.update(y, proba)
            model.learn_one(x, y)
            if n % 500 == 0:
                print(
                    f"[{n:>5} customers] accuracy: {accuracy.get():.3f}  ROC AUC: {roc_auc.get():.3f}"
                )

    print(f"progressive accuracy: {accuracy.get():.3f}")
    print(f"progressive ROC AUC: {roc_auc.get():.3f}")

    MODEL_DIR.mkdir(exist_ok=True)
    with open(MODEL_DIR / "model.pkl", "wb") as f:
        pickle.dump(model, f)
    print(f"model saved to {MODEL_DIR / 'model.pkl'}")


if __name__ == "__main__":
    main()
