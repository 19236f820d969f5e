"""The demo's experiments: on the first start, the server runs the churn project's own
`train.py` as remote runs (Maya's), so the runs table, their logs and charts, and two
registered versions of `churn-online` exist before anyone opens the portal.

It goes through the real path: the executor exports the repository at `main`, the script
reads the `customers` dataset through the SDK, logs its progressive scores and registers
the model; afterwards the better version becomes `champion` and the other `challenger`.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from modelyard.accounts.actors import Actor
from modelyard.accounts.service import find_user
from modelyard.demo import DEMO_PROJECT
from modelyard.demo_serving import deploy_demo_endpoint
from modelyard.errors import NotFoundError
from modelyard.experiments import remote
from modelyard.experiments.schemas import FINAL_STATUSES, RemoteRunCreate
from modelyard.experiments.tables import RunRow
from modelyard.projects.service import find_project
from modelyard.registry import service as registry
from modelyard.registry.schemas import VersionPublic

log = logging.getLogger("modelyard.demo")
MODEL = "churn-online"
# train.py's arguments: the first only records a run; the other two register a version each
DEMO_RUNS = [
    ["--learning-rate", "0.01", "--no-register"],
    ["--learning-rate", "0.05"],
    ["--learning-rate", "0.2"],
]


def start_demo_runs(app: FastAPI, server_url: str) -> threading.Thread:
    """Seed the runs in the background once the server answers (only if it has none yet)."""
    thread = threading.Thread(
        target=_seed, args=(app, server_url), name="modelyard-demo-runs", daemon=True
    )
    thread.start()
    return thread


def _wait_for(server_url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server_url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _seed(app: FastAPI, server_url: str) -> None:
    deadline = time.monotonic() + 600
    if not _wait_for(server_url, deadline):
        log.warning("demo runs skipped: the server did not answer at %s", server_url)
        return
    factory = app.state.session_factory
    with factory() as session:
        project = find_project(session, DEMO_PROJECT.slug)
        user = find_user(session, "mentor")
        if project is None or user is None:
            return
        mentor = Actor.of(user, "system")
        if session.scalar(select(func.count()).where(RunRow.project_id == project.id)):
            # seeded before (or the team has been at work): only make sure it is served
            deploy_demo_endpoint(app, mentor)
            return
        ids = []
        for arguments in DEMO_RUNS:
            run = remote.submit_remote_run(
                session,
                mentor,
                app.state.repos,
                app.state.executor,
                DEMO_PROJECT.slug,
                RemoteRunCreate(entrypoint="train.py", ref="main", arguments=arguments),
                server_url=server_url,
            )
            ids.append(run.id)
    log.info("demo: training runs %s started", ids)
    while time.monotonic() < deadline:
        with factory() as session:
            statuses = session.scalars(select(RunRow.status).where(RunRow.id.in_(ids))).all()
        if all(status in FINAL_STATUSES for status in statuses):
            break
        time.sleep(0.5)
    _name_versions(app, mentor)


def _name_versions(app: FastAPI, mentor: Actor) -> None:
    """champion: the version with the best progressive ROC AUC; challenger: the runner-up."""
    with app.state.session_factory() as session:
        try:
            versions = registry.list_versions(session, mentor, DEMO_PROJECT.slug, MODEL)
        except NotFoundError:  # the runs failed: their logs on the run pages say why
            log.warning("demo: the training runs registered no %s", MODEL)
            return

        def score(version: VersionPublic) -> float:
            value = version.metrics.get("progressive_roc_auc")
            return value if isinstance(value, float) else float("-inf")

        ranked = sorted(versions, key=score, reverse=True)
        for alias, version in zip(("champion", "challenger"), ranked, strict=False):
            registry.set_alias(session, mentor, DEMO_PROJECT.slug, MODEL, alias, version.version)
    log.info("demo: %s aliases set", MODEL)
    deploy_demo_endpoint(app, mentor)
