"""Endpoints as real replica processes behind a real control plane: traffic split and sticky
keys, a weight flip under load without a failed request, crash recovery, stop/start, a
control-plane restart, shadows, bad input through the gateway, telemetry and autoscaling."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Person
from tests.serving import fleet
from tests.serving.fleet import Plane, record, wait_until

settings, team, plane = fleet.settings, fleet.team, fleet.plane
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
BASE = "/api/v1/projects/churn/endpoints"


@dataclass
class Live:
    plane: Plane
    owner: httpx.Client  # the owner's API client on the real server
    key: str
    serve_url: str  # through the control plane

    def endpoint(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.owner.get(f"{BASE}/churn").json()
        return answer

    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.endpoint()['port']}/serve/churn/churn/predict"


def _start(
    team: dict[str, Person], plane: Plane, variants: list[dict[str, Any]], **options: Any
) -> Iterator[Live]:
    owner = httpx.Client(
        base_url=plane.url, headers={"Authorization": f"Bearer {team['owner'].token}"}, timeout=30
    )
    assert owner.post(BASE, json={"name": "churn", **options}).status_code == 201
    for variant in variants:
        answer = owner.post(f"{BASE}/churn/variants", json={"model": "clf", **variant})
        assert answer.status_code == 201, answer.text
    key = owner.post(f"{BASE}/churn/keys", json={"name": "tests"}).json()["token"]
    assert owner.post(f"{BASE}/churn/start").status_code == 200
    live = Live(plane, owner, key, f"{plane.url}/serve/churn/churn/predict")
    wait_until(lambda: fleet.predict(live.serve_url, key, {"inputs": record()}).status_code == 200)
    yield live
    owner.post(f"{BASE}/churn/stop")
    owner.close()


@pytest.fixture
def ab(team: dict[str, Person], plane: Plane) -> Iterator[Live]:
    """Variant a serves clf v1 (answers 0) at 80, b serves v2 (answers 1) at 20."""
    yield from _start(
        team,
        plane,
        [{"name": "a", "version": "1", "weight": 80}, {"name": "b", "version": "2", "weight": 20}],
    )


def test_split_lands_within_tolerance_and_keys_stick(ab: Live) -> None:
    url = ab.direct_url()
    seen: Counter[str] = Counter()
    with httpx.Client(headers={"Authorization": f"Bearer {ab.key}"}, timeout=30) as client:
        for i in range(2000):
            answer = client.post(url, json={"inputs": record(i)}).json()
            assert answer["outputs"] == (0 if answer["variant"] == "a" else 1)
            seen[answer["variant"]] += 1
        # 2,000 draws at p = 0.2: sd ≈ 17.9; 4.5 sd either side
        assert abs(seen["b"] - 400) <= 80, seen
        for user in range(40):
            arms = {
                client.post(url, json={"inputs": record(), "key": f"user-{user}"}).json()["variant"]
                for _ in range(4)
            }
            assert len(arms) == 1, user


def test_weights_flip_under_load_without_a_failed_request(ab: Live) -> None:
    assert ab.owner.put(f"{BASE}/churn/traffic", json={"weights": {"a": 100}}).is_success
    wait_until(lambda: ab.endpoint()["replicas"][0]["spec_version"] != "", timeout=10)
    time.sleep(1.0)  # the 100/0 split is in place on the replica
    results: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {ab.key}"}, timeout=30) as client:
            while not stop.is_set():
                answer = client.post(ab.serve_url, json={"inputs": record()})
                variant = answer.json().get("variant", "") if answer.status_code == 200 else ""
                results.append((time.monotonic(), answer.status_code, variant))

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    flipped = ab.owner.put(f"{BASE}/churn/traffic", json={"weights": {"b": 100}})
    flipped_at = time.monotonic()
    assert flipped.is_success
    time.sleep(2.0)
    stop.set()
    for worker in workers:
        worker.join()
    assert results and all(code == 200 for _, code, _ in results)
    before = [v for t, _, v in results if t < flipped_at - 0.05]
    settled = [v for t, _, v in results if t > flipped_at + 1.0]
    assert before and set(before) == {"a"}
    assert settled and set(settled) == {"b"}


def test_a_killed_replica_comes_back_and_the_endpoint_keeps_answering(ab: Live) -> None:
    [replica] = wait_until(lambda: [r for r in ab.endpoint()["replicas"] if r["state"] == "ready"])
    os.kill(replica["pid"], signal.SIGKILL)
    # the pool's socket stays open in the control plane: new connections wait, never fail
    with httpx.Client(headers={"Authorization": f"Bearer {ab.key}"}, timeout=30) as client:
        for _ in range(20):
            assert client.post(ab.serve_url, json={"inputs": record()}).status_code == 200
    back = wait_until(
        lambda: [
            r
            for r in ab.endpoint()["replicas"]
            if r["state"] == "ready" and r["pid"] != replica["pid"]
        ]
    )
    assert back[0]["restarts"] == 1 and back[0]["id"] != replica["id"]
    events = ab.owner.get(f"{BASE}/churn/events").json()["items"]
    assert any(e["kind"] == "restart" and "-9" in e["message"] for e in events), events


def test_shadows_are_logged_never_returned_and_telemetry_reaches_charts(ab: Live) -> None:
    added = ab.owner.post(
        f"{BASE}/churn/variants",
        json={"name": "s", "model": "clf", "version": "2", "mode": "shadow"},
    )
    assert added.status_code == 201
    wait_until(lambda: _spec_has(ab, "s"), timeout=10)
    with httpx.Client(headers={"Authorization": f"Bearer {ab.key}"}, timeout=30) as client:
        answers = [client.post(ab.serve_url, json={"inputs": record(i)}).json() for i in range(60)]
    assert {a["variant"] for a in answers} <= {"a", "b"}
    ids = {a["prediction_id"] for a in answers}

    def logged() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = ab.owner.get(
            f"{BASE}/churn/predictions", params={"limit": 500}
        ).json()["items"]
        return rows if len([r for r in rows if r["prediction_id"] in ids]) >= 120 else []

    rows = wait_until(logged, timeout=10)
    shadows = [r for r in rows if r["shadow"]]
    assert {r["variant"] for r in shadows} == {"s"} and {r["outputs"] for r in shadows} == {1}
    assert {r["prediction_id"] for r in shadows} == ids
    assert rows[0]["inputs"] == record(rows[0]["inputs"]["f0"])

    metrics = wait_until(
        lambda: (
            (m := ab.owner.get(f"{BASE}/churn/metrics").json())["summary"]["requests"] >= 60 and m
        )
    )
    assert set(metrics["summary"]["variant_share"]) <= {"a", "b"}
    assert metrics["summary"]["p99_ms"] is not None
    assert any(metrics["series"]["requests_per_second"])
    admin = httpx.get(f"{ab.plane.url}/metrics", headers=ab.owner.headers)
    assert admin.status_code == 403  # owners of a project are not admins
    exposition = _admin_metrics(ab)
    assert 'modelyard_requests_total{code="200",endpoint="churn",project="churn"' in exposition
    assert "modelyard_request_duration_seconds_bucket{" in exposition
    assert 'modelyard_replicas{endpoint="churn",project="churn"} 1.0' in exposition


def _spec_has(live: Live, variant: str) -> bool:
    """Every replica serves the spec that holds `variant`."""
    from sqlalchemy import select

    from modelyard.serving.tables import EndpointRow

    replicas = live.endpoint()["replicas"]
    with live.plane.app.state.session_factory() as session:
        endpoint_id = session.scalars(select(EndpointRow.id)).one()
        spec = live.plane.app.state.serving.specs.build(session, endpoint_id)
    assert variant in {v.name for v in spec.variants}
    return bool(replicas) and all(r["spec_version"] == spec.version for r in replicas)


def _admin_metrics(live: Live) -> str:
    from modelyard.accounts.actors import Actor
    from modelyard.accounts.schemas import TokenCreate
    from modelyard.accounts.tables import UserRow
    from modelyard.accounts.tokens import create_token

    with live.plane.app.state.session_factory() as session:
        user = UserRow(username="root", password_hash="x", is_admin=True)
        session.add(user)
        session.commit()
        _, token = create_token(session, Actor.of(user, "system"), TokenCreate(name="prom"))
    answer = httpx.get(f"{live.plane.url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return answer.text


def test_bad_input_and_missing_keys_through_the_gateway(ab: Live) -> None:
    headers = {"Authorization": f"Bearer {ab.key}"}
    cases: list[tuple[dict[str, Any] | bytes, int, str | None]] = [
        ({"inputs": {"f0": 1.0, "f1": 2.0, "f2": 3.0}}, 422, "inputs.f3"),
        ({"inputs": {**record(), "f1": "high"}}, 422, "inputs.f1"),
        ({"inputs": {**record(), "extra": 1}}, 422, "inputs.extra"),
        ({"inputs": []}, 422, "inputs"),
        (b"{not json", 400, None),
        (b'{"inputs": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413, "body"),
    ]
    for body, status, field in cases:
        if isinstance(body, bytes):
            answer = httpx.post(ab.serve_url, content=body, headers=headers, timeout=30)
        else:
            answer = httpx.post(ab.serve_url, json=body, headers=headers, timeout=30)
        assert answer.status_code == status, (str(body)[:80], answer.text[:300])
        if field:
            assert answer.json()["error"]["field"] == field, answer.text
    assert httpx.post(ab.serve_url, json={"inputs": record()}).status_code == 401
    wrong = httpx.post(
        ab.serve_url, json={"inputs": record()}, headers={"Authorization": "Bearer mye_wrong"}
    )
    assert wrong.status_code == 401
    # a revoked key stops working within a second
    keys = ab.owner.get(f"{BASE}/churn/keys").json()["items"]
    ab.owner.delete(f"{BASE}/churn/keys/{keys[0]['id']}")
    wait_until(
        lambda: (
            httpx.post(ab.serve_url, json={"inputs": record()}, headers=headers).status_code == 401
        ),
        timeout=3,
    )


def test_stop_start_and_a_restarted_control_plane_bring_it_back(ab: Live) -> None:
    port = ab.endpoint()["port"]
    assert ab.owner.post(f"{BASE}/churn/stop").json()["status"] == "stopped"
    stopped = fleet.predict(ab.serve_url, ab.key, {"inputs": record()})
    assert stopped.status_code == 503 and "stopped" in stopped.json()["error"]["message"]
    wait_until(lambda: not _accepts(port), timeout=15)
    assert ab.owner.post(f"{BASE}/churn/start").is_success
    wait_until(lambda: fleet.predict(ab.serve_url, ab.key, {"inputs": record()}).is_success)
    assert ab.endpoint()["port"] == port  # the URL is stable

    ab.plane.restart()
    answer = wait_until(
        lambda: (r := fleet.predict(ab.serve_url, ab.key, {"inputs": record()})).is_success and r
    )
    assert answer.json()["variant"] in {"a", "b"}
    assert ab.endpoint()["port"] == port


def _accepts(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def elastic(team: dict[str, Person], plane: Plane) -> Iterator[Live]:
    yield from _start(
        team,
        plane,
        [{"name": "a", "version": "1", "weight": 1}],
        min_replicas=1,
        max_replicas=2,
        target_inflight=0.1,
    )


def test_load_scales_the_pool_up_and_quiet_scales_it_down(elastic: Live) -> None:
    stop = threading.Event()

    def load() -> None:
        headers = {"Authorization": f"Bearer {elastic.key}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            while not stop.is_set():
                client.post(elastic.direct_url(), json={"inputs": [record(i) for i in range(50)]})

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: len(elastic.endpoint()["replicas"]) == 2, timeout=20)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    wait_until(lambda: len(elastic.endpoint()["replicas"]) == 1, timeout=20)
    kinds = [e["kind"] for e in elastic.owner.get(f"{BASE}/churn/events").json()["items"]]
    assert "scale_up" in kinds and "scale_down" in kinds


def test_moving_a_followed_alias_reaches_the_replicas_within_a_second(
    team: dict[str, Person], plane: Plane
) -> None:
    owner = team["owner"]
    owner.client.put("/api/v1/projects/churn/models/clf/aliases/champion", json={"version": 1})
    for live in _start(team, plane, [{"name": "champ", "version": "champion", "weight": 1}]):
        with httpx.Client(headers={"Authorization": f"Bearer {live.key}"}, timeout=30) as client:
            assert client.post(live.serve_url, json={"inputs": record()}).json()["outputs"] == 0
            moved = owner.client.put(
                "/api/v1/projects/churn/models/clf/aliases/champion", json={"version": 2}
            )
            assert moved.status_code == 200
            moved_at = time.monotonic()
            while client.post(live.serve_url, json={"inputs": record()}).json()["outputs"] != 1:
                assert time.monotonic() - moved_at < 1.5, "the alias move did not arrive"
        assert live.endpoint()["variants"][0]["version"] == 2
