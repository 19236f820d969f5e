"""The replica's stack alone: a raw ASGI app that parses the body and answers a constant of the
size of a replica's answer. BENCH_JSON picks the JSON library: json or orjson.
(uvicorn runs it with --lifespan off.)"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

ANSWER = {"outputs": 1, "prediction_id": "5f0c8d6a2b9e4c7f8a1d3e6b9c2f5a8d", "variant": "a"}


def json_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


loads: Callable[[bytes], Any] = json.loads
dumps: Callable[[Any], bytes] = json_dumps
if os.environ.get("BENCH_JSON") == "orjson":
    loads, dumps = orjson.loads, orjson.dumps


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = dumps({**ANSWER, "outputs": len(loads(body)["inputs"]) % 2})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
