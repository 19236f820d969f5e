"""Request hygiene for every HTTP request: size and character limits, security headers."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import http_errors
from modelyard.errors import PayloadTooLargeError

# Plotly.js (the portal's charts) creates an empty <style> element and fills it through the
# CSSOM, which CSP does not govern. The hash below is that of the empty string: it admits
# empty style elements only, so injected markup still cannot carry a stylesheet.
EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {EMPTY_STYLE}; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
UNGUARDED_PAGES = ("/docs", "/redoc")


MAX_BODY_BYTES = 16 * 1024 * 1024  # git pushes have their own limit (settings.git_max_push_bytes)
# routes that check their own caller and limit first: git pushes, and learners' states
# (settings.artifact_max_bytes; a forest of trees passes 16 MB)
OWN_LIMITS = ("/git/", "/internal/online/learners/")


def _capped(receive: Receive, limit: int) -> Receive:
    """A receive that stops a chunked body (no Content-Length) once it passes `limit`."""
    received = 0

    async def capped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLargeError(
                    f"request bodies are limited to {limit // 1024 // 1024} MB", field="body"
                )
        return message

    return capped


class RequestHygiene:
    """Refuses NUL characters in paths and queries (no database stores them) and request bodies
    over MAX_BODY_BYTES, and adds security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        query: bytes = scope.get("query_string", b"")
        if "\x00" in path or b"%00" in query or b"\x00" in query:
            response = http_errors.error_response(
                400, "bad_request", "NUL characters are not allowed in URLs", "path"
            )
            await response(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not path.startswith(OWN_LIMITS) and (
            not declared.isdigit() or int(declared) > MAX_BODY_BYTES
        ):
            response = http_errors.error_response(
                413,
                "too_large",
                f"request bodies are limited to {MAX_BODY_BYTES // 1024 // 1024} MB",
                "body",
            )
            await response(scope, receive, send)
            return
        receive = _capped(receive, MAX_BODY_BYTES) if not path.startswith(OWN_LIMITS) else receive
        guard = not path.startswith(UNGUARDED_PAGES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if guard:
                    headers.append((b"content-security-policy", CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
