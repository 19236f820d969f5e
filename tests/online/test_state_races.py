"""The learner's state under concurrency and retention: a rollback and a publication racing
for the same generation, labels kept until learned, unreferenced states collected, and an
A/B read-out that waits for enough labels."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.errors import ConflictError
from modelyard.online import learners
from modelyard.online.fleet import prune
from modelyard.online.quality import MIN_LABELS, Sums, compare
from modelyard.online.schemas import QualitySummary
from modelyard.online.states import StateStore
from modelyard.online.tables import FeedbackRow, LearnerRow
from modelyard.serving.service import VariantRow
from tests.conftest import Person
from tests.online.test_feedback_api import endpoint_key, log_prediction, make_endpoint
from tests.serving import fleet

team = fleet.team
BASE_SHA = "0" * 64


def _learner(team: dict[str, Person], db: Session) -> tuple[int, LearnerRow]:
    endpoint_id = make_endpoint(team["owner"], db)
    variant = db.scalar(select(VariantRow).where(VariantRow.name == "a"))
    assert variant is not None
    return endpoint_id, learners.ensure_learner(db, variant, BASE_SHA)


def test_a_publication_and_a_rollback_cannot_both_win(
    team: dict[str, Person], db: Session, app: FastAPI
) -> None:
    session_factory: Callable[[], Session] = app.state.session_factory
    _, learner = _learner(team, db)
    generation = learner.state_seq
    # a rollback read the learner, then (slowly) imported its checkpoint ...
    stale = db.get(LearnerRow, learner.id)
    assert stale is not None
    # ... while the learner published against the same generation
    with session_factory() as other:
        fresh = other.get(LearnerRow, learner.id)
        assert fresh is not None
        assert learners.swap(other, fresh, cursor=7) == generation + 1
        other.commit()
    with pytest.raises(ConflictError):
        learners.swap(db, stale, state_sha256="f" * 64)
    db.expire_all()
    row = db.get(LearnerRow, learner.id)
    assert row is not None and (row.state_seq, row.cursor, row.state_sha256) == (
        generation + 1,
        7,
        "",
    )


def test_retention_keeps_labels_no_learner_has_learned(
    team: dict[str, Person], db: Session
) -> None:
    owner = team["owner"]
    endpoint_id, learner = _learner(team, db)
    key = {"Authorization": f"Bearer {endpoint_key(owner)}"}
    ids = [log_prediction(db, endpoint_id, [1]) for _ in range(4)]
    answer = owner.client.post(
        "/serve/churn/churn/feedback",
        json=[{"prediction_id": p, "label": 1} for p in ids],
        headers=key,
    )
    assert answer.status_code == 200, answer.text
    stored = db.scalars(select(FeedbackRow.id).order_by(FeedbackRow.id)).all()
    learner.cursor = stored[1]  # learned the first two only
    db.commit()
    prune(db, before=time.time() + 60)  # every label is past the retention
    assert db.scalars(select(FeedbackRow.id).order_by(FeedbackRow.id)).all() == stored[2:]


def test_unreferenced_states_are_collected_after_a_grace(
    team: dict[str, Person], db: Session, app: FastAPI
) -> None:
    _, learner = _learner(team, db)
    states = StateStore(app.state.settings, app.state.artifacts)
    served = states.write(b"served", {})
    old = states.write(b"old", {})
    young = states.write(b"young", {})
    learner.state_sha256 = served
    db.commit()
    past = time.time() - 3600
    for sha in (served, old):
        os.utime(states.folder(sha), (past, past))
    assert states.collect(db, keep_seconds=600) == 1
    assert states.folder(served).exists() and states.folder(young).exists()
    assert not states.folder(old).exists()


def _summary(name: str, labels: int) -> QualitySummary:
    return QualitySummary(
        variant=name, task="classification", labels=labels, accuracy=None,
        baseline_accuracy=None, mae=None, rmse=None, baseline_mae=None, baseline_rmse=None,
        label_coverage=None, label_delay_seconds=None, late=0,
    )  # fmt: skip


def test_an_ab_difference_needs_enough_labels_to_be_significant() -> None:
    def sums(correct: int, count: int) -> Sums:
        return Sums(count=count, correct=correct)

    few = compare(_summary("a", 2), _summary("b", 2), {"a": sums(2, 2), "b": sums(0, 2)})
    assert few is not None and few.difference == -1.0 and not few.significant
    n = MIN_LABELS * 2
    many = compare(_summary("a", n), _summary("b", n), {"a": sums(n, n), "b": sums(n // 2, n)})
    assert many is not None and many.significant and many.p_value < 1e-6
    same = compare(_summary("a", n), _summary("b", n), {"a": sums(n, n), "b": sums(n, n)})
    assert same is not None and same.p_value == 1.0 and not same.significant
