"""The runs API: roles, bad input, NaN and infinity, artifacts, paging and sorting."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from modelyard.experiments.tables import RunRow
from tests.conftest import Person


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    owner, viewer, outsider = people("olivia"), people("victor"), people("oscar")
    assert (
        owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"}).status_code
        == 201
    )
    owner.client.put("/api/v1/projects/churn/members/victor", json={"role": "viewer"})
    return {"owner": owner, "viewer": viewer, "outsider": outsider}


def new_run(person: Person, **body: object) -> int:
    response = person.client.post("/api/v1/projects/churn/runs", json=body)
    assert response.status_code == 201, response.text
    run_id: int = response.json()["id"]
    return run_id


def post_metrics(person: Person, run_id: int, points: list[dict[str, object]]) -> object:
    # Python's json writes NaN/Infinity tokens; the API also takes them as strings.
    body = json.dumps({"metrics": points})
    return person.client.post(
        f"/api/v1/runs/{run_id}/metrics", content=body, headers={"Content-Type": "application/json"}
    )


def test_a_run_records_params_tags_metrics_and_its_end(team: dict[str, Person]) -> None:
    owner = team["owner"]
    run_id = new_run(
        owner, name="lr-baseline", params={"C": 0.5, "model": "lr"}, tags={"team": "a"}
    )
    points = [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(5)]
    assert post_metrics(owner, run_id, points).json() == {"accepted": 5}  # type: ignore[attr-defined]
    assert (
        owner.client.patch(f"/api/v1/runs/{run_id}", json={"status": "finished"}).status_code == 200
    )
    run = owner.client.get(f"/api/v1/runs/{run_id}").json()
    assert run["params"] == {"C": "0.5", "model": "lr"} and run["tags"] == {"team": "a"}
    assert run["status"] == "finished" and run["ended_at"] and run["user"] == "olivia"
    assert run["metrics"] == {"loss": 0.2}
    assert run["latest_metrics"][0]["count"] == 5
    history = owner.client.get(f"/api/v1/runs/{run_id}/metrics/loss").json()
    assert history["steps"] == [0, 1, 2, 3, 4]
    # an ended run's status is final
    again = owner.client.patch(f"/api/v1/runs/{run_id}", json={"status": "running"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "status"


def test_nan_and_infinity_are_stored_and_shown_as_such(team: dict[str, Person]) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    points = [
        {"key": "x", "value": math.nan, "step": 0},
        {"key": "x", "value": "Infinity", "step": 1},
        {"key": "x", "value": -math.inf, "step": 2},
        {"key": "y", "value": "NaN", "step": 0},
    ]
    assert post_metrics(owner, run_id, points).status_code == 200  # type: ignore[attr-defined]
    history = owner.client.get(f"/api/v1/runs/{run_id}/metrics/x").json()
    assert history["values"] == ["NaN", "Infinity", "-Infinity"]
    assert owner.client.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {
        "x": "-Infinity",
        "y": "NaN",
    }
    listed = owner.client.get("/api/v1/projects/churn/runs", params={"order": "metrics.y desc"})
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": {"k" * 251: "v"}}, "params"),
        ({"params": {"k": "v" * 6001}}, "params.k"),
        ({"params": {f"p{i}": i for i in range(501)}}, "params"),
        ({"tags": {"bad key!": "v"}}, "tags"),
        ({"name": "n" * 201}, "name"),
        ({"commit": "not-a-sha"}, "commit"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_run_input_is_a_422_naming_the_field(
    team: dict[str, Person], body: dict[str, object], field: str
) -> None:
    response = team["owner"].client.post("/api/v1/projects/churn/runs", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"].startswith(field)


@pytest.mark.parametrize(
    "point",
    [
        {"key": "", "value": 1.0},
        {"key": "a" * 251, "value": 1.0},
        {"key": "ok", "value": "many"},
        {"key": "ok", "value": True},
        {"key": "ok", "value": 1.0, "step": -1},
        {"key": "ok", "value": 1.0, "step": 1.5},
    ],
)
def test_bad_metric_points_are_refused_and_nothing_is_stored(
    team: dict[str, Person], point: dict[str, object]
) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    response = post_metrics(owner, run_id, [{"key": "good", "value": 1.0}, point])
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert owner.client.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}


def test_params_are_write_once(team: dict[str, Person]) -> None:
    owner = team["owner"]
    run_id = new_run(owner, params={"C": 1})
    assert (
        owner.client.post(f"/api/v1/runs/{run_id}/params", json={"params": {"C": 1}}).status_code
        == 204
    )
    changed = owner.client.post(f"/api/v1/runs/{run_id}/params", json={"params": {"C": 2}})
    assert changed.status_code == 409 and changed.json()["error"]["field"] == "params.C"


def test_roles_viewers_read_outsiders_see_nothing(team: dict[str, Person]) -> None:
    owner, viewer, outsider = team["owner"], team["viewer"], team["outsider"]
    run_id = new_run(owner, name="secret-plan")
    assert viewer.client.get(f"/api/v1/runs/{run_id}").status_code == 200
    assert viewer.client.post("/api/v1/projects/churn/runs", json={}).status_code == 403
    assert post_metrics(viewer, run_id, [{"key": "x", "value": 1}]).status_code == 403  # type: ignore[attr-defined]
    assert (
        viewer.client.put(f"/api/v1/runs/{run_id}/artifacts/a.txt", content=b"x").status_code == 403
    )
    for response in (
        outsider.client.get(f"/api/v1/runs/{run_id}"),
        outsider.client.get("/api/v1/projects/churn/runs"),
        outsider.client.patch(f"/api/v1/runs/{run_id}", json={"status": "killed"}),
        outsider.client.get(f"/api/v1/runs/{run_id}/artifacts"),
    ):
        assert response.status_code == 404
        assert "secret-plan" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "%2E%2E/escape.txt",
        "a/%2E%2E/%2E%2E/escape.txt",
        "%2Fetc/passwd",
        "a//b",
        "a/%2E/b",
        "C:%5Cx",
    ],
)
def test_artifact_paths_cannot_leave_the_run(team: dict[str, Person], path: str) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    response = owner.client.put(f"/api/v1/runs/{run_id}/artifacts/{path}", content=b"x")
    assert response.status_code in (404, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"] == "path"
    assert owner.client.get(f"/api/v1/runs/{run_id}/artifacts").json() == []


def test_artifacts_upload_list_download(team: dict[str, Person], app: FastAPI) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    body = b"\x00binary\xff" * 1000
    created = owner.client.put(f"/api/v1/runs/{run_id}/artifacts/plots/roc curve.png", content=body)
    assert created.status_code == 201 and created.json()["size_bytes"] == len(body)
    assert [a["path"] for a in owner.client.get(f"/api/v1/runs/{run_id}/artifacts").json()] == [
        "plots/roc curve.png"
    ]
    download = owner.client.get(f"/api/v1/runs/{run_id}/artifacts/plots/roc curve.png")
    assert download.content == body
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["content-type"] == "application/octet-stream"


def test_an_upload_over_the_limit_leaves_nothing(team: dict[str, Person], app: FastAPI) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    app.state.settings = app.state.settings.model_copy(update={"artifact_max_bytes": 1000})
    response = owner.client.put(f"/api/v1/runs/{run_id}/artifacts/big.bin", content=b"x" * 5000)
    assert response.status_code == 413
    assert owner.client.get(f"/api/v1/runs/{run_id}/artifacts").json() == []
    stored = Path(app.state.settings.resolved_artifact_root) / "runs" / str(run_id)
    assert not stored.exists()


def test_runs_page_sorts_filters_and_pages_on_the_server(team: dict[str, Person]) -> None:
    owner = team["owner"]
    for i in range(7):
        run_id = new_run(owner, name=f"run-{i}", params={"model": "lr" if i % 2 else "tree"})
        if i != 3:  # one run never logs auc: it sorts last either way
            post_metrics(owner, run_id, [{"key": "auc", "value": i / 10}])

    def names(**params: object) -> list[str]:
        response = owner.client.get("/api/v1/projects/churn/runs", params=params)
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()["items"]]

    assert names(order="metrics.auc desc", limit=3) == ["run-6", "run-5", "run-4"]
    assert names(order="metrics.auc desc", limit=3, offset=3) == ["run-2", "run-1", "run-0"]
    assert names(order="metrics.auc asc")[-1] == "run-3"
    assert names(filter='metrics.auc >= 0.4 and params.model = "lr"', order="name asc") == ["run-5"]
    assert names(filter="name ~ RUN-1") == ["run-1"]
    page = owner.client.get("/api/v1/projects/churn/runs", params={"limit": 2}).json()
    assert page["total"] == 7 and page["param_keys"] == ["model"] and page["metric_keys"] == ["auc"]
    for bad in ({"filter": "metrics.auc >"}, {"filter": "metrics.auc > high"}, {"order": "colour"}):
        response = owner.client.get("/api/v1/projects/churn/runs", params=bad)
        assert response.status_code == 422 and response.json()["error"]["field"] in (
            "filter",
            "order",
        )


def test_an_active_remote_run_cannot_be_deleted(team: dict[str, Person], db: Session) -> None:
    owner = team["owner"]
    run_id = new_run(owner)
    row = db.get(RunRow, run_id)
    assert row is not None
    row.source = "remote"
    db.commit()
    refused = owner.client.delete(f"/api/v1/runs/{run_id}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["error"]["message"]
    owner.client.patch(f"/api/v1/runs/{run_id}", json={"status": "killed"})
    assert owner.client.delete(f"/api/v1/runs/{run_id}").status_code == 204
