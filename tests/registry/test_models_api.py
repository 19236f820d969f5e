"""The registry API: versions with their files, roles, aliases and their audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest

from tests.conftest import Person

HEADER = "X-Modelyard-Version"


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    owner, viewer, outsider = people("olivia"), people("victor"), people("oscar")
    for slug in ("churn", "other"):
        owner.client.post("/api/v1/projects", json={"slug": slug, "name": slug})
    owner.client.put("/api/v1/projects/churn/members/victor", json={"role": "viewer"})
    return {"owner": owner, "viewer": viewer, "outsider": outsider}


def register(person: Person, body: bytes, name: str = "churn-clf", **meta: object) -> object:
    metadata = {"flavor": "sklearn", **meta}
    return person.client.post(
        f"/api/v1/projects/churn/models/{name}/versions",
        content=body,
        headers={HEADER: json.dumps(metadata)},
    )


def test_versions_count_up_and_record_their_run(team: dict[str, Person]) -> None:
    owner = team["owner"]
    run = owner.client.post("/api/v1/projects/churn/runs", json={"name": "lr"}).json()
    owner.client.post(
        f"/api/v1/runs/{run['id']}/metrics", json={"metrics": [{"key": "auc", "value": 0.8}]}
    )
    first = register(
        owner, b"model-one", run_id=run["id"], signature=[{"name": "age", "type": "number"}]
    )
    second = register(owner, b"model-two")
    assert first.status_code == 201, first.text  # type: ignore[attr-defined]
    one, two = first.json(), second.json()  # type: ignore[attr-defined]
    assert (one["version"], two["version"]) == (1, 2)
    assert one["run_id"] == run["id"] and one["run_name"] == "lr" and one["metrics"] == {"auc": 0.8}
    assert one["sha256"] == hashlib.sha256(b"model-one").hexdigest()
    assert owner.client.get(f"/api/v1/runs/{run['id']}").json()["models"] == [
        {"model": "churn-clf", "version": 1}
    ]
    model = owner.client.get("/api/v1/projects/churn/models/churn-clf").json()
    assert model["latest_version"] == 2 and model["version_count"] == 2


def test_only_editors_touch_model_files(team: dict[str, Person]) -> None:
    owner, viewer, outsider = team["owner"], team["viewer"], team["outsider"]
    register(owner, b"pickle-bytes")
    assert (
        owner.client.get("/api/v1/projects/churn/models/churn-clf/versions/1/file").content
        == b"pickle-bytes"
    )
    # a pickle is code: viewers see the metadata, never the file, and cannot upload one
    assert (
        viewer.client.get("/api/v1/projects/churn/models/churn-clf/versions/1").status_code == 200
    )
    assert (
        viewer.client.get("/api/v1/projects/churn/models/churn-clf/versions/1/file").status_code
        == 403
    )
    assert register(viewer, b"evil").status_code == 403  # type: ignore[attr-defined]
    assert outsider.client.get("/api/v1/projects/churn/models").status_code == 404
    assert (
        outsider.client.get("/api/v1/projects/churn/models/churn-clf/versions/1/file").status_code
        == 404
    )


def test_aliases_move_and_every_move_is_audited(team: dict[str, Person]) -> None:
    owner, viewer = team["owner"], team["viewer"]
    register(owner, b"one")
    register(owner, b"two")
    url = "/api/v1/projects/churn/models/churn-clf"
    assert owner.client.put(f"{url}/aliases/champion", json={"version": 1}).json()["aliases"] == [
        "champion"
    ]
    assert owner.client.put(f"{url}/aliases/champion", json={"version": 2}).status_code == 200
    assert owner.client.get(f"{url}/versions/champion").json()["version"] == 2
    assert owner.client.get(f"{url}/versions/champion/file").content == b"two"
    assert viewer.client.put(f"{url}/aliases/champion", json={"version": 1}).status_code == 403
    history = viewer.client.get(f"{url}/aliases").json()
    assert [(e["alias"], e["version"], e["previous"], e["actor"]) for e in history] == [
        ("champion", 2, 1, "olivia"),
        ("champion", 1, None, "olivia"),
    ]
    assert owner.client.delete(f"{url}/aliases/champion").status_code == 204
    assert owner.client.get(f"{url}/versions/champion").status_code == 404


@pytest.mark.parametrize(
    ("request_kind", "field"),
    [
        ("alias-to-missing-version", "version"),
        ("alias-name-digits", "alias"),
        ("bad-flavor", "flavor"),
        ("no-metadata", "flavor"),
        ("metadata-not-json", HEADER),
        ("run-of-other-project", "run_id"),
        ("bad-model-name", "name"),
    ],
)
def test_bad_registry_input_is_a_4xx_naming_the_field(
    team: dict[str, Person], request_kind: str, field: str
) -> None:
    owner = team["owner"]
    client = owner.client
    url = "/api/v1/projects/churn/models/churn-clf"
    register(owner, b"one")
    if request_kind == "alias-to-missing-version":
        response = client.put(f"{url}/aliases/champion", json={"version": 9})
    elif request_kind == "alias-name-digits":
        response = client.put(f"{url}/aliases/123", json={"version": 1})
    elif request_kind == "bad-flavor":
        response = register(owner, b"x", flavor="tensorflow")  # type: ignore[assignment]
    elif request_kind == "no-metadata":
        response = client.post(f"{url}/versions", content=b"x")
    elif request_kind == "metadata-not-json":
        response = client.post(f"{url}/versions", content=b"x", headers={HEADER: "{nope"})
    elif request_kind == "run-of-other-project":
        run = client.post("/api/v1/projects/other/runs", json={}).json()
        response = register(owner, b"x", run_id=run["id"])  # type: ignore[assignment]
    else:
        response = register(owner, b"x", name="Bad Name!")  # type: ignore[assignment]
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["field"] == field
    assert len(client.get(f"{url}/versions").json()["items"]) == 1
