"""The endpoints API without processes: desired state, validation, roles, traffic, keys."""

from __future__ import annotations

from tests.conftest import Person
from tests.serving import fleet

settings, team = fleet.settings, fleet.team
BASE = "/api/v1/projects/churn/endpoints"


def _endpoint(owner: Person, name: str = "churn", **body: object) -> dict[str, object]:
    answer = owner.client.post(BASE, json={"name": name, **body})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_an_endpoint_holds_variants_by_version_or_alias_with_shares(
    team: dict[str, Person],
) -> None:
    owner = team["owner"]
    owner.client.put("/api/v1/projects/churn/models/clf/aliases/champion", json={"version": 2})
    created = _endpoint(owner, description="churn scores", max_replicas=3)
    assert created["state"] == "stopped" and created["variants"] == []
    assert str(created["url"]).endswith("/serve/churn/churn/predict")
    a = owner.client.post(
        f"{BASE}/churn/variants", json={"name": "a", "model": "clf", "version": "1", "weight": 90}
    )
    assert a.status_code == 201, a.text
    b = owner.client.post(
        f"{BASE}/churn/variants",
        json={"name": "b", "model": "clf", "version": "champion", "weight": 10},
    ).json()
    assert [(v["name"], v["version"], v["alias"], v["share"]) for v in b["variants"]] == [
        ("a", 1, None, 0.9),
        ("b", 2, "champion", 0.1),
    ]
    # a variant following an alias serves whatever the alias points at now
    owner.client.put("/api/v1/projects/churn/models/clf/aliases/champion", json={"version": 1})
    moved = owner.client.get(f"{BASE}/churn").json()
    assert moved["variants"][1]["version"] == 1
    # sklearn without a predict.py micro-batches by default
    assert all(v["batching"] for v in moved["variants"])


def test_bad_requests_name_the_field(team: dict[str, Person]) -> None:
    owner = team["owner"]
    _endpoint(owner)
    cases = [
        (BASE, {"name": "churn"}, 409, "name"),
        (BASE, {"name": "Bad Name"}, 422, "name"),
        (BASE, {"name": "x", "min_replicas": 3, "max_replicas": 2}, 422, "max_replicas"),
        (f"{BASE}/churn/variants", {"name": "a", "model": "nope", "version": "1"}, 422, "model"),
        (f"{BASE}/churn/variants", {"name": "a", "model": "clf", "version": "7"}, 404, "version"),
        (
            f"{BASE}/churn/variants",
            {"name": "a", "model": "clf", "version": "1", "weight": -1},
            422,
            "weight",
        ),
        (
            f"{BASE}/churn/variants",
            {"name": "a", "model": "clf", "version": "1", "code": "main"},
            422,
            "code",
        ),
        (
            f"{BASE}/churn/variants",
            {"name": "a", "model": "clf", "version": "1", "mode": "canary"},
            422,
            "mode",
        ),
    ]
    for url, body, status, field in cases:
        answer = owner.client.post(url, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["field"] == field, (body, answer.json())
    # starting needs a live variant with traffic
    refused = owner.client.post(f"{BASE}/churn/start")
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "variants"
    owner.client.post(f"{BASE}/churn/variants", json={"name": "a", "model": "clf", "version": "1"})
    owner.client.post(
        f"{BASE}/churn/variants",
        json={"name": "s", "model": "clf", "version": "2", "mode": "shadow"},
    )
    for weights, field in [({"zz": 1}, "weights"), ({"s": 50}, "weights"), ({}, "weights")]:
        answer = owner.client.put(f"{BASE}/churn/traffic", json={"weights": weights})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, weights


def test_roles_guard_every_change(team: dict[str, Person]) -> None:
    owner, viewer, outsider = team["owner"], team["viewer"], team["outsider"]
    _endpoint(owner)
    owner.client.post(
        f"{BASE}/churn/variants", json={"name": "a", "model": "clf", "version": "1", "weight": 1}
    )
    assert viewer.client.get(f"{BASE}/churn").status_code == 200
    assert outsider.client.get(f"{BASE}/churn").status_code == 404
    for method, url, body in [
        ("post", BASE, {"name": "mine"}),
        ("patch", f"{BASE}/churn", {"public": True}),
        ("post", f"{BASE}/churn/start", None),
        ("post", f"{BASE}/churn/variants", {"name": "b", "model": "clf", "version": "2"}),
        ("put", f"{BASE}/churn/traffic", {"weights": {"a": 5}}),
        ("post", f"{BASE}/churn/keys", {"name": "app"}),
        ("get", f"{BASE}/churn/keys", None),
        ("get", f"{BASE}/churn/predictions", None),
        ("delete", f"{BASE}/churn", None),
    ]:
        answer = viewer.client.request(method, url, json=body)
        assert answer.status_code == 403, (method, url, answer.text)
        assert outsider.client.request(method, url, json=body).status_code == 404
    assert owner.client.get(f"{BASE}/churn").json()["public"] is False


def test_rollback_puts_the_previous_split_back(team: dict[str, Person]) -> None:
    owner = team["owner"]
    _endpoint(owner)
    for name, version, weight in [("a", "1", 100), ("b", "2", 0)]:
        owner.client.post(
            f"{BASE}/churn/variants",
            json={"name": name, "model": "clf", "version": version, "weight": weight},
        )
    flipped = owner.client.put(f"{BASE}/churn/traffic", json={"weights": {"b": 100}}).json()
    assert [v["share"] for v in flipped["variants"]] == [0.0, 1.0]
    back = owner.client.post(f"{BASE}/churn/rollback").json()
    assert [v["share"] for v in back["variants"]] == [1.0, 0.0]
    again = owner.client.post(f"{BASE}/churn/rollback").json()
    assert [v["share"] for v in again["variants"]] == [0.0, 1.0]


def test_keys_are_shown_once_and_stored_hashed(team: dict[str, Person], db: object) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from modelyard.serving.tables import EndpointKeyRow

    owner = team["owner"]
    _endpoint(owner)
    created = owner.client.post(f"{BASE}/churn/keys", json={"name": "web app"}).json()
    token = created["token"]
    assert token.startswith("mye_") and created["prefix"] == token[:8]
    listed = owner.client.get(f"{BASE}/churn/keys").json()["items"]
    assert listed[0]["name"] == "web app" and "token" not in listed[0]
    assert isinstance(db, Session)
    stored = db.scalars(select(EndpointKeyRow.key_hash)).all()
    assert token not in str(stored) and len(stored[0]) == 64
    revoked = owner.client.delete(f"{BASE}/churn/keys/{created['id']}").json()
    assert revoked["revoked_at"] is not None
    assert owner.client.delete(f"{BASE}/churn/keys/999").status_code == 404


def test_a_stopped_or_missing_endpoint_answers_clearly(team: dict[str, Person]) -> None:
    owner = team["owner"]
    _endpoint(owner)
    stopped = owner.client.post("/serve/churn/churn/predict", json={"inputs": fleet.record()})
    assert stopped.status_code == 503
    assert "stopped" in stopped.json()["error"]["message"]
    missing = owner.client.post("/serve/churn/nope/predict", json={"inputs": {}})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "endpoint"


def test_a_running_endpoint_keeps_a_live_variant_with_traffic(team: dict[str, Person]) -> None:
    owner = team["owner"]
    _endpoint(owner)
    owner.client.post(
        f"{BASE}/churn/variants", json={"name": "a", "model": "clf", "version": "1", "weight": 1}
    )
    assert owner.client.post(f"{BASE}/churn/start").status_code == 200
    for body, field in [({"weight": 0}, "weight"), ({"mode": "shadow"}, "mode")]:
        refused = owner.client.patch(f"{BASE}/churn/variants/a", json=body)
        assert refused.status_code == 409 and refused.json()["error"]["field"] == field
    assert owner.client.get(f"{BASE}/churn").json()["variants"][0]["weight"] == 1.0
    # names the API cannot store are a 4xx naming them, never a 500
    bad = owner.client.post(f"{BASE}/Bad%20Name/deploy", json={"model": "clf", "version": "1"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
    huge = owner.client.delete(f"{BASE}/churn/keys/99999999999999999999")
    assert huge.status_code == 422 and huge.json()["error"]["field"] == "key_id"
