"""The README's first command, as a real process: `modelyard up --demo`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelyard.demo import DEMO_PASSWORD
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def start(home: Path, database_url: str, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "MODELYARD_DATABASE_URL": database_url}
    env.pop("MODELYARD_ADMIN_PASSWORD", None)
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "up",
        "--demo",
        "--port",
        str(port),
        "--home",
        str(home),
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"modelyard up exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("modelyard up did not become healthy in time")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"modelyard up did not stop on Ctrl-C:\n{output}") from None
    return output


def wait_for_demo_runs(http: httpx.Client, timeout: float = 120) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs: list[dict[str, object]] = http.get("/api/v1/projects/churn/runs").json()["items"]
        versions = http.get("/api/v1/projects/churn/models/churn-online/versions")
        named = versions.status_code == 200 and any(v["aliases"] for v in versions.json()["items"])
        if len(runs) == 3 and all(r["status"] not in ("queued", "running") for r in runs) and named:
            return runs
        time.sleep(0.5)
    raise AssertionError(f"the demo runs did not finish: {runs}")


def wait_for_demo_traffic(http: httpx.Client, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = http.get("/api/v1/projects/churn/endpoints/churn")
        if endpoint.status_code == 200 and endpoint.json()["status"] == "running":
            metrics = http.get("/api/v1/projects/churn/endpoints/churn/metrics").json()
            if metrics["summary"]["requests"] > 0:
                assert metrics["summary"]["errors"] == 0, metrics["summary"]
                found: dict[str, object] = endpoint.json()
                return found
        time.sleep(0.5)
    raise AssertionError("the demo endpoint got no traffic")


def wait_for_demo_learning(http: httpx.Client, timeout: float = 60) -> dict[str, dict[str, object]]:
    """Outcomes arrive as labels: the champion learns from them, the challenger is frozen."""
    base = "/api/v1/projects/churn/endpoints/churn"
    deadline = time.monotonic() + timeout
    learners: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline:
        learners = {x["variant"]: x for x in http.get(f"{base}/learners").json()["learners"]}
        quality = http.get(f"{base}/quality").json()
        labelled = {s["variant"]: s["labels"] for s in quality["summary"]}
        champion = learners.get("champion", {})
        if labelled.get("champion") and champion.get("learned"):
            return learners
        time.sleep(0.5)
    raise AssertionError(f"the demo's champion learned nothing: {learners}")


def test_up_demo_serves_and_stops_cleanly(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(tmp_path / "home", database_url, port)
    try:
        wait_healthy(url, process)
        with httpx.Client(base_url=url) as http:
            login = http.post(
                "/api/v1/auth/login", json={"username": "newhire", "password": DEMO_PASSWORD}
            )
            assert login.status_code == 200, login.text
            projects = http.get("/api/v1/projects").json()["items"]
            assert [p["slug"] for p in projects] == ["churn"]
            assert http.get("/").status_code == 200
            commits = http.get("/api/v1/projects/churn/code/commits").json()["items"]
            assert {c["author"] for c in commits} == {"Maya Mentor", "Nico Newhire"}
            tree = http.get("/api/v1/projects/churn/code/tree").json()["entries"]
            assert {"train.py", "predict.py"} <= {e["name"] for e in tree}
            # the server trains the project's model itself on first start: three runs, of
            # which two registered a version, named champion and challenger by their score
            runs = wait_for_demo_runs(http)
            assert [r["status"] for r in runs] == ["finished"] * 3, runs
            assert all(r["metrics"]["progressive_roc_auc"] > 0.6 for r in runs)
            versions = http.get("/api/v1/projects/churn/models/churn-online/versions").json()
            aliases = sorted(a for v in versions["items"] for a in v["aliases"])
            assert aliases == ["challenger", "champion"]
            assert all(v["datasets"] == ["customers"] for v in versions["items"])
            # ...and serves them: champion 90 / challenger 10, with traffic already flowing
            endpoint = wait_for_demo_traffic(http)
            shares = {v["name"]: v["share"] for v in endpoint["variants"]}
            assert shares == {"champion": 0.9, "challenger": 0.1}
            learners = wait_for_demo_learning(http)
            assert learners["champion"]["state"] == "learning"
            assert learners["challenger"]["state"] == "paused"
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "password:" in output and "shown only this once" in output
    assert (tmp_path / "home" / "secret.key").stat().st_mode & 0o777 == 0o600

    again = start(tmp_path / "home", database_url, port)
    try:
        wait_healthy(url, again)
        with httpx.Client(base_url=url) as http:
            http.post("/api/v1/auth/login", json={"username": "newhire", "password": DEMO_PASSWORD})
            time.sleep(1)  # a second start trains nothing new
            assert http.get("/api/v1/projects/churn/runs").json()["total"] == 3
            wait_for_demo_traffic(http)  # the endpoint came back with the server
    finally:
        second_output = stop(again)
    assert again.returncode == 0
    assert "shown only this once" not in second_output
