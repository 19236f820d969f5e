"""The demo's data: a warehouse, a connection and described datasets that the project
templates' training scripts read through the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from modelyard.code.repos import RepoStore
from modelyard.config import Settings
from modelyard.demo import load_demo
from modelyard.demo_data import load_demo_data
from tests.code.test_templates import render
from tests.conftest import LiveServer, Person


@pytest.fixture
def demo(app: FastAPI, settings: Settings, admin: Person) -> FastAPI:
    factory = app.state.session_factory
    store = RepoStore(settings.repos_dir, max_push_bytes=1 << 20)
    load_demo(factory, store, password="demo-pass-123", passwords=app.state.passwords)
    load_demo_data(factory, settings)
    load_demo_data(factory, settings)  # idempotent
    return app


def _token(app: FastAPI, username: str) -> str:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        answer = client.post(
            "/api/v1/auth/token", json={"username": username, "password": "demo-pass-123"}
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_the_demo_project_sees_three_described_profiled_datasets(demo: FastAPI) -> None:
    from fastapi.testclient import TestClient

    token = _token(demo, "newhire")
    client = TestClient(demo, headers={"Authorization": f"Bearer {token}"})
    items = {d["name"]: d for d in client.get("/api/v1/datasets").json()["items"]}
    assert set(items) == {"customers", "events", "customer-activity"}
    customers = items["customers"]
    assert customers["grants"] == ["churn"] and customers["owner"] == "mentor"
    assert customers["row_count"] == 5000 and customers["description"]
    email = next(c for c in customers["columns"] if c["name"] == "email")
    assert email["pii"] is True
    profile = client.get("/api/v1/datasets/customers/profile").json()
    churned = next(c for c in profile["columns"] if c["name"] == "churned")
    assert 0.15 < churned["mean"] < 0.4  # a realistic share of churners
    activity = client.get("/api/v1/datasets/customer-activity/sample", params={"limit": 3}).json()
    assert "logins_90d" in activity["columns"] and len(activity["rows"]) == 3
    client.close()


@pytest.mark.slow
@pytest.mark.parametrize("template", ["batch-classifier", "online-classifier"])
def test_template_training_reads_the_customers_dataset(
    template: str, demo: FastAPI, live_server: LiveServer, tmp_path: Path
) -> None:
    copy = render(template, tmp_path)
    env = {
        **os.environ,
        "MODELYARD_URL": live_server.url,
        "MODELYARD_TOKEN": _token(demo, "newhire"),
        "MODELYARD_CONFIG": str(tmp_path / "none.json"),
    }
    result = subprocess.run(
        [sys.executable, "train.py"], cwd=copy, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5000 customers from the modelyard dataset 'customers'" in result.stdout
    assert (copy / "model" / "model.pkl").is_file()
