"""The ceiling: uvicorn + Starlette answering a constant, the body left unread."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def predict(request: Request) -> Response:
    return Response(b'{"outputs":1}', media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
