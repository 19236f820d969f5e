"""create_app(settings): the control plane as one FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import __version__, http_errors
from modelyard.accounts import api as accounts_api
from modelyard.accounts.schemas import Health
from modelyard.code import api as code_api
from modelyard.code import githttp
from modelyard.code.repos import RepoStore
from modelyard.config import Settings
from modelyard.db import make_engine, make_session_factory
from modelyard.projects import api as projects_api
from modelyard.web.portal import mount_portal, render_error

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
UNGUARDED_PAGES = ("/docs", "/redoc")


class RequestHygiene:
    """Refuses NUL characters in paths and queries (no database stores them) and adds
    security headers to every answer."""

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


def create_app(settings: Settings) -> FastAPI:
    """Build the control plane. `settings` must have been through `Settings.prepare_home()`."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is empty: call settings.prepare_home() first")
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="modelyard",
        version=__version__,
        description="Self-hosted ML platform: projects, code, data, experiments, models, services.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.repos = RepoStore(settings.repos_dir, max_push_bytes=settings.git_max_push_bytes)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        return Health(status="ok", version=__version__)

    app.include_router(accounts_api.router)
    app.include_router(projects_api.router)
    app.include_router(code_api.router)
    app.include_router(githttp.router)
    mount_portal(app)
    http_errors.install(app, render_html=render_error)
    app.add_middleware(RequestHygiene)
    return app
