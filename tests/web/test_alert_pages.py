"""The alerts page and the endpoints' health badges, rendered on the server: alerts with
their history and state, rules with a webhook shown only by its host, editors' buttons and
form, viewers reading only, outsiders seeing nothing, CSRF, and user text escaped."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from modelyard.monitoring.tables import AlertRow
from tests.conftest import Person
from tests.web.test_code_pages import get
from tests.web.test_data_pages import assert_only_our_scripts, csrf_of

XSS = "<script>alert('rule')</script>"
WEBHOOK = "https://hooks.example.com/services/s3cr3t-t0ken"
PAGE = "/projects/churn/alerts"
RULES = "/api/v1/projects/churn/endpoints/churn/alert-rules"
SignIn = Callable[[str], TestClient]


@pytest.fixture
def alert(people: Callable[..., Person], db: Session) -> AlertRow:
    """alice owns churn (endpoint churn, a critical rule with a webhook and one firing
    alert), erin edits, victor views, carol is in no project."""
    crew = {name: people(name) for name in ("alice", "erin", "victor", "carol")}
    alice = crew["alice"].client
    assert alice.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"}).is_success
    for name, role in (("erin", "editor"), ("victor", "viewer")):
        alice.put(f"/api/v1/projects/churn/members/{name}", json={"role": role})
    assert alice.post("/api/v1/projects/churn/endpoints", json={"name": "churn"}).is_success
    rule = {"name": XSS, "figure": "error_rate", "op": ">", "threshold": 0.1}
    made = alice.post(RULES, json={**rule, "severity": "critical", "webhook": WEBHOOK})
    assert made.status_code == 201, made.text
    row = AlertRow(
        rule_id=made.json()["id"],
        endpoint_id=1,
        state="firing",
        severity="critical",
        value=0.42,
        last_value=0.5,
        message=f"error_rate is 0.42 {XSS}",
    )
    db.add(row)
    db.commit()
    return row


def test_editors_see_alerts_and_rules_and_act_on_them(portal: SignIn, alert: AlertRow) -> None:
    erin = portal("erin")
    page = get(erin, PAGE)
    assert page.status == 200
    assert_only_our_scripts(page)
    assert "s3cr3t" not in page.raw and "/services/" not in page.raw
    row = page.find("tr", data_alert=str(alert.id))
    assert row.find(data_testid="alert-state").words == "firing"
    assert "0.42" in row.words and XSS in row.words  # shown as text, not run
    assert page.find("tr", data_rule="1").find(data_testid="webhook").words == (
        "set · hooks.example.com"
    )
    token = csrf_of(page.raw)
    refused = erin.post(f"{PAGE}/{alert.id}/acknowledge", data={})
    assert refused.status_code == 403  # no CSRF token
    acked = erin.post(f"{PAGE}/{alert.id}/acknowledge", data={"csrf_token": token})
    assert acked.status_code == 303 and acked.headers["location"] == f"{PAGE}?done=acknowledged"
    page = get(erin, acked.headers["location"])
    assert "Alert acknowledged" in page.words
    assert page.find("tr", data_alert=str(alert.id)).find(data_testid="alert-state").words == (
        "acknowledged"
    )
    resolved = erin.post(f"{PAGE}/{alert.id}/resolve", data={"csrf_token": token})
    assert resolved.status_code == 303
    firing = get(erin, PAGE, state="firing")
    assert firing.testid("no-alerts").words == "No firing alerts."
    history = get(erin, PAGE, state="resolved")
    assert history.find("tr", data_alert=str(alert.id)).attrs["data-state"] == "resolved"


def test_rules_are_added_and_deleted_from_the_page(portal: SignIn, alert: AlertRow) -> None:
    erin = portal("erin")
    token = csrf_of(get(erin, PAGE).raw)
    form = {
        "csrf_token": token,
        "endpoint": "churn",
        "name": "slow",
        "figure": "latency_p99_ms",
        "op": ">=",
        "threshold": "250",
        "window_seconds": "120",
        "for_seconds": "30",
        "severity": "warning",
        "webhook": "",
    }
    bad = erin.post("/projects/churn/alert-rules", data={**form, "threshold": "lots"})
    assert bad.status_code == 422
    assert get_error_field(bad.text) == "threshold"
    secret = erin.post("/projects/churn/alert-rules", data={**form, "op": "=", "webhook": WEBHOOK})
    assert secret.status_code == 422 and "s3cr3t" not in secret.text  # not echoed back
    added = erin.post("/projects/churn/alert-rules", data=form)
    assert added.status_code == 303, added.text
    page = get(erin, PAGE)
    rule = page.find("tr", data_rule="2")
    assert "latency_p99_ms >= 250 over 120 s, for 30 s" in rule.words
    deleted = erin.post(
        "/projects/churn/alert-rules/2/delete", data={"csrf_token": token, "endpoint": "churn"}
    )
    assert deleted.status_code == 303
    assert not get(erin, PAGE).find_all("tr", data_rule="2")


def get_error_field(text: str) -> str:
    return text.split("(field: ", 1)[1].split(")", 1)[0]


def test_viewers_only_read_and_outsiders_see_nothing(portal: SignIn, alert: AlertRow) -> None:
    victor = portal("victor")
    page = get(victor, PAGE)
    assert page.status == 200 and page.find("tr", data_alert=str(alert.id))
    assert not page.find_all(data_testid="acknowledge") and not page.find_all(
        data_testid="new-rule"
    )
    refused = victor.post(f"{PAGE}/{alert.id}/resolve", data={"csrf_token": csrf_of(page.raw)})
    assert refused.status_code == 403
    assert get(portal("carol"), PAGE).status == 404


def test_endpoints_show_their_health(portal: SignIn, alert: AlertRow) -> None:
    erin = portal("erin")
    for url in ("/", "/projects/churn", "/projects/churn/endpoints"):
        badge = get(erin, url).find("tr", data_endpoint="churn").find(data_testid="endpoint-health")
        assert badge.words == "alerting" and badge.attrs["href"] == PAGE, url
    token = csrf_of(get(erin, PAGE).raw)
    erin.post(f"{PAGE}/{alert.id}/resolve", data={"csrf_token": token})
    badge = get(erin, "/projects/churn").find(data_testid="endpoint-health")
    assert badge.words == "ok"
