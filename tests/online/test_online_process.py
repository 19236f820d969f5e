"""An online River model served by real replica and learner processes: predictions and
delayed labels on a stream whose concept flips half-way. The learner's prequential accuracy
is exactly River's `progressive_val_score` over the same ordered events, the drift detector
fires near the flip, the replicas serve the learned state, a killed learner loses no label,
and a rollback brings back a checkpoint's exact predictions."""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from river import compose, evaluate, linear_model, metrics, optim, preprocessing

from modelyard.config import Settings
from tests.conftest import CHEAP_PASSWORDS, SECRET_KEY, Person, free_port
from tests.serving import fleet
from tests.serving.fleet import wait_until

plane = fleet.plane
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
BASE = "/api/v1/projects/stream/endpoints/online"
FLIP_AT = 600  # the label's rule inverts after this many examples
PROBES = [{"x1": i / 10, "x2": j / 10} for i in range(11) for j in range(0, 11, 2)]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        base_url=f"http://127.0.0.1:{free_port()}",
        online_publish_seconds=0.3,
        serving_stop_grace_seconds=5.0,
        **CHEAP_PASSWORDS,
    ).prepare_home()


def new_model() -> Any:
    return compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(optim.SGD(0.5))
    )


def stream(n: int, seed: int, flip_at: int | None) -> list[tuple[dict[str, float], bool]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x = {"x1": round(rng.random(), 6), "x2": round(rng.random(), 6)}
        above = x["x1"] + x["x2"] > 1.0
        out.append((x, above if flip_at is None or i < flip_at else not above))
    return out


class Online:
    def __init__(self, owner: httpx.Client, key: str, url: str) -> None:
        self.owner = owner
        self.headers = {"Authorization": f"Bearer {key}"}
        self.url = url

    def predict(self, records: list[dict[str, float]]) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/predict", json={"inputs": records}, headers=self.headers, timeout=30
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def feedback(self, labels: list[dict[str, Any]]) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/feedback", json=labels, headers=self.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def learner(self) -> dict[str, Any]:
        found: dict[str, Any] = self.owner.get(f"{BASE}/learners").json()["learners"][0]
        return found

    def caught_up(self, head: int) -> bool:
        learner = self.learner()
        return bool(learner["cursor"] >= head and learner["state"] == "learning")

    def send(self, events: list[tuple[dict[str, float], bool]], chunk: int = 100) -> None:
        """Predict a chunk, then label it (labels arrive after their predictions)."""
        for start in range(0, len(events), chunk):
            part = events[start : start + chunk]
            ids = self.predict([x for x, _ in part])["prediction_ids"]
            answer = self.feedback(
                [{"prediction_id": p, "label": y} for p, (_, y) in zip(ids, part, strict=True)]
            )
            assert answer == {"accepted": len(part), "duplicates": 0, "late": 0}


@pytest.fixture
def online(plane: fleet.Plane, people: Any) -> Iterator[Online]:
    owner: Person = people("owner")
    client = httpx.Client(base_url=plane.url, headers=dict(owner.client.headers), timeout=30)
    assert client.post("/api/v1/projects", json={"slug": "stream", "name": "S"}).is_success
    meta = {"flavor": "river", "signature": [{"name": n, "type": "number"} for n in ("x1", "x2")]}
    answer = client.post(
        "/api/v1/projects/stream/models/learner/versions",
        content=pickle.dumps(new_model()),
        headers={"X-Modelyard-Version": json.dumps(meta)},
    )
    assert answer.status_code == 201, answer.text
    answer = client.post(
        "/api/v1/projects/stream/endpoints/online/deploy",
        json={"model": "learner", "version": "1", "variant": "online"},
    )
    assert answer.status_code in (200, 201), answer.text
    key = client.post(f"{BASE}/keys", json={"name": "app"}).json()["token"]
    live = Online(client, key, f"{plane.url}/serve/stream/online")
    wait_until(lambda: client.get(BASE).json()["status"] == "running", timeout=60)
    wait_until(lambda: client.get(f"{BASE}/learners").json()["learners"], timeout=30)
    yield live
    client.post(f"{BASE}/stop")
    client.close()


def offline_replay(events: list[tuple[dict[str, float], bool]]) -> tuple[Any, float]:
    model = new_model()
    metric = evaluate.progressive_val_score(events, model, metrics.Accuracy())
    return model, metric.get()


def served(online: Online) -> list[Any]:
    outputs: list[Any] = online.predict(PROBES)["outputs"]
    return outputs


def test_an_online_model_learns_from_live_labels_end_to_end(
    online: Online, plane: fleet.Plane
) -> None:
    events = stream(1200, seed=7, flip_at=FLIP_AT)
    # the first half, then kill the learner mid-stream and send the rest while it is down
    online.send(events[:700])
    fleet_ = plane.app.state.online.fleet
    learner_id = next(iter(fleet_.processes))
    os.kill(fleet_.processes[learner_id].popen.pid, signal.SIGKILL)
    online.send(events[700:])
    head = online.learner()["head"]
    wait_until(lambda: online.caught_up(head), timeout=60, every=0.2)

    learner = online.learner()
    model, accuracy = offline_replay(events)
    # exact: every acknowledged label was learned once, in order, through the crash
    assert learner["learned"] == len(events)
    assert learner["scored"] == len(events)
    assert learner["prequential"]["accuracy"] == pytest.approx(accuracy, abs=1e-12)

    # the error stream's detector fired near the flip
    events_log = online.owner.get(f"{BASE}/events").json()["items"]
    drifts = [e for e in events_log if e["kind"] == "drift"]
    assert drifts, events_log
    # feedback ids count from the endpoint's first label, so an id is a stream position
    fired_at = [int(e["message"].rsplit("#", 1)[1].rstrip(")")) for e in drifts]
    assert any(FLIP_AT < at <= FLIP_AT + 250 for at in fired_at), fired_at

    # the replicas serve the learned state (what the offline replay ends with), within 5 s
    expected = [model.predict_one(x) for x in PROBES]
    started = time.monotonic()
    wait_until(lambda: served(online) == expected, timeout=5, every=0.1)
    assert time.monotonic() - started < 5

    # a checkpoint, more learning on the original concept, then a rollback to the checkpoint
    version = online.owner.post(f"{BASE}/learners/online/checkpoint").json()["version"]
    assert version == 2
    checkpoint = copy.deepcopy(model)
    online.send(stream(600, seed=8, flip_at=None))
    head = online.learner()["head"]
    wait_until(lambda: online.caught_up(head), timeout=60, every=0.2)
    moved = wait_until(lambda: (out := served(online)) != expected and out, timeout=10)
    assert moved != [checkpoint.predict_one(x) for x in PROBES]
    answer = online.owner.post(f"{BASE}/learners/online/rollback", json={"version": version})
    assert answer.status_code == 200, answer.text
    wait_until(lambda: served(online) == expected, timeout=5, every=0.1)
