"""Online learning from the SDK against a live server: labels for logged predictions (one,
and a stream sent in batches), the learners of an endpoint, quality and drift. The endpoint
stays stopped: its logged predictions and its learner are rows these tests insert, as the
replicas and the learner process would."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import modelyard
from modelyard.client import Client
from modelyard.client.online import LabelPair
from modelyard.client.online_types import FeedbackTotals
from modelyard.online.learners import ensure_learner
from modelyard.serving.tables import EndpointRow, PredictionRow, VariantRow
from tests.client.serving_setup import RECORD, make_team
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")
BASE = "/api/v1/projects/churn/endpoints"


def prediction_id(at: float) -> str:
    """As replicas make them: 12 hex digits of unix milliseconds, then 12 random ones."""
    return f"{int(at * 1000):012x}{secrets.token_hex(6)}"


def make_endpoint(alice: Person) -> None:
    """churn/churn, stopped: `base` serves v1 (answers 0), `challenger` v2 (answers 1)."""
    assert alice.client.post(BASE, json={"name": "churn"}).status_code == 201
    for variant, version, weight in (("base", "1", 60), ("challenger", "2", 40)):
        added = alice.client.post(
            f"{BASE}/churn/variants",
            json={"name": variant, "model": "churn-clf", "version": version, "weight": weight},
        )
        assert added.status_code == 201, added.text


def log_predictions(server: LiveServer, variant: str, output: object, count: int) -> list[str]:
    """`count` live predictions of `variant` as a replica logs them; their ids."""
    factory: sessionmaker[Session] = server.app.state.session_factory
    now = time.time() - 5
    ids = [prediction_id(now + i / 1000) for i in range(count)]
    with factory() as session:
        endpoint_id = session.scalar(select(EndpointRow.id).where(EndpointRow.name == "churn"))
        assert endpoint_id is not None
        session.add_all(
            PredictionRow(
                prediction_id=pid,
                endpoint_id=endpoint_id,
                at=now + i / 1000,
                variant=variant,
                inputs=RECORD,
                outputs=output,
                latency_ms=1.0,
            )
            for i, pid in enumerate(ids)
        )
        session.commit()
    return ids


def add_learner(server: LiveServer, variant: str) -> None:
    """The learner row the supervisor makes for an online variant when the endpoint runs."""
    factory: sessionmaker[Session] = server.app.state.session_factory
    with factory() as session:
        row = session.scalar(
            select(VariantRow)
            .join(EndpointRow, EndpointRow.id == VariantRow.endpoint_id)
            .where(EndpointRow.name == "churn", VariantRow.name == variant)
        )
        assert row is not None
        ensure_learner(session, row, "0" * 64)


@dataclass
class Team:
    alice: Client  # owner of churn
    bob: Client  # a viewer of churn
    server: LiveServer


@pytest.fixture
def team(live_server: LiveServer, people: Callable[..., Person]) -> Iterator[Team]:
    alice, bob = make_team(people)
    make_endpoint(alice)
    with (
        modelyard.connect(live_server.url, alice.token) as a,
        modelyard.connect(live_server.url, bob.token) as b,
    ):
        yield Team(a, b, live_server)


def test_feedback_is_stored_counted_and_scored(team: Team) -> None:
    alice, server = team.alice, team.server
    base = log_predictions(server, "base", 0, 5)
    challenger = log_predictions(server, "challenger", 1, 4)
    key = alice.endpoints.keys.create("churn", "churn", "labeller").token

    one = alice.endpoints.online.feedback("churn", "churn", base[0], 0, token=key)
    assert one == FeedbackTotals(accepted=1, duplicates=0, late=0)
    again = alice.endpoints.online.feedback("churn", "churn", base[0], 1)  # as an editor, no key
    assert (again.accepted, again.duplicates) == (0, 1)  # the first label wins

    sent: list[tuple[int, int]] = []
    labels: list[LabelPair] = [(base[1], 0), (base[2], 0), (base[3], 1)]
    labels += [
        {"prediction_id": p, "label": label}
        for p, label in zip(challenger, [1, 1, 0, 0], strict=True)
    ]
    totals = alice.endpoints.online.feedback_many(
        "churn",
        "churn",
        iter([*labels, (base[1], 1)]),  # a duplicate in the same stream
        token=key,
        on_batch=lambda n, so_far: sent.append((n, so_far.accepted)),
    )
    assert (totals.accepted, totals.duplicates, totals.late) == (7, 1, 0)
    assert sent == [(8, 7)]

    quality = alice.endpoints.online.quality("churn", "churn", window=900)
    b, c = quality.variant("base"), quality.variant("challenger")
    assert (b.task, b.labels, b.accuracy) == ("classification", 4, 0.75)
    assert b.label_coverage == pytest.approx(4 / 5)
    assert (c.labels, c.accuracy, c.label_coverage) == (4, 0.5, 1.0)
    assert b.label_delay_seconds is not None and b.label_delay_seconds >= 5
    assert quality.duplicates == 2
    [ab] = quality.comparisons
    assert (ab.champion, ab.challenger, ab.metric, ab.labels) == (
        "base",
        "challenger",
        "accuracy",
        (4, 4),
    )
    assert ab.difference == pytest.approx(-0.25) and ab.low < ab.difference < ab.high
    with pytest.raises(modelyard.NotFoundError):
        quality.variant("nope")

    drift = alice.endpoints.online.drift("churn", "churn", window=3600)
    assert drift.drifted == [] and isinstance(drift.series["times"], list)


def test_feedback_errors_name_the_label_and_what_was_stored(team: Team) -> None:
    alice, bob, server = team.alice, team.bob, team.server
    ids = log_predictions(server, "base", 0, 1200)
    stream = [(p, 0) for p in ids] + [("0" * 24, 0)]  # the last id was never logged
    with pytest.raises(modelyard.NotFoundError, match=r"no prediction '0{24}'") as unknown:
        alice.endpoints.online.feedback_many("churn", "churn", stream)
    assert unknown.value.field == "feedback[1200].prediction_id"  # counted from the start
    assert "the 1000 labels before it were sent (1000 accepted, 0 duplicates)" in str(unknown.value)
    # the failed batch stored nothing; sending everything again finishes the job
    redo = alice.endpoints.online.feedback_many("churn", "churn", stream[:-1])
    assert (redo.accepted, redo.duplicates) == (200, 1000)

    with pytest.raises(modelyard.InvalidInputError, match="must be one, not a string") as bad:
        alice.endpoints.online.feedback("churn", "churn", ids[0], "yes")
    assert bad.value.field == "label"
    with pytest.raises(modelyard.AuthenticationError, match="not valid") as key:
        alice.endpoints.online.feedback("churn", "churn", ids[0], 0, token="mye_nope")
    assert key.value.field == "token"
    with pytest.raises(modelyard.PermissionDeniedError):
        bob.endpoints.online.feedback("churn", "churn", ids[0], 0)  # a viewer may not teach it


def test_learners_pause_resume_checkpoint_rollback(team: Team) -> None:
    alice, bob, server = team.alice, team.bob, team.server
    assert alice.endpoints.online.learners("churn", "churn") == []
    add_learner(server, "base")
    [learner] = alice.endpoints.online.learners("churn", "churn")
    assert (learner.variant, learner.state, learner.paused, learner.lag_events) == (
        "base",
        "stopped",
        False,
        0,
    )
    assert learner.serving == "churn-clf as registered"
    ids = log_predictions(server, "base", 0, 3)
    alice.endpoints.online.feedback_many("churn", "churn", [(p, 0) for p in ids])
    assert (
        alice.endpoints.online.learners("churn", "churn")[0].lag_events == 3
    )  # waiting, not learned

    assert alice.endpoints.online.pause_learning("churn", "churn", "base").paused is True
    assert alice.endpoints.online.learners("churn", "churn")[0].paused is True
    assert alice.endpoints.online.resume_learning("churn", "churn", "base").paused is False
    with pytest.raises(modelyard.PermissionDeniedError):
        bob.endpoints.online.pause_learning("churn", "churn", "base")
    with pytest.raises(modelyard.NotFoundError, match="has no learner") as none:
        alice.endpoints.online.pause_learning("churn", "churn", "challenger")
    assert none.value.field == "variant"

    with pytest.raises(modelyard.ConflictError, match="nothing new to checkpoint"):
        alice.endpoints.online.checkpoint("churn", "churn", "base")
    with pytest.raises(modelyard.InvalidInputError, match="9") as missing:
        alice.endpoints.online.rollback_learner("churn", "churn", "base", 9)
    assert missing.value.field == "version"
    rolled = alice.endpoints.online.rollback_learner("churn", "churn", "base", 2)
    assert rolled.serving.startswith("learned state ") and rolled.publications == 1
    kinds = [e.kind for e in alice.endpoints.events("churn", "churn")]
    assert {"paused", "resumed", "rollback"} <= set(kinds)
