"""The learners API without processes (`.../learners`, `pause`, `resume`, `checkpoint`,
`rollback`): who may do what, what each changes and records, and the 4xx of bad requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.online.learners import ensure_learner
from modelyard.online.tables import LearnerRow
from modelyard.serving.service import VariantRow
from tests.conftest import Person
from tests.online.test_feedback_api import endpoint_key, log_prediction, make_endpoint
from tests.serving import fleet

team = fleet.team
ENDPOINT = "/api/v1/projects/churn/endpoints/churn"
LEARNERS = f"{ENDPOINT}/learners"
BASE_SHA = "0" * 64


def events(person: Person) -> list[tuple[str, str]]:
    items = person.client.get(f"{ENDPOINT}/events").json()["items"]
    return sorted((e["kind"], e["message"]) for e in items)


def field(answer: Any, status: int) -> str | None:
    assert answer.status_code == status, answer.text
    name: str | None = answer.json()["error"]["field"]
    return name


def test_learners_roles_pause_resume_checkpoint_and_rollback(
    team: dict[str, Person], db: Session
) -> None:
    owner, viewer, outsider = team["owner"], team["viewer"], team["outsider"]
    endpoint_id = make_endpoint(owner, db)
    key = {"Authorization": f"Bearer {endpoint_key(owner)}"}
    labelled = [log_prediction(db, endpoint_id, [1]) for _ in range(3)]
    feedback = "/serve/churn/churn/feedback"
    owner.client.post(feedback, json={"prediction_id": labelled[0], "label": 1}, headers=key)
    variant = db.scalar(select(VariantRow).where(VariantRow.name == "a"))
    assert variant is not None
    ensure_learner(db, variant, BASE_SHA)  # learns from the labels after it was made
    owner.client.post(
        feedback, json=[{"prediction_id": p, "label": 0} for p in labelled[1:]], headers=key
    )

    # anyone in the project sees the learners; an outsider sees no endpoint
    [learner] = viewer.client.get(LEARNERS).json()["learners"]
    assert (learner["variant"], learner["state"], learner["paused"]) == ("a", "stopped", False)
    assert (learner["cursor"], learner["head"], learner["lag_events"]) == (1, 3, 2)
    assert learner["prequential"] == {"accuracy": None} and learner["learned"] == 0
    assert outsider.client.get(LEARNERS).status_code == 404

    # changes need an editor: a viewer is refused, an outsider does not see the endpoint
    for action, body in [
        ("pause", None),
        ("resume", None),
        ("checkpoint", None),
        ("rollback", {"version": 1}),
    ]:
        url = f"{LEARNERS}/a/{action}"
        assert viewer.client.post(url, json=body).status_code == 403, action
        assert outsider.client.post(url, json=body).status_code == 404, action
    assert events(owner) == []

    # pause and resume toggle the desired state and are recorded once each
    paused = owner.client.post(f"{LEARNERS}/a/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert owner.client.post(f"{LEARNERS}/a/pause").json()["paused"] is True  # no new event
    db.expire_all()
    assert db.scalar(select(LearnerRow.paused)) is True
    assert events(owner) == [("paused", "owner paused learning of a")]
    assert owner.client.post(f"{LEARNERS}/a/resume").json()["paused"] is False
    assert events(owner) == [
        ("paused", "owner paused learning of a"),
        ("resumed", "owner resumed learning of a"),
    ]
    markers = owner.client.get(f"{ENDPOINT}/quality").json()["markers"]
    assert [m["kind"] for m in markers] == ["paused", "resumed"]

    # a variant without a learner, or none at all, is named
    assert field(owner.client.post(f"{LEARNERS}/b/pause"), 404) == "variant"
    assert field(owner.client.post(f"{LEARNERS}/zz/pause"), 404) == "variant"

    # nothing learned yet: nothing to checkpoint
    assert field(owner.client.post(f"{LEARNERS}/a/checkpoint"), 409) == "variant"
    db.expire_all()
    assert db.scalar(select(LearnerRow.checkpoint_requested)) is False

    # a rollback needs a registered version of the variant's model
    bad: list[dict[str, Any]] = [{"version": 99}, {"version": 0}, {"version": "2"}, {}]
    for wrong in bad:
        answer = owner.client.post(f"{LEARNERS}/a/rollback", json=wrong)
        assert field(answer, 422) == "version", wrong
    assert field(owner.client.post(f"{LEARNERS}/a/rollback", json={"version": 2, "x": 1}), 422) == (
        "x"
    )
    assert all(kind != "rollback" for kind, _ in events(owner))
    rolled = owner.client.post(f"{LEARNERS}/a/rollback", json={"version": 2})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["serving"].startswith("learned state ")
    assert rolled.json()["publications"] == 1
    assert ("rollback", "owner rolled a back to clf v2") in events(owner)
