"""Fixtures shared by the portal tests: a cookie-only portal client; for the Playwright tests
one chromium per module and a tab per test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from modelyard.config import Settings
from tests.conftest import PASSWORD, SECRET_KEY, LiveServer, free_port, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the module (launching it is the slow part); a new context per test.

    Module-scoped rather than session-scoped so that Playwright's event loop is gone before
    other test modules run."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """A fresh browser context and page on the live server, with its console errors."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.context = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 860}
        )
        self.context.set_default_timeout(10_000)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def tab(browser: Browser, live_server: LiveServer) -> Iterator[Tab]:
    opened = Tab(browser, live_server.url)
    yield opened
    opened.context.close()


@pytest.fixture
def portal(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """`portal("alice")`: a cookie-only client (like a browser) with a portal session."""
    clients: list[TestClient] = []

    def sign_in(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        clients.append(client)
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return client

    yield sign_in
    for client in clients:
        client.close()


def serving_settings(home: Path, database_url: str) -> Settings:
    """Settings whose base_url names a free port before the app exists: replica processes
    report to that address, so the live server must then listen there (`serve_at_base_url`).
    A test module opts in by overriding `settings` and `live_server` with these two."""
    return Settings(
        home=home,
        database_url=database_url,
        secret_key=SECRET_KEY,
        base_url=f"http://127.0.0.1:{free_port()}",
        serving_stop_grace_seconds=3.0,
    ).prepare_home()


def serve_at_base_url(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by a real uvicorn at its settings' base_url (the lifespan starts the
    serving supervisor, and stops every replica at the end)."""
    url: str = app.state.settings.base_url
    port = int(url.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    assert httpx.get(f"{url}/healthz").status_code == 200
    yield LiveServer(url, app)
    server.should_exit = True
    thread.join(timeout=30)
