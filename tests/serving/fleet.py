"""Shared pieces of the serving tests: a team with a project, small real models registered
as versions, and a control plane served by a real uvicorn whose replicas call back to it."""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from sklearn.linear_model import LogisticRegression

from modelyard.app import create_app
from modelyard.config import Settings
from tests.conftest import SECRET_KEY, Person, free_port

FEATURES = [f"f{i}" for i in range(4)]
SIGNATURE = [{"name": n, "type": "number"} for n in FEATURES]


def constant_model(label: int) -> LogisticRegression:
    """A fitted LogisticRegression that always answers `label`: tells variants apart."""
    rng = np.random.default_rng(label)
    x = rng.normal(size=(40, len(FEATURES)))
    y = np.array([0, 1] * 20)
    model = LogisticRegression().fit(x, y)
    model.coef_[:] = 0.0
    model.intercept_[:] = 50.0 if label == 1 else -50.0
    return model


def register(person: Person, model: object, name: str = "clf", project: str = "churn") -> int:
    meta = {"flavor": "sklearn", "signature": SIGNATURE}
    answer = person.client.post(
        f"/api/v1/projects/{project}/models/{name}/versions",
        content=pickle.dumps(model),
        headers={"X-Modelyard-Version": json.dumps(meta)},
    )
    assert answer.status_code == 201, answer.text
    version: int = answer.json()["version"]
    return version


def record(i: int = 0) -> dict[str, float]:
    return {n: float(i + k) for k, n in enumerate(FEATURES)}


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    """'churn' owned by owner, with a viewer; outsider is no member; clf v1 answers 0, v2 1."""
    crew = {name: people(name) for name in ("owner", "viewer", "outsider")}
    owner = crew["owner"]
    assert owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "C"}).is_success
    owner.client.put("/api/v1/projects/churn/members/viewer", json={"role": "viewer"})
    register(owner, constant_model(0))
    register(owner, constant_model(1))
    return crew


@dataclass
class Plane:
    """A control plane on a real port; `restart()` stops it and serves a new app instead."""

    url: str
    settings: Settings
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.app.state.engine.dispose()
        fresh = _serve(self.settings)
        self.app, self.server, self.thread = fresh.app, fresh.server, fresh.thread


def _serve(settings: Settings) -> Plane:
    app = create_app(settings)
    port = int(settings.base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the control plane did not start")
        time.sleep(0.02)
    return Plane(settings.base_url, settings, app, server, thread)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Known port up front, so replicas know where to report; quick autoscaling."""
    port = free_port()
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        base_url=f"http://127.0.0.1:{port}",
        serving_scale_up_seconds=1.0,
        serving_scale_down_seconds=2.0,
        serving_stop_grace_seconds=5.0,
    ).prepare_home()


@pytest.fixture
def plane(app: FastAPI, settings: Settings) -> Iterator[Plane]:
    """The `app` fixture's application served for real (the API tests' clients share it)."""
    port = int(settings.base_url.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the control plane did not start")
        time.sleep(0.02)
    running = Plane(settings.base_url, settings, app, server, thread)
    yield running
    running.stop()


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(every)


def predict(
    url: str, token: str, body: dict[str, Any], client: httpx.Client | None = None
) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
