"""The SDK's (and the CLI's) live server, on a port chosen before the app is built, so the
URLs it answers with are real and endpoint replicas can report back to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from modelyard.config import Settings
from tests.conftest import CHEAP_PASSWORDS, SECRET_KEY, LiveServer, free_port


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    url = f"http://127.0.0.1:{free_port()}"
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        base_url=url,
        serving_control_url=url,
        serving_stop_grace_seconds=5.0,
        **CHEAP_PASSWORDS,
    ).prepare_home()


@pytest.fixture
def live_server(app: FastAPI, settings: Settings) -> Iterator[LiveServer]:
    """The app served by a real uvicorn on the port its settings name."""
    port = int(settings.base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the live server did not start on port {port}")
        time.sleep(0.02)
    assert httpx.get(f"{settings.base_url}/healthz").status_code == 200
    yield LiveServer(settings.base_url, app)
    server.should_exit = True
    thread.join(timeout=30)
