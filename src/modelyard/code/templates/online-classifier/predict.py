"""Prediction logic for {{name}}: the model server loads this file and calls `Predictor`.

The server builds one `Predictor(model_dir)` when it starts, then calls `predict` for every
request and `learn` for every label sent back. Because `learn` exists, modelyard treats this
variant as an online learner: the model keeps improving while it serves.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

NUMERIC_FEATURES = ("tenure_months", "monthly_charges", "support_calls")
CATEGORICAL_FEATURES = ("contract",)


def to_features(record: dict[str, Any]) -> dict[str, Any]:
    """Turn one raw record (a CSV row or a request body) into River's feature dict.

    train.py uses this function too, so training and serving read records the same way.
    Values may arrive as strings (from a CSV) or numbers (from JSON); anything not listed
    above, such as `customer_id`, is dropped. A missing feature is simply left out: River
    models accept sparse dicts.
    """
    x: dict[str, Any] = {}
    for name in NUMERIC_FEATURES:
        if record.get(name) not in (None, ""):
            x[name] = float(record[name])
    for name in CATEGORICAL_FEATURES:
        if record.get(name) not in (None, ""):
            x[name] = str(record[name])
    return x


def to_label(value: Any) -> bool:
    """Read a churn label given as a bool, 0/1 or a string such as "1" or "true"."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


class Predictor:
    def __init__(self, model_dir: str) -> None:
        with open(Path(model_dir) / "model.pkl", "rb") as f:
            self.model = pickle.load(f)

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # predict_proba_one returns {False: p_stay, True: p_churn}.
        probability = self.model.predict_proba_one(to_features(inputs)).get(True, 0.0)
        # Plain bool and float (not numpy types) so the answer is JSON-serialisable.
        return {"churn": bool(probability >= 0.5), "probability": float(probability)}

    def learn(self, inputs: dict[str, Any], label: Any) -> None:
        self.model.learn_one(to_features(inputs), to_label(label))
