"""Alert rules through the API: who may read and change them, what is refused (naming the
field), that a webhook URL never comes back, and acknowledging and resolving alerts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from tests.conftest import Person
from tests.monitoring.conftest import ALERTS, RULES

WEBHOOK = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken?key=hush"
RULE = {"name": "errors", "figure": "error_rate", "op": ">", "threshold": 0.1}


def test_editors_manage_rules_viewers_read_them_outsiders_see_nothing(
    team: dict[str, Person],
) -> None:
    erin, victor, carol = team["erin"].client, team["victor"].client, team["carol"].client
    made = erin.post(RULES, json={**RULE, "severity": "critical", "for_seconds": 30})
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["figure"] == "error_rate" and rule["severity"] == "critical"
    assert rule["created_by"] == "erin" and rule["enabled"] and not rule["webhook_set"]

    listed = victor.get(RULES)
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    refused = victor.post(RULES, json=RULE)
    assert refused.status_code == 403
    assert victor.patch(f"{RULES}/{rule['id']}", json={"threshold": 1}).status_code == 403
    assert victor.delete(f"{RULES}/{rule['id']}").status_code == 403
    assert carol.get(RULES).status_code == 404  # as if the project did not exist
    assert carol.get(ALERTS).status_code == 404
    assert carol.post(RULES, json=RULE).status_code == 404

    changed = erin.patch(f"{RULES}/{rule['id']}", json={"threshold": 0.25, "enabled": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["threshold"] == 0.25 and changed.json()["enabled"] is False
    assert erin.delete(f"{RULES}/{rule['id']}").status_code == 204
    assert victor.get(RULES).json()["items"] == []
    assert erin.delete(f"{RULES}/{rule['id']}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"figure": "happiness"}, "figure"),
        ({"op": "=="}, "op"),
        ({"threshold": "high"}, "threshold"),
        ({"threshold": 1e300}, "threshold"),
        ({"severity": "page-everyone"}, "severity"),
        ({"window_seconds": 0}, "window_seconds"),
        ({"for_seconds": -1}, "for_seconds"),
        ({"variant": "nope"}, "variant"),
        ({"webhook": "ftp://example.com/x"}, "webhook"),
        ({"webhook": "javascript:alert(1)"}, "webhook"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    team: dict[str, Person], change: dict[str, object], field: str
) -> None:
    answer = team["alice"].client.post(RULES, json={**RULE, **change})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_a_webhook_is_stored_sealed_and_never_answered(
    team: dict[str, Person], db: Session
) -> None:
    alice = team["alice"].client
    made = alice.post(RULES, json={**RULE, "webhook": WEBHOOK, "variant": "base"})
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["webhook_set"] and rule["webhook_host"] == "hooks.example.com"
    assert rule["variant"] == "base"
    stored = db.get(AlertRuleRow, rule["id"])
    assert stored is not None and stored.webhook_encrypted
    assert "s3cr3t" not in stored.webhook_encrypted and "hooks" not in stored.webhook_encrypted
    for answer in (
        made,
        alice.get(RULES),
        alice.patch(f"{RULES}/{rule['id']}", json={"name": "renamed"}),
        team["victor"].client.get(RULES),
    ):
        assert answer.status_code in (200, 201)
        assert "s3cr3t" not in answer.text and "/services/" not in answer.text
    cleared = alice.patch(f"{RULES}/{rule['id']}", json={"webhook": ""})
    assert cleared.json()["webhook_set"] is False and cleared.json()["webhook_host"] is None


def test_alerts_are_listed_acknowledged_and_resolved(team: dict[str, Person], db: Session) -> None:
    alice, victor = team["alice"].client, team["victor"].client
    rule = alice.post(RULES, json={**RULE, "severity": "critical"}).json()
    older = AlertRow(
        rule_id=rule["id"], endpoint_id=1, state="resolved", severity="critical", value=0.5
    )
    current = AlertRow(
        rule_id=rule["id"], endpoint_id=1, state="firing", severity="critical", value=0.4
    )
    db.add_all([older, current])
    db.commit()

    everything = victor.get(ALERTS).json()["items"]
    assert [a["id"] for a in everything] == [current.id, older.id]
    assert everything[0]["rule"] == "errors" and everything[0]["endpoint"] == "churn"
    firing = victor.get(ALERTS, params={"state": "firing", "endpoint": "churn"}).json()["items"]
    assert [a["id"] for a in firing] == [current.id]
    assert victor.get(ALERTS, params={"state": "sleeping"}).status_code == 422
    assert victor.get(ALERTS, params={"endpoint": "nope"}).status_code == 404

    assert victor.post(f"{ALERTS}/{current.id}/acknowledge").status_code == 403
    assert team["carol"].client.post(f"{ALERTS}/{current.id}/resolve").status_code == 404
    acked = alice.post(f"{ALERTS}/{current.id}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_by"] == "alice"
    resolved = alice.post(f"{ALERTS}/{current.id}/resolve")
    assert resolved.json()["state"] == "resolved" and resolved.json()["resolved_at"]
    again = alice.post(f"{ALERTS}/{current.id}/acknowledge")
    assert again.status_code == 409 and again.json()["error"]["field"] == "alert"
    assert alice.post(f"{ALERTS}/999/resolve").status_code == 404
    assert victor.get(ALERTS, params={"state": "firing"}).json()["items"] == []


def test_alert_routes_are_documented(team: dict[str, Person]) -> None:
    paths = team["victor"].client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(
        paths["/api/v1/projects/{project}/endpoints/{endpoint}/alert-rules"]
    )
    assert "post" in paths["/api/v1/projects/{project}/alerts/{alert_id}/resolve"]
