"""The bar's endpoint written the FastAPI way: pydantic models for the request and answer."""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, create_model

with open(os.environ["BENCH_MODEL"], "rb") as handle:
    model = pickle.load(handle)
FEATURES = [f"f{i}" for i in range(20)]
fields: dict[str, Any] = {f: (float, ...) for f in FEATURES}
Record = create_model("Record", **fields)


class PredictRequest(BaseModel):
    inputs: Record | list[Record]  # type: ignore[valid-type]


class PredictResponse(BaseModel):
    outputs: int | list[int]


app = FastAPI()


@app.post("/predict")
async def predict(request: PredictRequest) -> PredictResponse:
    many = isinstance(request.inputs, list)
    rows = request.inputs if many else [request.inputs]
    outputs = model.predict(np.array([[getattr(r, f) for f in FEATURES] for r in rows])).tolist()
    return PredictResponse(outputs=outputs if many else outputs[0])
