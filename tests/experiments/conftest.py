"""Remote runs: a project whose repository holds small scripts, and helpers to drive them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelyard.config import Settings
from tests.code.conftest import seed_repo
from tests.conftest import CHEAP_PASSWORDS, SECRET_KEY, LiveServer, Person

SCRIPTS: dict[str, str] = {
    "README.md": "# churn\n",
    "train.py": """\
import os, sys, time
import httpx

print("args:", sys.argv[1:])
print("project:", os.environ["MODELYARD_PROJECT"], "run:", os.environ["MODELYARD_RUN_ID"])
print("token:", os.environ["MODELYARD_TOKEN"])
print("inherited secret:", "AWS_SECRET_ACCESS_KEY" in os.environ)
me = httpx.get(
    os.environ["MODELYARD_URL"] + "/api/v1/me",
    headers={"Authorization": "Bearer " + os.environ["MODELYARD_TOKEN"]},
).json()
print("as:", me["username"])
for step in range(1, 6):
    print(f"step {step}")
    time.sleep(0.4)
print("done \u2713")
""",
    "fail.py": """\
print("about to fail")
raise ValueError("boom")
""",
    # The script ends its run itself (through the SDK), then exits with an error code.
    "tracked.py": """\
import sys
import modelyard

with modelyard.start_run(name="tracked") as run:
    run.log_metric("x", 1.0)
print("tracked", run.id)
sys.exit(3)
""",
    # A child in the same process group, to check cancel reaches the whole group.
    "sleepy.py": """\
import os, subprocess, sys, time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("pgid", os.getpgid(0), "child", child.pid)
print("ready")
time.sleep(120)
""",
    "stubborn.py": """\
import os, signal, time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("pgid", os.getpgid(0))
print("ready")
time.sleep(120)
""",
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Two runs at once, and a one-second grace between SIGTERM and SIGKILL."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        max_concurrent_runs=2,
        run_cancel_grace_seconds=1.0,
        **CHEAP_PASSWORDS,
    ).prepare_home()


@pytest.fixture
def crew(people: Callable[..., Person]) -> dict[str, Person]:
    """'churn' owned by owner, with an editor and a viewer; outsider is no member."""
    team = {name: people(name) for name in ("owner", "editor", "viewer", "outsider")}
    created = team["owner"].client.post("/api/v1/projects", json={"slug": "churn", "name": "C"})
    assert created.status_code == 201, created.text
    for name in ("editor", "viewer"):
        added = team["owner"].client.put(
            f"/api/v1/projects/churn/members/{name}", json={"role": name}
        )
        assert added.status_code == 200, added.text
    return team


@pytest.fixture
def pushed(app: FastAPI, crew: dict[str, Person]) -> str:
    """The scripts committed on main of churn's repository; answers the commit."""
    return seed_repo(app.state.repos.ensure("churn"), dict(SCRIPTS), "scripts")


@pytest.fixture
def editor_http(live_server: LiveServer, crew: dict[str, Person]) -> Iterator[httpx.Client]:
    """The editor, talking to the live server (runs reach the server at that address)."""
    headers = {"Authorization": f"Bearer {crew['editor'].token}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        yield client


def submit(client: httpx.Client, entrypoint: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/projects/churn/runs/remote", json={"entrypoint": entrypoint, **body}
    )
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_for_end(client: httpx.Client, run_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in ("finished", "failed", "killed"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
        time.sleep(0.1)


def wait_for_output(client: httpx.Client, run_id: int, text: str, timeout: float = 30) -> str:
    """The run's output once it holds `text` (read with long polls)."""
    deadline, output, offset = time.monotonic() + timeout, "", 0
    while text not in output:
        assert time.monotonic() < deadline, f"run {run_id} printed {output!r}"
        chunk = client.get(f"/api/v1/runs/{run_id}/logs", params={"offset": offset, "wait": 2})
        assert chunk.status_code == 200, chunk.text
        output, offset = output + chunk.json()["text"], chunk.json()["offset"]
        assert not chunk.json()["done"] or text in output, output
    return output


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in process group `pgid`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False
