"""`modelyard alerts ...` against a live server: rules added (a webhook read from stdin and
shown only by its host), listed and removed; alerts listed, acknowledged and resolved."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from modelyard.client.config_file import SavedLogin, save_login
from modelyard.monitoring.tables import AlertRow
from tests.cli.test_endpoints_cli import cli
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")
WEBHOOK = "https://hooks.example.com/services/s3cr3t-t0ken"


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Person:
    """alice, signed in, owns churn with a stopped endpoint churn; bob only views it."""
    alice, _ = people("alice"), people("bob")
    assert alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "C"}).is_success
    alice.client.put("/api/v1/projects/churn/members/bob", json={"role": "viewer"})
    assert alice.client.post("/api/v1/projects/churn/endpoints", json={"name": "churn"}).is_success
    save_login(SavedLogin(live_server.url, alice.token, "alice"))
    return alice


def test_rules_add_list_rm(alice: Person) -> None:
    code, _, shown = cli(
        "alerts", "rules", "add", "churn", "error_rate", ">", "0.05", "-p", "churn",
        "--for", "60", "--severity", "critical", "--webhook", "-",
        input=WEBHOOK + "\n",
    )  # fmt: skip
    assert code == 0, shown
    assert "Rule 1 (error_rate): error_rate > 0.05 on churn/churn (critical); webhook on" in shown
    assert "hooks.example.com" in shown and "s3cr3t" not in shown
    code, _, shown = cli("alerts", "rules", "list", "churn", "-p", "churn")
    assert code == 0 and "300 s 60 s critical hooks.ex" in shown and "> 0.05" in shown
    code, _, shown = cli("alerts", "rules", "add", "churn", "joy", ">", "1", "-p", "churn")
    assert code == 1 and "(field: figure)" in shown
    code, _, shown = cli("alerts", "rules", "rm", "churn", "1", "-p", "churn")
    assert code == 0 and "Deleted rule 1 of churn/churn." in shown
    code, _, shown = cli("alerts", "rules", "list", "churn", "-p", "churn")
    assert code == 0 and "No rules yet" in shown


def test_alerts_list_ack_resolve(alice: Person, live_server: LiveServer) -> None:
    code, _, shown = cli("alerts", "list", "-p", "churn")
    assert code == 0 and "No alerts in churn." in shown
    made = alice.client.post(
        "/api/v1/projects/churn/endpoints/churn/alert-rules",
        json={"name": "slow", "figure": "latency_p99_ms", "op": ">", "threshold": 250},
    )
    assert made.status_code == 201
    factory: sessionmaker[Session] = live_server.app.state.session_factory
    with factory() as session:
        session.add(
            AlertRow(rule_id=1, endpoint_id=1, state="firing", severity="warning", value=312.5)
        )
        session.commit()
    code, _, shown = cli("alerts", "list", "--state", "firing", "-p", "churn")
    assert code == 0 and "1 firing warning churn slow 312.5" in shown
    code, _, shown = cli("alerts", "ack", "1", "-p", "churn")
    assert code == 0 and "Alert 1 (slow on churn) is acknowledged." in shown
    code, _, shown = cli("alerts", "resolve", "1", "-p", "churn")
    assert code == 0 and "is resolved." in shown
    code, _, shown = cli("alerts", "list", "--state", "firing", "-p", "churn")
    assert "No firing alerts in churn." in shown
    code, _, shown = cli("alerts", "ack", "1", "-p", "churn")
    assert code == 1 and "resolved already" in shown
