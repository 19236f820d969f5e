"""`POST /serve/{p}/{e}/feedback` without processes: predictions are logged straight into the
prediction log, as the recorder would, and labelled through the API. The rules are those of
`online/feedback.py` and `online/labels.py`: all or nothing, first label wins, late labels are
stored but not learned, labels have the prediction's type, keys or editors only."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.accounts.sessions import CSRF_HEADER
from modelyard.config import Settings
from modelyard.online.feedback import Baselines, FeedbackStore, Item
from modelyard.online.tables import FeedbackRow, QualityRow
from modelyard.serving.service import EndpointRow, PredictionRow
from tests.conftest import CHEAP_PASSWORDS, PASSWORD, SECRET_KEY, Person
from tests.serving import fleet

team = fleet.team
BASE = "/api/v1/projects/churn/endpoints"
URL = "/serve/churn/churn/feedback"
LATE_SECONDS = 60.0
JOIN_WAIT_SECONDS = 0.6
MAX_FEEDBACK = 5


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        online_late_seconds=LATE_SECONDS,
        online_join_wait_seconds=JOIN_WAIT_SECONDS,
        online_max_feedback=MAX_FEEDBACK,
        **CHEAP_PASSWORDS,
    ).prepare_home()


def new_id(at: float) -> str:
    """A prediction id as serving/recorder.py's PredictionIds makes them."""
    return "%012x%s" % (int(at * 1000), os.urandom(6).hex())  # noqa: UP031


def make_endpoint(owner: Person, db: Session, name: str = "churn", project: str = "churn") -> int:
    """A stopped endpoint with live variants a (clf v1) and b (clf v2); its id."""
    base = f"/api/v1/projects/{project}/endpoints"
    assert owner.client.post(base, json={"name": name}).status_code == 201
    for variant, version in (("a", "1"), ("b", "2")):
        answer = owner.client.post(
            f"{base}/{name}/variants",
            json={"name": variant, "model": "clf", "version": version, "weight": 1},
        )
        assert answer.status_code == 201, answer.text
    endpoint_id = db.scalar(select(EndpointRow.id).where(EndpointRow.name == name))
    assert endpoint_id is not None
    return endpoint_id


def log_prediction(
    db: Session,
    endpoint_id: int,
    output: Any,
    *,
    variant: str = "a",
    age: float = 1.0,
    shadow: bool = False,
    prediction_id: str | None = None,
    inputs: Any = None,
) -> str:
    """A prediction in the log as a replica's report leaves it; its id."""
    at = time.time() - age
    prediction_id = prediction_id or new_id(at)
    db.add(
        PredictionRow(
            prediction_id=prediction_id,
            endpoint_id=endpoint_id,
            at=at,
            variant=variant,
            shadow=shadow,
            inputs=inputs if inputs is not None else fleet.record(),
            outputs=output,
            latency_ms=1.0,
        )
    )
    db.commit()
    return prediction_id


def endpoint_key(owner: Person, endpoint: str = "churn") -> str:
    answer = owner.client.post(f"{BASE}/{endpoint}/keys", json={"name": "app"})
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def stored(db: Session) -> list[FeedbackRow]:
    db.expire_all()
    return list(db.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))


def error(answer: Any, status: int) -> str | None:
    assert answer.status_code == status, answer.text
    field: str | None = answer.json()["error"]["field"]
    return field


@pytest.fixture
def labelled(
    team: dict[str, Person], db: Session, app: FastAPI
) -> tuple[int, Callable[..., Any], Person]:
    """The churn endpoint, and `send(body)` posting feedback with an endpoint key."""
    owner = team["owner"]
    endpoint_id = make_endpoint(owner, db)
    key = endpoint_key(owner)
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})

    def send(body: Any = None, content: bytes | None = None) -> Any:
        if content is not None:
            return client.post(URL, content=content)
        return client.post(URL, json=body)

    return endpoint_id, send, owner


Labelled = tuple[int, Callable[..., Any], Person]


def test_a_single_label_and_both_batch_shapes_are_stored(labelled: Labelled, db: Session) -> None:
    endpoint_id, send, _ = labelled
    ids = [log_prediction(db, endpoint_id, [i % 2], variant="ab"[i % 2]) for i in range(5)]
    one = send({"prediction_id": ids[0], "label": 0})
    assert one.json() == {"accepted": 1, "duplicates": 0, "late": 0}
    array = send([{"prediction_id": ids[1], "label": 0}, {"prediction_id": ids[2], "label": 0}])
    assert array.json() == {"accepted": 2, "duplicates": 0, "late": 0}
    wrapped = send({"feedback": [{"prediction_id": p, "label": 1} for p in ids[3:]]})
    assert wrapped.json() == {"accepted": 2, "duplicates": 0, "late": 0}
    rows = stored(db)
    # joined at arrival: each row carries its prediction's variant, inputs and served output
    assert [(r.prediction_id, r.variant, r.output, r.label, r.late) for r in rows] == [
        (ids[0], "a", [0], 0, False),
        (ids[1], "b", [1], 0, False),
        (ids[2], "a", [0], 0, False),
        (ids[3], "b", [1], 1, False),
        (ids[4], "a", [0], 1, False),
    ]
    assert rows[0].inputs == fleet.record()


def test_an_unknown_id_rejects_the_whole_request(
    labelled: Labelled, db: Session, team: dict[str, Person]
) -> None:
    endpoint_id, send, owner = labelled
    ids = [log_prediction(db, endpoint_id, [1]) for _ in range(2)]
    old_unknown = new_id(time.time() - 600)  # too old to be a log still on its way
    assert error(send({"prediction_id": old_unknown, "label": 1}), 404) == "prediction_id"
    batch = [{"prediction_id": p, "label": 1} for p in [*ids, old_unknown]]
    assert error(send(batch), 404) == "feedback[2].prediction_id"
    assert error(send({"feedback": batch}), 404) == "feedback[2].prediction_id"
    assert error(send({"prediction_id": "not-an-id", "label": 1}), 404) == "prediction_id"
    # a bad label late in a batch is just as fatal to the labels before it
    mixed = [{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": "yes"}]
    assert error(send(mixed), 422) == "feedback[1].label"
    assert stored(db) == []
    assert db.scalar(select(func.count()).select_from(QualityRow)) == 0
    # another endpoint's prediction is unknown here, even to a key of that endpoint's project
    other_id = make_endpoint(owner, db, name="other")
    foreign = log_prediction(db, other_id, [1], age=600)
    assert error(send({"prediction_id": foreign, "label": 1}), 404) == "prediction_id"
    assert send(batch[:2]).json()["accepted"] == 2
    # a shadow answers with the live answer's id: the label joins the live answer only
    shared = log_prediction(db, endpoint_id, [0], variant="b", shadow=True, age=600)
    log_prediction(db, endpoint_id, [1], variant="a", prediction_id=shared, age=600)
    only_shadow = log_prediction(db, endpoint_id, [0], variant="b", shadow=True, age=600)
    assert send({"prediction_id": shared, "label": 1}).json()["accepted"] == 1
    assert (stored(db)[-1].variant, stored(db)[-1].output) == ("a", [1])
    assert error(send({"prediction_id": only_shadow, "label": 1}), 404) == "prediction_id"

    # a young id is waited for, as its log may still be on its way from the replica
    at = time.time()
    coming = new_id(at)
    engine = db.get_bind()

    def log_later() -> None:
        time.sleep(0.2)
        with Session(engine) as other:
            log_prediction(other, endpoint_id, [1], age=0, prediction_id=coming)

    thread = threading.Thread(target=log_later)
    thread.start()
    answer = send({"prediction_id": coming, "label": 1})
    thread.join()
    assert answer.json() == {"accepted": 1, "duplicates": 0, "late": 0}
    # and one that never comes is unknown once the join wait is over, not before
    started = time.monotonic()
    assert error(send({"prediction_id": new_id(time.time()), "label": 1}), 404) == "prediction_id"
    assert JOIN_WAIT_SECONDS <= time.monotonic() - started < JOIN_WAIT_SECONDS + 2


def test_the_first_label_wins_and_a_late_one_is_flagged(labelled: Labelled, db: Session) -> None:
    endpoint_id, send, owner = labelled
    first, second = (log_prediction(db, endpoint_id, [1]) for _ in range(2))
    assert send({"prediction_id": first, "label": 1}).json()["accepted"] == 1
    again = send({"prediction_id": first, "label": 0})
    assert again.json() == {"accepted": 0, "duplicates": 1, "late": 0}
    # within one batch too: the first of the two is the one stored
    batch = [
        {"prediction_id": second, "label": 0},
        {"prediction_id": second, "label": 1},
        {"prediction_id": first, "label": 0},
    ]
    assert send(batch).json() == {"accepted": 1, "duplicates": 2, "late": 0}
    assert [(r.prediction_id, r.label) for r in stored(db)] == [(first, 1), (second, 0)]
    quality = owner.client.get(f"{BASE}/churn/quality").json()
    assert quality["duplicates"] == 3
    [summary] = [s for s in quality["summary"] if s["variant"] == "a"]
    assert summary["labels"] == 2 and summary["accuracy"] == 0.5

    # a label later than online_late_seconds is stored and scored, flagged not to be learned
    late = log_prediction(db, endpoint_id, [1], variant="b", age=LATE_SECONDS + 30)
    on_time = log_prediction(db, endpoint_id, [1], variant="b", age=LATE_SECONDS - 30)
    answer = send([{"prediction_id": late, "label": 1}, {"prediction_id": on_time, "label": 0}])
    assert answer.json() == {"accepted": 2, "duplicates": 0, "late": 1}
    assert [(r.prediction_id, r.late) for r in stored(db)[2:]] == [(late, True), (on_time, False)]
    [summary] = [
        s
        for s in owner.client.get(f"{BASE}/churn/quality").json()["summary"]
        if s["variant"] == "b"
    ]
    assert (summary["labels"], summary["late"]) == (2, 1)
    assert summary["accuracy"] == 0.5
    assert summary["label_delay_seconds"] == pytest.approx(LATE_SECONDS, abs=2)


LABEL_TYPES: list[tuple[Any, list[Any], list[Any], list[Any]]] = [
    # served output, labels refused, labels accepted, and as they are stored
    ([True], ["yes", 2, None, [True], {"v": True}], [True, 0, 1], [True, False, True]),
    ([0.5], [True, "0.5", None, [0.5]], [1, 0.25], [1, 0.25]),
    (["gold"], [1, True, None, ["gold"]], ["silver"], ["silver"]),
    ([{"churn": True, "probability": 0.7}], [0.7, "true", None], [False], [False]),
    ([1], [True, "1", None, [1]], [1.0, 0, 2.5], [1, 0, 2.5]),  # an integer is a class
]


def test_a_label_has_the_type_of_its_prediction(labelled: Labelled, db: Session) -> None:
    endpoint_id, send, _ = labelled
    expected: list[Any] = []
    for output, bad, good, as_stored in LABEL_TYPES:
        for label in bad:
            prediction = log_prediction(db, endpoint_id, output)
            answer = send({"prediction_id": prediction, "label": label})
            assert error(answer, 422) == "label", (output, label)
            batch = [{"prediction_id": prediction, "label": label}]
            assert error(send(batch), 422) == "feedback[0].label", (output, label)
        assert len(stored(db)) == len(expected)  # nothing refused was stored
        for label in good:
            prediction = log_prediction(db, endpoint_id, output)
            assert send({"prediction_id": prediction, "label": label}).json()["accepted"] == 1
        expected.extend(as_stored)
    labels = [r.label for r in stored(db)]
    assert labels == expected and [type(x) for x in labels] == [type(x) for x in expected]


def test_malformed_requests_name_what_is_wrong(labelled: Labelled, db: Session) -> None:
    endpoint_id, send, owner = labelled
    prediction = log_prediction(db, endpoint_id, [1])
    item = {"prediction_id": prediction, "label": 1}
    answer = send(content=b'{"prediction_id": ')
    assert error(answer, 400) == "body" and answer.json()["error"]["code"] == "invalid_json"
    cases: list[tuple[Any, str]] = [
        ([], "feedback"),
        ({"feedback": []}, "feedback"),
        ([item] * (MAX_FEEDBACK + 1), "feedback"),
        ("label me", "body"),
        ({"feedback": "x"}, "body"),
        ([item, 7], "feedback[1]"),
        ({**item, "score": 0.9}, "score"),
        ([item, {**item, "weight": 2}], "feedback[1].weight"),
        ({"feedback": [item], "source": "crm"}, "source"),
        ({"label": 1}, "prediction_id"),
        ({"prediction_id": 12, "label": 1}, "prediction_id"),
        ({"prediction_id": "x" * 41, "label": 1}, "prediction_id"),
        ({"prediction_id": prediction}, "label"),
        ([item, {"prediction_id": prediction}], "feedback[1].label"),
    ]
    for body, field in cases:
        assert error(send(body), 422) == field, body
    assert stored(db) == []
    missing = owner.client.post("/serve/churn/nope/feedback", json=item)
    assert error(missing, 404) == "endpoint"
    assert send([item] * MAX_FEEDBACK).json() == {
        "accepted": 1,
        "duplicates": MAX_FEEDBACK - 1,
        "late": 0,
    }


def test_feedback_needs_an_endpoint_key_or_an_editor(
    team: dict[str, Person],
    db: Session,
    anonymous: TestClient,
    people: Callable[..., Person],
) -> None:
    owner, viewer, outsider = team["owner"], team["viewer"], team["outsider"]
    endpoint_id = make_endpoint(owner, db)
    make_endpoint(owner, db, name="other")
    editor = people("editor")
    owner.client.put("/api/v1/projects/churn/members/editor", json={"role": "editor"})
    # a public endpoint answers predictions to anyone, but labels teach the model
    assert owner.client.patch(f"{BASE}/churn", json={"public": True}).status_code == 200
    key = endpoint_key(owner)
    revoked = owner.client.post(f"{BASE}/churn/keys", json={"name": "old"}).json()
    owner.client.delete(f"{BASE}/churn/keys/{revoked['id']}")
    foreign = endpoint_key(owner, "other")
    ids = iter([log_prediction(db, endpoint_id, [1]) for _ in range(12)])

    def post(headers: dict[str, str], client: TestClient = anonymous) -> Any:
        return client.post(URL, json={"prediction_id": next(ids), "label": 1}, headers=headers)

    assert post({}).status_code == 401
    assert post({"Authorization": f"Bearer {revoked['token']}"}).status_code == 401
    assert post({"Authorization": f"Bearer {foreign}"}).status_code == 401
    assert post({"Authorization": "Bearer mye_not-a-key"}).status_code == 401
    assert post({"Authorization": "Bearer not-a-token"}).status_code == 401
    assert post({"Authorization": f"Bearer {key}"}).json()["accepted"] == 1
    assert post({"X-API-Key": key}).json()["accepted"] == 1
    assert post({}, editor.client).json()["accepted"] == 1
    assert post({}, owner.client).json()["accepted"] == 1
    assert post({}, viewer.client).status_code == 403
    assert post({}, outsider.client).status_code == 404
    assert len(stored(db)) == 4

    # a cookie goes with any cross-site form post, which can carry a JSON body as text/plain:
    # without the CSRF header, another site could teach the model as whoever is signed in
    signed_in = anonymous.post(
        "/api/v1/auth/login", json={"username": "owner", "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    csrf = signed_in.json()["csrf_token"]
    prediction = log_prediction(db, endpoint_id, [1])
    forged = anonymous.post(
        URL,
        content=f'{{"prediction_id": "{prediction}", "label": 0}}',
        headers={"Content-Type": "text/plain"},
    )
    assert forged.status_code == 403, forged.text
    assert len(stored(db)) == 4
    ok = anonymous.post(
        URL, json={"prediction_id": prediction, "label": 1}, headers={CSRF_HEADER: csrf}
    )
    assert ok.json()["accepted"] == 1
    assert (stored(db)[-1].prediction_id, stored(db)[-1].label) == (prediction, 1)


def test_a_label_that_loses_a_race_is_not_counted_twice_by_the_baseline(
    labelled: Labelled, db: Session, app: FastAPI
) -> None:
    """Another request stores the same label between this one's join and its insert: this
    one retries and sees a duplicate, and the baseline counts the label once, as stored."""
    endpoint_id, send, _ = labelled
    send({"prediction_id": log_prediction(db, endpoint_id, [True], age=600), "label": True})
    contested = log_prediction(db, endpoint_id, [True], age=600)
    engine = db.get_bind()

    class Racing(FeedbackStore):
        raced = False

        def _join(self, session: Session, endpoint_id: int, items: list[Item]) -> dict[str, Any]:
            found = super()._join(session, endpoint_id, items)
            if not self.raced:
                self.raced = True
                session.rollback()  # SQLite: let the other writer in
                with Session(engine) as other:
                    other.add(
                        FeedbackRow(
                            endpoint_id=endpoint_id,
                            prediction_id=contested,
                            variant="a",
                            inputs={},
                            output=[True],
                            label=False,
                            predicted_at=time.time() - 600,
                            received_at=time.time(),
                        )
                    )
                    other.commit()
            return found

    store = Racing(app.state.online.settings)
    with Session(engine) as session:
        outcome = store.ingest(session, endpoint_id, [Item(contested, False, "")])
        assert (outcome.accepted, outcome.duplicates) == (0, 1)
        # what the store believes is what a restarted store rebuilds from the stored sums
        believed = Counter(store.baselines.get(session, endpoint_id).classes)
        assert believed == Baselines().get(session, endpoint_id).classes == {"true": 1}
