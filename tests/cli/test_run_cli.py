"""`modelyard run` and `modelyard runs` against a live server, with real run processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from modelyard.cli.main import app as cli
from tests.code.conftest import seed_repo
from tests.conftest import LiveServer, Person
from tests.experiments.conftest import SCRIPTS, submit, wait_for_end, wait_for_output

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("isolated_config")


@pytest.fixture
def editor(app: FastAPI, live_server: LiveServer, people: Callable[..., Person]) -> Person:
    """An editor of churn, whose repository holds the test scripts, logged in with the CLI."""
    owner, editor = people("owner"), people("editor")
    assert owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "C"}).is_success
    owner.client.put("/api/v1/projects/churn/members/editor", json={"role": "editor"})
    seed_repo(app.state.repos.ensure("churn"), dict(SCRIPTS), "scripts")
    assert runner.invoke(cli, ["login", live_server.url, "--token", editor.token]).exit_code == 0
    return editor


@pytest.fixture
def http(live_server: LiveServer, editor: Person) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {editor.token}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        yield client


def test_run_streams_the_output_and_exits_with_the_outcome(
    editor: Person, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = runner.invoke(cli, ["run", "train.py", "--project", "churn", "--", "--C", "0.5"])
    assert done.exit_code == 0, done.output
    assert "Run 1 (run-1): train.py at HEAD" in done.output
    assert "args: ['--C', '0.5']" in done.output and "step 5\ndone \u2713\n" in done.output
    assert "Run 1 finished in" in done.output

    # the project comes from ./modelyard.yaml when --project is not given
    (tmp_path / "modelyard.yaml").write_text("# settings\nproject: churn\n")
    monkeypatch.chdir(tmp_path)
    failed = runner.invoke(cli, ["run", "fail.py", "--name", "doomed"])
    assert failed.exit_code == 1, failed.output
    assert "ValueError: boom" in failed.output and "Run 2 failed" in failed.output
    assert http.get("/api/v1/runs/2").json()["name"] == "doomed"

    refused = runner.invoke(cli, ["run", "../etc/passwd.py"])
    assert refused.exit_code == 1 and "field: entrypoint" in " ".join(refused.output.split())


def test_runs_cancel_logs_and_list(editor: Person, http: httpx.Client) -> None:
    run = submit(http, "sleepy.py")
    wait_for_output(http, run["id"], "ready")
    cancelled = runner.invoke(cli, ["runs", "cancel", str(run["id"])])
    assert cancelled.exit_code == 0 and f"Run {run['id']} cancelled" in cancelled.output
    logs = runner.invoke(cli, ["runs", "logs", str(run["id"]), "--follow"])
    assert logs.exit_code == 0 and "ready" in logs.output
    listed = runner.invoke(cli, ["runs", "list", "--project", "churn"])
    assert listed.exit_code == 0 and "killed" in listed.output and "1 of 1 runs" in listed.output


def test_ctrl_c_asks_whether_to_cancel(editor: Person, http: httpx.Client) -> None:
    command = [sys.executable, "-m", "modelyard", "run", "sleepy.py", "--project", "churn"]
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    ) as process:
        assert process.stdin and process.stdout and process.stderr
        seen: list[str] = []
        reader = threading.Thread(target=seen.extend, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while "ready\n" not in seen:
                assert time.monotonic() < deadline and process.poll() is None, seen
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            process.stdin.write("y\n")
            process.stdin.close()
            errors = process.stderr.read()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        reader.join(timeout=10)
    assert process.returncode == 1, errors
    assert "cancel run 1? [y/N]" in errors and "Run 1 was cancelled" in errors
    assert wait_for_end(http, 1)["status"] == "killed"
