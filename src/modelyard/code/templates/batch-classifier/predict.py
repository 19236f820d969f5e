"""Prediction logic for {{name}}: the model server loads this file and calls `Predictor`.

The server builds one `Predictor(model_dir)` when it starts, then calls `predict` for every
request. There is no `learn` method: this model is retrained in batch by running train.py
again, not updated while it serves.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pandas as pd

NUMERIC_FEATURES = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL_FEATURES = ["contract"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def to_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records (dicts from a request body) as a DataFrame shaped like the training data.

    The model was fitted on a DataFrame with these columns in this order; giving it the same
    columns keeps scikit-learn's feature-name check happy. Extra keys (such as `customer_id`)
    are ignored; a missing feature is an error rather than a silent guess.
    """
    missing = sorted({name for r in records for name in FEATURES if name not in r})
    if missing:
        raise ValueError(f"missing input field(s): {', '.join(missing)}")
    frame = pd.DataFrame([{name: r[name] for name in FEATURES} for r in records])
    frame[NUMERIC_FEATURES] = frame[NUMERIC_FEATURES].astype(float)
    frame[CATEGORICAL_FEATURES] = frame[CATEGORICAL_FEATURES].astype(str)
    return frame


class Predictor:
    def __init__(self, model_dir: str) -> None:
        with open(Path(model_dir) / "model.pkl", "rb") as f:
            self.model = pickle.load(f)

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # predict_proba gives one row per record and one column per class: [p_stay, p_churn].
        probability = self.model.predict_proba(to_frame([inputs]))[0, 1]
        # Plain bool and float (not numpy types) so the answer is JSON-serialisable.
        return {"churn": bool(probability >= 0.5), "probability": float(probability)}
