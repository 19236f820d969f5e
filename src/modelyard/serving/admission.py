"""What a request passes before any model code runs: the method, an endpoint API key, and
a body within the size limit (refused from Content-Length, or as soon as the streamed body
passes the limit, without buffering the rest). Also the error answer itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from modelyard.serving.routing_table import Table
from modelyard.serving.spec import key_hash

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_TOKEN_CACHE_SIZE = 4096


class Reject(Exception):
    """An error answer; `variant` is "" when the request was refused before routing."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        variant: str = "",
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.variant = variant
        self.headers = headers
        self.body = orjson.dumps({"error": {"code": code, "message": message, "field": field}})


class Admission:
    """Remembers the hashes of recent keys: hashing is cheap, but not free per request."""

    def __init__(self) -> None:
        self._token_hashes: dict[bytes, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, table: Table, method: str) -> bytes:
        """Method, credentials and the body within the size limit, in that order, so an
        unauthenticated caller gets nothing read and nothing run."""
        if scope["method"] != method:
            raise wrong_method(method)
        self.authorize(scope, table)
        limit = table.spec.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    raise Reject(400, "bad_request", "Content-Length must be a number")
                if int(value) > limit:
                    raise too_large(limit)
                break
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if len(body) > limit:
                raise too_large(limit)
            return body
        chunks = [body]
        size = len(body)
        while True:
            if size > limit:
                raise too_large(limit)  # stop reading: the rest is never buffered
            message = await receive()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        if size > limit:
            raise too_large(limit)
        return b"".join(chunks)

    def authorize(self, scope: Scope, table: Table) -> None:
        if table.spec.public:
            return
        token = b""
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].strip()
                break
            if name == b"x-api-key":
                token = value.strip()
        if token:
            hashes = self._token_hashes
            digest = hashes.get(token)
            if digest is None:
                if len(hashes) >= _TOKEN_CACHE_SIZE:  # a flood of made-up keys stays bounded
                    hashes.clear()
                digest = hashes[token] = key_hash(token.decode("latin-1"))
            # Checked against the current table every time, so a revoked key stops at once.
            if digest in table.key_hashes:
                return
        raise Reject(
            401,
            "not_authenticated",
            "a valid endpoint API key is required (Authorization: Bearer <key> or X-Api-Key)",
            headers=((b"www-authenticate", b"Bearer"),),
        )


def too_large(limit: int) -> Reject:
    return Reject(413, "too_large", f"the request body is over the limit of {limit} bytes", "body")


def wrong_method(allowed: str) -> Reject:
    return Reject(
        405,
        "method_not_allowed",
        f"use {allowed} here",
        headers=((b"allow", allowed.encode()),),
    )


async def send_json(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", b"%d" % len(body)), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
