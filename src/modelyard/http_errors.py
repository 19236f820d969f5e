"""The one place that turns exceptions into HTTP answers.

API clients get `{"error": {"code", "message", "field"}}` with the status of the error class;
portal pages get an HTML page through the renderer `create_app` passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from modelyard.errors import (
    ConflictError,
    InvalidInputError,
    ModelyardError,
    NotFoundError,
    RateLimitedError,
)
from modelyard.validation import describe_validation

log = logging.getLogger("modelyard")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorBody(BaseModel):
    """The shape of every error answer of the API."""

    error: ErrorDetail


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


# Declared on every API router so the OpenAPI document shows the real error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Malformed request (e.g. a body that is not JSON)"),
    401: _described("No valid credentials"),
    403: _described("The caller's role does not allow this"),
    404: _described("Not found, or not visible to the caller"),
    409: _described("Conflicts with stored data"),
    422: _described("A field is invalid; `error.field` names it"),
}
# what the prediction routes may answer besides: a stopped endpoint, a body over the limit
SERVING_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    413: _described("The body is over the configured size limit"),
    503: _described("The endpoint is stopped (or its replicas are starting)"),
}

# what the password sign-in routes may answer besides: too many failed attempts
THROTTLED_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {
        **_described(
            "Too many failed sign-ins for this username or from this address: refused "
            "without checking the password, even a right one"
        ),
        "headers": {
            "Retry-After": {
                "description": "seconds until a sign-in is accepted again",
                "schema": {"type": "integer"},
            }
        },
    },
}

HtmlRenderer = Callable[[Request, ModelyardError], Response]
MACHINE_PREFIXES = (
    "/api/",
    "/serve/",
    "/internal/",
    "/git/",
    "/healthz",
    "/metrics",
    "/openapi.json",
)

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}}, status_code=status
    )


def install(app: FastAPI, render_html: HtmlRenderer | None = None) -> None:
    def wants_html(request: Request) -> bool:
        return render_html is not None and not request.url.path.startswith(MACHINE_PREFIXES)

    def answer(request: Request, error: ModelyardError) -> Response:
        if render_html is not None and wants_html(request):
            response = render_html(request, error)
        else:
            response = error_response(error.status_code, error.code, error.message, error.field)
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    async def on_modelyard_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelyardError)
        return answer(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        code, message, field = describe_validation(exc.errors())
        if code == "invalid_json":
            return error_response(400, code, message, field)
        return answer(request, InvalidInputError(message, field=field))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return answer(request, NotFoundError(f"nothing at {request.url.path}"))
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message, field = str(exc.detail), None
        if exc.status_code == 400 and "body" in message:
            # FastAPI's own parser gave up (nesting too deep, a number too long to read).
            code, message, field = "invalid_json", "the request body could not be parsed", "body"
        response = error_response(exc.status_code, code, message, field)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_integrity_error(request: Request, exc: Exception) -> Response:
        # A concurrent writer won the race past our own checks; nothing was stored.
        log.info("integrity error on %s: %s", request.url.path, type(exc).__name__)
        return answer(request, ConflictError("this conflicts with something stored already"))

    async def on_data_error(request: Request, exc: Exception) -> Response:
        log.info("data error on %s: %s", request.url.path, type(exc).__name__)
        return answer(request, InvalidInputError("a value cannot be stored as given"))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(request, ModelyardError("something went wrong on the server"))

    app.add_exception_handler(ModelyardError, on_modelyard_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(IntegrityError, on_integrity_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(Exception, on_unexpected)
