"""The demo's live service: once the demo runs have named `champion` and `challenger`, the
churn project gets an endpoint `churn` serving both at 90/10 (each following its alias, with
the project's own predict.py, which learns online), and a small traffic generator sends it
customers from the demo warehouse and, a few seconds later, whether they churned (see
`demo_stream`), so the endpoint page's serving and model-quality charts move when a
newcomer opens the portal. The challenger's learning is paused: a frozen copy to compare.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.service import find_user
from modelyard.demo import DEMO_PROJECT
from modelyard.demo_stream import DRIFT_AFTER_SECONDS, Outcomes
from modelyard.errors import ModelyardError
from modelyard.online import learners
from modelyard.projects.service import find_project
from modelyard.registry.service import find_model
from modelyard.serving import keys, service, variants
from modelyard.serving.schemas import EndpointCreate, VariantCreate
from modelyard.serving.tables import EndpointRow, VariantRow

log = logging.getLogger("modelyard.demo")
ENDPOINT = "churn"
MODEL = "churn-online"
KEY_NAME = "demo traffic"
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract")
REQUESTS_PER_SECOND = 6.0


def deploy_demo_endpoint(app: FastAPI, mentor: Actor) -> bool:
    """Create and start `churn` with champion 90 / challenger 10, once. True if it exists."""
    slug = DEMO_PROJECT.slug
    with app.state.session_factory() as session:
        project = find_project(session, slug)
        if project is None or find_model(session, project, MODEL) is None:
            return False
        if service.find_endpoint(session, project, ENDPOINT) is not None:
            return True
        service.create_endpoint(
            session,
            mentor,
            slug,
            EndpointCreate(
                name=ENDPOINT,
                description="Churn risk for the account managers' daily list: the champion "
                "takes 90% of requests, the challenger 10% (sticky per customer).",
                max_replicas=2,
            ),
        )
        for alias, weight in (("champion", 90), ("challenger", 10)):
            variants.add_variant(
                session,
                mentor,
                app.state.repos,
                slug,
                ENDPOINT,
                VariantCreate(name=alias, model=MODEL, version=alias, weight=weight),
            )
        _freeze(session, project.id, "challenger")
        service.set_state(session, mentor, slug, ENDPOINT, "running")
    app.state.serving.changed()
    log.info("demo: endpoint %s/%s deployed (champion 90 / challenger 10)", slug, ENDPOINT)
    return True


def _freeze(session: Session, project_id: int, variant: str) -> None:
    """Pause a variant's learner before it ever starts (its row made here, not by the fleet)."""
    row = session.scalar(
        select(VariantRow)
        .join(EndpointRow, EndpointRow.id == VariantRow.endpoint_id)
        .where(
            EndpointRow.project_id == project_id,
            EndpointRow.name == ENDPOINT,
            VariantRow.name == variant,
        )
    )
    if row is None:
        return
    _, version = learners.base_version(session, row)
    learner = learners.ensure_learner(session, row, version.sha256)
    learner.paused = True
    session.commit()


def start_demo_traffic(app: FastAPI, server_url: str) -> threading.Thread:
    thread = threading.Thread(
        target=_traffic, args=(app, server_url), name="modelyard-demo-traffic", daemon=True
    )
    thread.start()
    return thread


def _customers(app: FastAPI) -> list[dict[str, Any]]:
    path = app.state.settings.home / "demo" / "warehouse.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT customer_id, tenure_months, monthly_charges, support_calls, contract "
            "FROM customers"
        ).fetchall()
    return [
        {
            "key": r[0],
            "inputs": dict(
                zip(FEATURES, (float(r[1]), float(r[2]), float(r[3]), r[4]), strict=True)
            ),
        }
        for r in rows
    ]


def _demo_key(app: FastAPI) -> str | None:
    """A fresh key for this run of the generator (earlier ones revoked): keys are shown once."""
    with app.state.session_factory() as session:
        user = find_user(session, "mentor")
        project = find_project(session, DEMO_PROJECT.slug)
        if user is None or project is None:
            return None
        endpoint = service.find_endpoint(session, project, ENDPOINT)
        if endpoint is None or endpoint.state != "running":
            return None
        mentor = Actor.of(user, "system")
        for row in keys.list_keys(session, mentor, DEMO_PROJECT.slug, ENDPOINT):
            if row.name == KEY_NAME and row.revoked_at is None:
                keys.revoke_key(session, mentor, DEMO_PROJECT.slug, ENDPOINT, row.id)
        _, token = keys.create_key(session, mentor, DEMO_PROJECT.slug, ENDPOINT, KEY_NAME)
    app.state.serving.changed()
    return token


def _traffic(app: FastAPI, server_url: str) -> None:
    """Poisson arrivals at about REQUESTS_PER_SECOND, until the process ends."""
    token = None
    while token is None:  # the endpoint appears after the demo runs (a minute or two)
        try:
            token = _demo_key(app)
        except ModelyardError:
            token = None
        if token is None:
            time.sleep(3.0)
    customers = _customers(app)
    rng = random.Random(11)
    base = f"{server_url}/serve/{DEMO_PROJECT.slug}/{ENDPOINT}"
    outcomes = Outcomes(started=time.time())
    log.info(
        "demo: sending about %g requests/s to %s/predict and their outcomes to %s/feedback; "
        "who churns changes after %.0f s",
        REQUESTS_PER_SECOND,
        base,
        base,
        DRIFT_AFTER_SECONDS,
    )
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while True:
            time.sleep(rng.expovariate(REQUESTS_PER_SECOND))
            customer = rng.choice(customers)
            try:
                answer = client.post(f"{base}/predict", json=customer)
                if answer.status_code == 200:
                    outcomes.observe(
                        time.time(), answer.json()["prediction_id"], customer["inputs"]
                    )
                labels = outcomes.ready(time.time())
                if labels:
                    client.post(f"{base}/feedback", json=labels)
            except httpx.HTTPError:
                time.sleep(1.0)  # stopped, restarting, or the server is going down
