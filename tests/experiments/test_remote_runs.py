"""Remote runs: real processes started from the project's repository, their output streamed
and kept, their endings recorded, cancel, and who may do what."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.schemas import TokenCreate
from modelyard.accounts.tables import TokenRow, UserRow
from modelyard.accounts.tokens import create_token
from modelyard.code.scaffold import render_template
from modelyard.code.seeding import commit_files
from modelyard.experiments.executor import RESTARTED, LocalExecutor
from modelyard.experiments.remote import LogRead, read_log
from modelyard.experiments.tables import RunLogRow, RunRow
from modelyard.projects.service import ProjectRow
from tests.conftest import LiveServer, Person
from tests.experiments.conftest import (
    group_alive,
    submit,
    wait_for_end,
    wait_for_output,
)


@pytest.mark.usefixtures("pushed")
def test_output_streams_while_the_run_goes_and_is_kept_after(
    editor_http: httpx.Client, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-servers-own")  # must not reach the run
    run = submit(editor_http, "./train.py", ref="main", arguments=["--C", "0.5"])
    assert run["status"] == "queued" and run["source"] == "remote"
    assert run["entrypoint"] == "train.py" and run["arguments"] == ["--C", "0.5"]
    assert re.fullmatch(r"[0-9a-f]{40}", run["commit"] or "")

    output, offset, partial = "", 0, None
    while True:
        chunk = editor_http.get(
            f"/api/v1/runs/{run['id']}/logs", params={"offset": offset, "wait": 5}
        ).json()
        output, offset = output + chunk["text"], chunk["offset"]
        if "step 1" in output and "done" not in output and partial is None:
            partial = (output, chunk["status"], chunk["done"])
        if chunk["done"]:
            break
    assert partial is not None, "no read returned output before the run ended"
    assert partial[1] == "running" and partial[2] is False and "step 5" not in partial[0]
    assert "args: ['--C', '0.5']" in output and "as: editor" in output
    assert f"project: churn run: {run['id']}" in output
    assert "inherited secret: False" in output
    assert output.endswith("step 5\ndone \u2713\n") and chunk["status"] == "finished"

    ended = editor_http.get(f"/api/v1/runs/{run['id']}").json()
    assert ended["status"] == "finished" and ended["error"] == "" and ended["has_logs"]
    assert ended["duration_seconds"] >= 2.0
    kept = editor_http.get(f"/api/v1/runs/{run['id']}/logs", params={"offset": 0}).json()
    assert kept == {"text": output, "offset": offset, "done": True, "status": "finished"}
    past = editor_http.get(f"/api/v1/runs/{run['id']}/logs", params={"offset": offset + 1})
    assert past.status_code == 422 and past.json()["error"]["field"] == "offset"

    token = re.search(r"token: (\S+)", output)
    assert token is not None
    me = httpx.get(
        f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert me.status_code == 401  # the run's token died with the run


@pytest.mark.usefixtures("pushed")
def test_a_failing_script_fails_with_its_last_lines_and_a_script_may_end_its_own_run(
    editor_http: httpx.Client,
) -> None:
    failing = submit(editor_http, "fail.py")
    tracked = submit(editor_http, "tracked.py", name="will be renamed")
    failed = wait_for_end(editor_http, failing["id"])
    assert failed["status"] == "failed"
    assert "exited with code 1" in failed["error"]
    assert "about to fail" in failed["error"] and "ValueError: boom" in failed["error"]

    # tracked.py attached to its remote run through the SDK and ended it as finished before
    # exiting with code 3: the script's own ending stands.
    ended = wait_for_end(editor_http, tracked["id"])
    assert ended["status"] == "finished" and ended["name"] == "tracked"
    assert ended["metrics"] == {"x": 1.0}


@pytest.mark.usefixtures("pushed")
def test_cancel_stops_the_whole_process_group(editor_http: httpx.Client) -> None:
    sleepy = submit(editor_http, "sleepy.py")
    stubborn = submit(editor_http, "stubborn.py")
    queued = submit(editor_http, "train.py")  # two runs at once: this one waits its turn
    sleepy_out = wait_for_output(editor_http, sleepy["id"], "ready")
    stubborn_out = wait_for_output(editor_http, stubborn["id"], "ready")
    assert editor_http.get(f"/api/v1/runs/{queued['id']}").json()["status"] == "queued"
    sleepy_group = int(re.findall(r"pgid (\d+)", sleepy_out)[0])
    stubborn_group = int(re.findall(r"pgid (\d+)", stubborn_out)[0])
    assert group_alive(sleepy_group) and group_alive(stubborn_group)

    started = time.monotonic()
    cancelled = editor_http.post(f"/api/v1/runs/{queued['id']}/cancel").json()
    assert cancelled["status"] == "killed"
    assert editor_http.get(f"/api/v1/runs/{queued['id']}/logs").json()["text"] == ""

    cancelled = editor_http.post(f"/api/v1/runs/{sleepy['id']}/cancel").json()
    assert cancelled["status"] == "killed" and cancelled["error"] == "cancelled"
    assert not group_alive(sleepy_group)  # the child it started is gone too
    # stubborn.py ignores SIGTERM: SIGKILL follows after the grace period (1 s here)
    editor_http.post(f"/api/v1/runs/{stubborn['id']}/cancel")
    assert wait_for_end(editor_http, stubborn["id"], timeout=10)["status"] == "killed"
    assert time.monotonic() - started < 8
    assert not group_alive(stubborn_group)
    again = editor_http.post(f"/api/v1/runs/{stubborn['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "killed"
    logs = editor_http.get(f"/api/v1/runs/{sleepy['id']}/logs").json()
    assert "ready" in logs["text"] and logs["done"] and logs["status"] == "killed"


def test_bad_entrypoints_refs_and_roles(app: FastAPI, crew: dict[str, Person], pushed: str) -> None:
    editor, viewer, outsider = crew["editor"], crew["viewer"], crew["outsider"]
    url = "/api/v1/projects/churn/runs/remote"
    for entrypoint in ("../x.py", "/etc/passwd", "missing.py", "README.md", "a/../../x.py", ""):
        refused = editor.client.post(url, json={"entrypoint": entrypoint})
        assert refused.status_code == 422, (entrypoint, refused.text)
        assert refused.json()["error"]["field"] == "entrypoint", entrypoint
    unknown = editor.client.post(url, json={"entrypoint": "train.py", "ref": "nope"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "ref"
    assert viewer.client.post(url, json={"entrypoint": "train.py"}).status_code == 403
    assert outsider.client.post(url, json={"entrypoint": "train.py"}).status_code == 404

    crew["owner"].client.post("/api/v1/projects", json={"slug": "empty", "name": "E"})
    empty = crew["owner"].client.post(
        "/api/v1/projects/empty/runs/remote", json={"entrypoint": "train.py"}
    )
    assert empty.status_code == 409 and "empty" in empty.json()["error"]["message"]
    # This app was never started (no lifespan), so nothing can run what it accepts.
    idle = editor.client.post(url, json={"entrypoint": "train.py"})
    assert idle.status_code == 503 and "executor" in idle.json()["error"]["message"]

    local = editor.client.post("/api/v1/projects/churn/runs", json={"name": "on a laptop"})
    run_id = local.json()["id"]
    assert viewer.client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 403
    assert outsider.client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 404
    assert editor.client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 409
    assert viewer.client.get(f"/api/v1/runs/{run_id}/logs").status_code == 404

    runs = viewer.client.get("/api/v1/projects/churn/runs").json()["items"]
    remote = next(r for r in runs if r["source"] == "remote")  # the one refused with 503
    assert remote["status"] == "failed" and "executor" in remote["error"]
    logs = viewer.client.get(f"/api/v1/runs/{remote['id']}/logs")
    assert logs.status_code == 200 and logs.json()["done"] and logs.json()["text"] == ""
    assert outsider.client.get(f"/api/v1/runs/{remote['id']}/logs").status_code == 404


def test_a_restart_fails_orphaned_runs_and_adopts_live_ones(
    app: FastAPI, db: Session, crew: dict[str, Person], tmp_path: Path
) -> None:
    settings = app.state.settings
    user = db.query(UserRow).filter_by(username="editor").one()
    project = db.query(ProjectRow).filter_by(slug="churn").one()
    gone = subprocess.Popen(["true"])
    gone.wait()

    def orphan(status: str, pid: int | None) -> tuple[int, int]:
        run = RunRow(
            project_id=project.id, name="o", status=status, user_id=user.id, source="remote"
        )
        db.add(run)
        db.flush()
        token, _ = create_token(db, Actor.of(user, "system"), TokenCreate(name=f"run-{run.id}"))
        path = settings.runs_dir / str(run.id) / "output.log"
        db.add(RunLogRow(run_id=run.id, path=str(path), pid=pid, token_id=token.id))
        db.commit()
        return run.id, token.id

    running_id, running_token = orphan("running", gone.pid)
    queued_id, _ = orphan("queued", None)
    live_id, live_token = orphan("running", None)
    source = settings.runs_dir / str(live_id) / "src"
    source.mkdir(parents=True)
    survivor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], cwd=source, start_new_session=True
    )
    db.get_one(RunLogRow, live_id).pid = survivor.pid
    db.commit()

    executor = LocalExecutor(app.state.session_factory, settings, export=lambda *_: None)
    executor.start()
    try:
        db.expire_all()
        for run_id in (running_id, queued_id):
            row = db.get_one(RunRow, run_id)
            assert row.status == "failed" and row.error == RESTARTED and row.ended_at
        assert db.get_one(TokenRow, running_token).revoked_at is not None
        assert db.get_one(RunRow, live_id).status == "running"  # its process is still there

        db.get_one(RunLogRow, live_id).cancel_requested = True
        db.commit()
        assert executor.cancel(live_id)
        assert survivor.wait(timeout=5) < 0
        deadline = time.monotonic() + 5
        while db.get_one(RunRow, live_id, populate_existing=True).status == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
            db.commit()
        assert db.get_one(RunRow, live_id).status == "killed"
        # the token is revoked just after the run is marked ended (another commit)
        while db.get_one(TokenRow, live_token, populate_existing=True).revoked_at is None:
            assert time.monotonic() < deadline + 5, "the run's token was not revoked"
            time.sleep(0.05)
            db.commit()
    finally:
        executor.stop()
        if survivor.poll() is None:
            survivor.kill()


def test_a_template_trains_remotely(
    app: FastAPI, crew: dict[str, Person], editor_http: httpx.Client
) -> None:
    files = render_template("batch-classifier", project="churn", display_name="Churn")
    commit_files(
        app.state.repos.ensure("churn"),
        files,
        author="Editor",
        email="editor@example.com",
        message="start from the template",
    )
    run = submit(editor_http, "train.py", arguments=["--C", "0.5"])
    output = wait_for_output(editor_http, run["id"], "validation ROC AUC", timeout=120)
    ended = wait_for_end(editor_http, run["id"], timeout=120)
    assert ended["status"] == "finished", (ended["error"], output)
    assert ended["commit"] == run["commit"]
    assert ended["metrics"], "the template's start_run did not attach to the remote run"


def test_log_reads_never_split_a_character_while_the_run_goes_on(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes("naïve ✓".encode()[:-1])  # the check mark is cut after two of its bytes
    going = read_log(log, 0, ended=False)
    assert going.text == "naïve " and going.offset == len("naïve ".encode())
    assert read_log(log, going.offset, ended=False).text == ""
    assert read_log(log, going.offset, ended=True).text == "\ufffd"  # the run is over: as is
    log.write_bytes("naïve ✓".encode())
    rest = read_log(log, going.offset, ended=False)
    assert rest.text == "✓" and rest.at_end
    assert read_log(tmp_path / "not-yet.log", 0, ended=False) == LogRead("", 0, True)
