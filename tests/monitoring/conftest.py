"""What the alert tests share: a project with an endpoint and people in every role."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import Person

RULES = "/api/v1/projects/churn/endpoints/churn/alert-rules"
ALERTS = "/api/v1/projects/churn/alerts"


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    """alice owns churn (endpoint churn with variant base), erin edits, victor views,
    carol is in no project."""
    crew = {name: people(name) for name in ("alice", "erin", "victor", "carol")}
    alice = crew["alice"]
    assert alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "C"}).is_success
    for name, role in (("erin", "editor"), ("victor", "viewer")):
        alice.client.put(f"/api/v1/projects/churn/members/{name}", json={"role": role})
    registered = alice.client.post(
        "/api/v1/projects/churn/models/clf/versions",
        content=b"no replica runs in these tests",
        headers={"X-Modelyard-Version": json.dumps({"flavor": "sklearn", "signature": []})},
    )
    assert registered.status_code == 201, registered.text
    endpoints = "/api/v1/projects/churn/endpoints"
    assert alice.client.post(endpoints, json={"name": "churn"}).status_code == 201
    added = alice.client.post(
        f"{endpoints}/churn/variants", json={"name": "base", "model": "clf", "version": "1"}
    )
    assert added.status_code == 201, added.text
    return crew
