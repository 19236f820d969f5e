"""The alert evaluator on simulated traffic: telemetry rows written as replicas write them,
passes at chosen instants. A rule fires only once its condition has held for `for_seconds`,
resolves when the figure recovers, stays open while there is no data, and its webhook (a
real HTTP server on loopback) hears both, without the URL reaching any log line."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.monitoring.alerts_loop import AlertsLoop
from modelyard.monitoring.evaluator import serving_source
from modelyard.monitoring.service import health_of
from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from modelyard.serving.schemas import ReplicaPublic
from modelyard.serving.spec import LATENCY_BUCKETS
from modelyard.serving.tables import EndpointRow, TelemetryRow
from tests.conftest import Person
from tests.monitoring.conftest import RULES

T = 1_700_000_000
SECRET_PATH = "/hooks/t0ken-4242?sig=hush"


@dataclass
class Hook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A webhook receiver on 127.0.0.1 that records what it is sent."""
    found = Hook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.received.append({"path": self.path, **json.loads(body)})
            self.send_response(found.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test server's own access log would print the secret path

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"
    yield found
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def traffic(db: Session, start: int, end: int, ok: int, failed: int, slow: bool = False) -> None:
    """`ok` good and `failed` 500 answers per second of variant base, from `start` to `end`."""
    buckets = [0] * (len(LATENCY_BUCKETS) + 1)
    bucket = len(LATENCY_BUCKETS) - 1 if slow else 0
    for ts in range(start, end):
        for code, count in ((200, ok), (500, failed)):
            if count:
                hist = list(buckets)
                hist[bucket] = count
                db.add(
                    TelemetryRow(
                        endpoint_id=1,
                        ts=ts,
                        variant="base",
                        code=code,
                        count=count,
                        latency_sum=0.01 * count,
                        buckets=hist,
                    )
                )
    db.commit()


def loop_of(app: FastAPI) -> AlertsLoop:
    return AlertsLoop(app.state.session_factory, app.state.secret_box, 1.0)


def alerts(db: Session) -> list[AlertRow]:
    db.expire_all()
    return list(db.scalars(select(AlertRow).order_by(AlertRow.id)).all())


def test_fires_after_for_seconds_resolves_on_recovery_and_tells_the_webhook(
    app: FastAPI,
    db: Session,
    team: dict[str, Person],
    hook: Hook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rule = (
        team["erin"]
        .client.post(
            RULES,
            json={
                "name": "errors",
                "figure": "error_rate",
                "op": ">",
                "threshold": 0.2,
                "window_seconds": 60,
                "for_seconds": 20,
                "severity": "critical",
                "webhook": hook.url,
            },
        )
        .json()
    )
    loop = loop_of(app)
    traffic(db, T - 30, T + 30, ok=5, failed=5)  # half the requests fail

    assert loop.run_once(now=T) == []  # the condition holds from now on
    rule_row = db.get(AlertRuleRow, rule["id"])
    assert rule_row is not None and rule_row.pending_since == T
    assert loop.run_once(now=T + 19) == [] and alerts(db) == []
    fired = loop.run_once(now=T + 20)
    assert [t.state for t in fired] == ["firing"]
    (alert,) = alerts(db)
    assert alert.state == "firing" and alert.value == pytest.approx(0.5)
    assert alert.severity == "critical" and alert.webhook_status == "firing: HTTP 200"
    assert "error_rate is 0.5 (> 0.2) over the last 60 s, for 20 s" in alert.message
    assert health_of(db, [1, 2]) == {1: "alerting", 2: "ok"}

    assert loop.run_once(now=T + 25) == [] and len(alerts(db)) == 1  # one alert per firing
    (sent,) = hook.received
    assert sent["state"] == "firing" and sent["path"] == SECRET_PATH
    assert sent["endpoint"] == "churn" and sent["project"] == "churn"
    assert sent["alert"]["id"] == alert.id and sent["alert"]["value"] == pytest.approx(0.5)
    assert sent["rule"]["name"] == "errors" and sent["rule"]["webhook_set"] is True
    body = {k: v for k, v in sent.items() if k != "path"}
    assert "webhook" not in sent["rule"] and "t0ken" not in json.dumps(body)

    traffic(db, T + 30, T + 100, ok=10, failed=0)  # fixed: the window sees only good answers
    resolved = loop.run_once(now=T + 95)
    assert [t.state for t in resolved] == ["resolved"]
    (alert,) = alerts(db)
    assert alert.state == "resolved" and alert.last_value == 0.0 and alert.resolved_at
    assert alert.webhook_status == "resolved: HTTP 200"
    assert [r["state"] for r in hook.received] == ["firing", "resolved"]
    assert health_of(db, [1]) == {1: "ok"}
    assert not [r for r in caplog.records if "t0ken" in r.getMessage()]


def test_no_data_neither_fires_nor_resolves(
    app: FastAPI, db: Session, team: dict[str, Person]
) -> None:
    client = team["alice"].client
    slow = {"name": "slow", "figure": "latency_p99_ms", "op": ">=", "threshold": 500}
    assert client.post(RULES, json={**slow, "window_seconds": 60}).status_code == 201
    accuracy = {"name": "acc", "figure": "accuracy", "op": "<", "threshold": 0.9}
    assert client.post(RULES, json=accuracy).status_code == 201  # no labels: never fires
    loop = loop_of(app)
    assert loop.run_once(now=T) == []  # no traffic at all: no latency to compare
    traffic(db, T, T + 10, ok=3, failed=0, slow=True)
    assert [t.state for t in loop.run_once(now=T + 10)] == ["firing"]
    (alert,) = alerts(db)
    assert alert.severity == "warning" and alert.value is not None and alert.value >= 500
    assert health_of(db, [1]) == {1: "warning"}
    assert loop.run_once(now=T + 500) == []  # the traffic stopped: the alert stays open
    (alert,) = alerts(db)
    assert alert.state == "firing" and alert.webhook_status == ""


def test_a_resolved_alert_fires_again_while_the_figure_stays_bad(
    app: FastAPI, db: Session, team: dict[str, Person]
) -> None:
    client = team["alice"].client
    rule = {"name": "busy", "figure": "requests_per_second", "op": ">", "threshold": 5}
    assert client.post(RULES, json={**rule, "window_seconds": 60}).status_code == 201
    traffic(db, T - 60, T + 60, ok=10, failed=0)
    loop = loop_of(app)
    assert [t.state for t in loop.run_once(now=T)] == ["firing"]
    (first,) = alerts(db)
    resolved = client.post(f"/api/v1/projects/churn/alerts/{first.id}/resolve")
    assert resolved.json()["state"] == "resolved"
    assert [t.state for t in loop.run_once(now=T + 5)] == ["firing"]
    assert [a.state for a in alerts(db)] == ["resolved", "firing"]
    paused = client.patch(f"{RULES}/1", json={"enabled": False})  # disabling resolves
    assert paused.status_code == 200
    assert [a.state for a in alerts(db)] == ["resolved", "resolved"]
    assert loop.run_once(now=T + 10) == []


def test_ready_replicas_of_a_running_endpoint(db: Session, team: dict[str, Person]) -> None:
    def replicas(endpoint_id: int) -> list[ReplicaPublic]:
        states = ["ready", "starting", "ready"]
        return [
            ReplicaPublic(
                id=f"r{i}",
                pid=None,
                state=s,  # type: ignore[arg-type]
                started_at="2024-01-01T00:00:00Z",  # type: ignore[arg-type]
                restarts=0,
                inflight=0,
                spec_version="1",
            )
            for i, s in enumerate(states)
        ]

    source = serving_source(replicas)
    endpoint = db.get(EndpointRow, 1)
    assert endpoint is not None
    assert source(db, endpoint, None, 60, T)["replicas_ready"] is None  # stopped on purpose
    endpoint.state = "running"
    figures = source(db, endpoint, None, 60, T)
    assert figures["replicas_ready"] == 2.0 and figures["requests_per_second"] == 0.0


def test_a_failing_webhook_is_recorded_not_raised(
    app: FastAPI, db: Session, team: dict[str, Person], hook: Hook
) -> None:
    hook.status = 500
    rule = {"name": "e", "figure": "error_rate", "op": ">", "threshold": 0.1}
    made = team["alice"].client.post(RULES, json={**rule, "webhook": hook.url})
    assert made.status_code == 201
    traffic(db, T - 10, T, ok=0, failed=2)
    assert [t.state for t in loop_of(app).run_once(now=T)] == ["firing"]
    assert alerts(db)[0].webhook_status == "firing: HTTP 500"
    gone = hook.url.replace(hook.url.split("/")[2], "127.0.0.1:9")  # nothing listens there
    team["alice"].client.patch(f"{RULES}/1", json={"webhook": gone, "threshold": 0.2})
    assert [t.state for t in loop_of(app).run_once(now=T + 1)] == ["firing"]
    assert alerts(db)[1].webhook_status == "firing: failed: ConnectError"
