"""The bar: a hand-written Starlette endpoint with stdlib json and one `model.predict` call.

`predict` runs on the event loop as a hand-written endpoint would do it: a hop to a thread
costs more than the ~100 µs call. BENCH_MODEL names the pickled model.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

with open(os.environ["BENCH_MODEL"], "rb") as handle:
    model = pickle.load(handle)
FEATURES = [f"f{i}" for i in range(20)]


async def predict(request: Request) -> Response:
    inputs = json.loads(await request.body())["inputs"]
    rows = inputs if isinstance(inputs, list) else [inputs]
    outputs = model.predict(np.array([[row[f] for f in FEATURES] for row in rows])).tolist()
    answer = {"outputs": outputs if isinstance(inputs, list) else outputs[0]}
    return Response(json.dumps(answer), media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
