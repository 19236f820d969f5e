"""/serve/{project}/{endpoint}/...: the control plane's door to every endpoint. It forwards
the request to the endpoint's replica pool, which checks the key, validates and predicts;
apps may also call the pool's own port directly for the lowest latency."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from modelyard.errors import (
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from modelyard.http_errors import SERVING_RESPONSES
from modelyard.serving.runtime import Serving, ServingDep

router = APIRouter(tags=["serving"], responses=SERVING_RESPONSES)
FORWARDED_HEADERS = ("content-type", "authorization", "x-api-key", "accept")


PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "inputs": {
                        "oneOf": [
                            {"type": "object", "description": "one record"},
                            {"type": "array", "items": {"type": "object"}, "minItems": 1},
                        ]
                    },
                    "key": {"type": "string", "description": "sticky A/B assignment"},
                },
            }
        }
    },
}


@router.post(
    "/serve/{project}/{endpoint}/predict",
    response_class=Response,
    summary="Predict one record or a batch; answers outputs, prediction_id(s) and variant",
    openapi_extra={"requestBody": PREDICT_BODY},
)
async def predict(project: str, endpoint: str, request: Request, serving: ServingDep) -> Response:
    return await _forward(project, endpoint, request, serving)


@router.post(
    "/serve/{project}/{endpoint}/v2/models/{model}/infer",
    response_class=Response,
    summary="Open Inference Protocol (V2) inference",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}},
)
async def infer(
    project: str, endpoint: str, model: str, request: Request, serving: ServingDep
) -> Response:
    return await _forward(project, endpoint, request, serving)


@router.get(
    "/serve/{project}/{endpoint}/v2/{path:path}",
    response_class=Response,
    summary="Open Inference Protocol (V2): health/live, health/ready, models/{m}, models/{m}/ready",
)
async def open_inference(
    project: str, endpoint: str, path: str, request: Request, serving: ServingDep
) -> Response:
    return await _forward(project, endpoint, request, serving)


async def _forward(project: str, endpoint: str, request: Request, serving: Serving) -> Response:
    found = await run_in_threadpool(serving.route, project, endpoint)
    if found is None:
        raise NotFoundError(f"no endpoint {endpoint!r} in project {project!r}", field="endpoint")
    endpoint_id, state = found
    if state != "running":
        raise ServiceUnavailableError(
            f"endpoint {project}/{endpoint} is stopped: start it from its page or with "
            f"`modelyard endpoints start {endpoint} --project {project}`"
        )
    port = serving.supervisor.port(endpoint_id)
    if port is None or serving.http is None:
        raise ServiceUnavailableError(f"endpoint {project}/{endpoint} is starting; try again")
    body = await _read(request, serving.settings.serving_max_body_bytes)
    host = serving.settings.serving_host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}{request.url.path}"
    headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
    try:
        answer = await serving.http.request(
            request.method, url, content=body, headers=headers, params=request.query_params
        )
    except httpx.HTTPError:
        raise ServiceUnavailableError(
            f"endpoint {project}/{endpoint} did not answer; it may be restarting, try again"
        ) from None
    return Response(
        answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type", "application/json"),
    )


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request bodies are limited to {limit} bytes", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request bodies are limited to {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)
