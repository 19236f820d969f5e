"""The ASGI app of a replica: native predictions and the Open Inference Protocol (V2).

A raw ASGI callable with orjson rather than a framework: the per-request path is most of
a replica's cost besides the model, and the speed budget (90 % of a hand-written Starlette
endpoint with routing, validation and telemetry on) leaves no room for per-request
routing tables, request objects or pydantic models. The path is: exact-path lookup, a
header scan, auth (a cached hash), the body, orjson, the router, the validator, the
model, orjson, two sends; metrics and prediction logs are appended after the response,
shadow variants run after that, inside the same call.

Errors have modelyard's shape `{"error": {"code", "message", "field"}}`; a model that
raises answers 500 with an error id whose traceback goes to stderr, never to the client.
"""

from __future__ import annotations

import logging
import os
import time
from time import perf_counter
from typing import Any

import orjson

from modelyard.serving import open_inference
from modelyard.serving.admission import (
    Admission,
    Receive,
    Reject,
    Scope,
    Send,
    send_json,
    wrong_method,
)
from modelyard.serving.inputs import InputError
from modelyard.serving.recorder import PredictionIds, Recorder
from modelyard.serving.routing_table import (
    PREDICT,
    V2_INFER,
    V2_LIVE,
    V2_MODEL,
    V2_READY,
    Table,
    Variant,
)

log = logging.getLogger("modelyard.serving.replica")

_FIELDS = frozenset({"inputs", "key"})
_TRAFFIC = (PREDICT, V2_INFER)
# (records, single, key, outputs, ids, at): what the log and the shadows need afterwards.
Answered = tuple[list[dict[str, Any]], bool, "str | None", list[Any], list[str], float]


class ReplicaApp:
    """Serves `table`; assign a new Table to `table` to switch specs (see routing_table.py)."""

    def __init__(self, table: Table, recorder: Recorder, ids: PredictionIds | None = None) -> None:
        self.table = table
        self.recorder = recorder
        self.ids = ids or PredictionIds()
        self._admission = Admission()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        started = perf_counter()
        table = self.table  # this request's table, whatever gets swapped in meanwhile
        recorder = self.recorder
        recorder.inflight += 1
        answered: Answered | None = None
        variant = ""
        route = table.routes.get(scope["path"])
        try:
            if route == PREDICT:
                variant, answered = await self._predict(scope, receive, send, table)
            elif route == V2_INFER:
                variant, answered = await self._infer(scope, receive, send, table)
            elif route is None:
                raise Reject(404, "not_found", f"nothing at {scope['path']}")
            else:
                await self._v2_get(route, scope, send, table)
            status = 200
        except Reject as reject:
            status, variant = reject.status, reject.variant
            await send_json(send, status, reject.body, reject.headers)
        finally:
            recorder.inflight -= 1
        if status == 200 and route not in _TRAFFIC:
            return  # health and metadata reads are not traffic: they stay out of the charts
        latency = perf_counter() - started
        recorder.request(variant, status, latency)
        if answered is not None:
            records, _, key, outputs, ids, at = answered
            latency_ms = latency * 1000.0
            if len(records) == 1:
                recorder.log((ids[0], at, variant, False, records[0], outputs[0], latency_ms, key))
            else:
                recorder.log_many(
                    [
                        (pid, at, variant, False, record, output, latency_ms, key)
                        for pid, record, output in zip(ids, records, outputs, strict=True)
                    ]
                )
            if table.shadows:
                await self._shadow(table, answered)

    # --- native ------------------------------------------------------------------------

    async def _predict(
        self, scope: Scope, receive: Receive, send: Send, table: Table
    ) -> tuple[str, Answered]:
        body = await self._admission(scope, receive, table, "POST")
        payload = _loads(body)
        if type(payload) is not dict:
            raise Reject(422, "invalid_input", "the body must be a JSON object", "body")
        if len(payload) > 1 and not payload.keys() <= _FIELDS:
            extra = sorted(payload.keys() - _FIELDS)[0]
            raise Reject(
                422, "invalid_input", f"unknown field {extra} (expected inputs, key)", extra
            )
        key = payload.get("key")
        if key is not None and (type(key) is not str or not _usable_key(key)):
            raise Reject(
                422, "invalid_input", "key must be a string of 1-200 printable characters", "key"
            )
        inputs = payload.get("inputs")
        if type(inputs) is dict:
            records, single = [inputs], True
        elif type(inputs) is list:
            records, single = inputs, False
            if not records:
                raise Reject(422, "invalid_input", "the batch is empty", "inputs")
            limit = table.spec.max_batch_records
            if len(records) > limit:
                raise Reject(
                    422, "invalid_input", f"a batch holds at most {limit} records", "inputs"
                )
        elif inputs is None and "inputs" not in payload:
            raise Reject(422, "invalid_input", "inputs is required", "inputs")
        else:
            raise Reject(
                422,
                "invalid_input",
                "inputs must be an object (one record) or a list of objects (a batch)",
                "inputs",
            )
        variant = _route(table, key)
        outputs = await self._run(variant, records, single)
        at = time.time()
        new_id = self.ids.new
        if single:
            ids = [new_id(at)]
            content: dict[str, Any] = {
                "outputs": outputs[0],
                "prediction_id": ids[0],
                "variant": variant.name,
            }
        else:
            ids = [new_id(at) for _ in records]
            content = {"outputs": outputs, "prediction_ids": ids, "variant": variant.name}
        await send_json(send, 200, _dumps(content, variant.name))
        return variant.name, (records, single, key, outputs, ids, at)

    # --- Open Inference Protocol ---------------------------------------------------------

    async def _infer(
        self, scope: Scope, receive: Receive, send: Send, table: Table
    ) -> tuple[str, Answered]:
        body = await self._admission(scope, receive, table, "POST")
        try:
            records, request_id, key = open_inference.parse_infer(
                _loads(body), table.spec.max_batch_records
            )
        except InputError as error:
            raise Reject(422, "invalid_input", error.message, error.field) from None
        variant = _route(table, key)
        outputs = await self._run(variant, records, False)
        at = time.time()
        ids = [self.ids.new(at) for _ in records]
        content = open_inference.infer_response(
            table.spec.name, variant.spec.model_version, request_id, outputs, variant.name, ids
        )
        await send_json(send, 200, _dumps(content, variant.name))
        return variant.name, (records, False, key, outputs, ids, at)

    async def _v2_get(self, route: int, scope: Scope, send: Send, table: Table) -> None:
        if scope["method"] != "GET":
            raise wrong_method("GET")
        name = table.spec.name
        if route == V2_LIVE:
            content: dict[str, Any] = {"live": True}
        elif route == V2_MODEL:
            self._admission.authorize(scope, table)
            content = open_inference.model_metadata(table.spec)
        else:
            if not table.ready:
                raise _no_traffic()
            content = {"ready": True} if route == V2_READY else {"name": name, "ready": True}
        await send_json(send, 200, orjson.dumps(content))

    # --- shared steps --------------------------------------------------------------------

    async def _run(self, variant: Variant, records: list[Any], single: bool) -> list[Any]:
        try:
            variant.validate(records, single)
        except InputError as error:
            raise Reject(422, "invalid_input", error.message, error.field, variant.name) from None
        try:
            if variant.batcher is not None:
                return await variant.batcher.predict(records)
            return variant.predictor.predict_batch(records)
        except Exception as exc:
            raise _failure(variant.name, exc) from None

    async def _shadow(self, table: Table, answered: Answered) -> None:
        """Each shadow variant predicts the request the client already has its answer to;
        its outputs are only logged, under the live prediction's id (shadow=True), so the
        two answers (and later feedback) join on that id."""
        records, single, key, _, ids, at = answered
        recorder = self.recorder
        for variant in table.shadows:
            started = perf_counter()
            try:
                outputs = await self._run(variant, records, single)
            except Reject as reject:
                recorder.request(variant.name, reject.status, perf_counter() - started)
                continue
            latency = perf_counter() - started
            recorder.request(variant.name, 200, latency)
            name, latency_ms = variant.name, latency * 1000.0
            recorder.log_many(
                [
                    (pid, at, name, True, record, output, latency_ms, key)
                    for pid, record, output in zip(ids, records, outputs, strict=True)
                ]
            )


def _route(table: Table, key: str | None) -> Variant:
    try:
        return table.router.pick(key)
    except IndexError:
        raise _no_traffic() from None


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Reject(400, "invalid_json", "the request body is not valid JSON", "body") from None


def _dumps(content: dict[str, Any], variant: str) -> bytes:
    try:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:  # the model answered something JSON cannot hold
        raise _failure(variant, exc) from None


def _failure(variant: str, exc: BaseException) -> Reject:
    error_id = os.urandom(4).hex()
    log.error("prediction failed on variant %s (error id %s)", variant, error_id, exc_info=exc)
    return Reject(
        500,
        "prediction_failed",
        f"the model failed on this input (error id {error_id})",
        variant=variant,
    )


def _no_traffic() -> Reject:
    return Reject(
        503,
        "unavailable",
        "this endpoint has no live variant with traffic (every weight is 0)",
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _usable_key(key: str) -> bool:
    """Sticky keys are logged and stored: no control characters (PostgreSQL refuses NUL)."""
    return 0 < len(key) <= 200 and key.isprintable()
