"""Small real models pickled into folders, specs that serve them, and an in-process replica
app to ask over httpx (the replica tests and the predictor contract suite share these)."""

from __future__ import annotations

import hashlib
import pickle
import random
import textwrap
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from modelyard.serving.predictors import PredictorCache
from modelyard.serving.recorder import Recorder
from modelyard.serving.replica_app import ReplicaApp
from modelyard.serving.routing_table import build_table
from modelyard.serving.spec import MODEL_FILE, EndpointSpec, Feature, VariantSpec

KEY = "myk_test-key-0123456789"
URL = "/serve/churn/clf/predict"
V2 = "/serve/churn/clf/v2"
FEATURES = (
    Feature("tenure_months", "integer"),
    Feature("monthly_charges", "number"),
    Feature("auto_pay", "boolean"),
)
NAMES = [f.name for f in FEATURES]


def record(i: int = 0) -> dict[str, Any]:
    return {"tenure_months": i % 72, "monthly_charges": 20.0 + (i * 7) % 80, "auto_pay": i % 2 == 0}


def training_rows(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rows = [record(i) for i in range(n)]
    x = np.array([[float(r[name]) for name in NAMES] for r in rows])
    y = (x[:, 1] > 60).astype(int)
    return x, y


def save(folder: Path, model: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / MODEL_FILE).open("wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return folder


def sklearn_model(label: int | None = None, frame: bool = False) -> Any:
    """A LogisticRegression on FEATURES; with `label` it answers that label whatever the
    input (tells variants apart); with `frame` it is fitted on a DataFrame."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_rows()
    data: Any = x
    if frame:
        import pandas as pd

        data = pd.DataFrame(x, columns=NAMES)
    model = LogisticRegression().fit(data, y)
    if label is not None:
        model.coef_[:] = 0.0
        model.intercept_[:] = 50.0 if label == 1 else -50.0
    return model


def sklearn_mixed_model() -> Any:
    """A pipeline fitted on a DataFrame with a text column (the DataFrame path)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rows = [{**record(i), "plan": ("basic", "pro", "team")[i % 3]} for i in range(120)]
    frame = pd.DataFrame(rows)
    y = (frame["monthly_charges"] > 60).astype(int)
    encode = ColumnTransformer(
        [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])], remainder="passthrough"
    )
    return make_pipeline(encode, LogisticRegression(max_iter=500)).fit(frame, y)


def river_model() -> Any:
    from river import linear_model

    model = linear_model.LogisticRegression()
    for i in range(60):
        model.learn_one(record(i), record(i)["monthly_charges"] > 60)
    return model


class Scorer:
    """A pickled object following the Predictor contract (flavor custom, no predict.py)."""

    def predict(self, inputs: dict[str, Any]) -> float:
        return round(float(inputs["monthly_charges"]) / 100.0, 4)


PREDICT_PY = textwrap.dedent(
    """
    import os
    import pickle


    class Predictor:
        def __init__(self, model_dir):
            with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
                self.params = pickle.load(handle)
            self.calls = 0
            self.labels = []

        def predict(self, inputs):
            self.calls += 1
            if inputs["tenure_months"] == 13:
                raise RuntimeError("SECRET-INTERNALS /srv/model/weights.bin is corrupt")
            score = inputs["monthly_charges"] / 100.0
            return {"churn": score > self.params["threshold"], "score": score}

        def learn(self, inputs, label):
            self.labels.append(label)
    """
)

# Counts model calls and the records of each: shows micro-batching at work.
BATCH_PREDICT_PY = textwrap.dedent(
    """
    class Predictor:
        def __init__(self, model_dir):
            self.batches = []

        def predict_batch(self, records):
            self.batches.append(len(records))
            if any(r["tenure_months"] == 13 for r in records):
                raise ValueError("13 breaks the whole batch")
            return [r["monthly_charges"] * 2 for r in records]
    """
)


def custom_code(folder: Path, source: str = PREDICT_PY) -> tuple[Path, Path]:
    """(code_dir with predict.py, model_dir with the parameters it loads)."""
    code = folder / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "predict.py").write_text(source)
    return code, save(folder / "model", {"threshold": 0.6})


def variant(
    name: str,
    model_dir: Path,
    flavor: str = "sklearn",
    weight: float = 1.0,
    mode: str = "live",
    code_dir: Path | None = None,
    signature: tuple[Feature, ...] = FEATURES,
    **options: Any,
) -> VariantSpec:
    model_file = model_dir / MODEL_FILE
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest() if model_file.exists() else name
    return VariantSpec(
        name=name,
        mode=mode,  # type: ignore[arg-type]
        weight=weight,
        model_name="clf",
        model_version=int(options.pop("model_version", 1)),
        flavor=flavor,
        model_dir=str(model_dir),
        model_sha256=digest,
        signature=signature,
        code_dir=str(code_dir) if code_dir is not None else None,
        commit="c0ffee" if code_dir is not None else None,
        **{"batching": False, **options},
    )


def endpoint(*variants: VariantSpec, public: bool = False, **options: Any) -> EndpointSpec:
    return EndpointSpec.build(
        endpoint_id=1,
        project="churn",
        name="clf",
        public=public,
        key_hashes=options.pop("key_hashes", (hashlib.sha256(KEY.encode()).hexdigest(),)),
        variants=variants,
        **options,
    )


def serve(
    spec: EndpointSpec,
    rng: random.Random | None = None,
    cache: PredictorCache | None = None,
) -> ReplicaApp:
    cache = cache or PredictorCache()
    predictors = {v.name: cache.get(v) for v in spec.variants}
    return ReplicaApp(build_table(spec, predictors, rng), Recorder())


def client(app: ReplicaApp, key: str | None = KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://replica", headers=headers
    )
