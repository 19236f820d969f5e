"""What the SDK and CLI endpoint tests share: a project with a viewer and two small real
scikit-learn versions of `churn-clf` that answer 0 (v1, alias champion) and 1 (v2, alias
challenger), so a test can tell the variants apart by their outputs."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression

from tests.conftest import Person

FEATURES = ["tenure", "charges"]
SIGNATURE = [{"name": n, "type": "number"} for n in FEATURES]
RECORD = {"tenure": 3.0, "charges": 42.5}


def constant_model(label: int) -> LogisticRegression:
    rng = np.random.default_rng(label)
    model = LogisticRegression().fit(rng.normal(size=(20, 2)), [0, 1] * 10)
    model.coef_[:] = 0.0
    model.intercept_[:] = 50.0 if label else -50.0
    return model


def register(person: Person, label: int, project: str = "churn", name: str = "churn-clf") -> int:
    answer = person.client.post(
        f"/api/v1/projects/{project}/models/{name}/versions",
        content=pickle.dumps(constant_model(label)),
        headers={"X-Modelyard-Version": json.dumps({"flavor": "sklearn", "signature": SIGNATURE})},
    )
    assert answer.status_code == 201, answer.text
    version: int = answer.json()["version"]
    return version


def make_team(people: Callable[..., Person]) -> tuple[Person, Person]:
    """(alice, owner of churn with churn-clf v1=champion, v2=challenger; bob, a viewer)."""
    alice, bob = people("alice"), people("bob")
    assert alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "C"}).is_success
    alice.client.put("/api/v1/projects/churn/members/bob", json={"role": "viewer"})
    for label, alias in ((0, "champion"), (1, "challenger")):
        version = register(alice, label)
        moved = alice.client.put(
            f"/api/v1/projects/churn/models/churn-clf/aliases/{alias}", json={"version": version}
        )
        assert moved.is_success, moved.text
    return alice, bob
