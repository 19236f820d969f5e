"""The model-quality part of an endpoint's page, rendered on the server: the range selector
and what the charts are told to fetch, the learners of online variants with their state, and
the editors' forms to pause, resume, checkpoint and roll back a learner (CSRF checked, roles
checked, text users or learners wrote escaped). The charts themselves are drawn in a real
browser by tests/web/test_browser_quality.py."""

from __future__ import annotations

import json

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.online.tables import LearnerRow
from modelyard.registry.service import ModelVersionRow
from modelyard.serving.tables import EndpointEventRow, EndpointRow, VariantRow
from tests.web import test_endpoint_pages as pages
from tests.web.test_code_pages import Element, Page, get
from tests.web.test_data_pages import assert_only_our_scripts, csrf_of
from tests.web.test_endpoint_pages import ENDPOINTS, XSS, SignIn, Team, api, make_endpoint, post

team = pages.team
PAGE = f"{ENDPOINTS}/scorer"
LEARNER = f"{PAGE}/learners/a"


def add_learner(db: Session, endpoint: str = "scorer", variant: str = "a") -> LearnerRow:
    """The learner row the fleet makes for an online variant once its endpoint runs (no
    learner process runs in these tests)."""
    endpoint_id = db.scalars(select(EndpointRow.id).where(EndpointRow.name == endpoint)).one()
    row = db.scalars(
        select(VariantRow).where(VariantRow.endpoint_id == endpoint_id, VariantRow.name == variant)
    ).one()
    sha = db.scalars(
        select(ModelVersionRow.sha256).where(
            ModelVersionRow.model_id == row.model_id, ModelVersionRow.version == row.version
        )
    ).one()
    learner = LearnerRow(variant_id=row.id, endpoint_id=endpoint_id, base_sha256=sha, cursor=0)
    db.add(learner)
    db.commit()
    return learner


def learner_row(page: Element, variant: str = "a") -> Element:
    return page.find("tr", data_learner=variant)


def learner_of(db: Session, learner_id: int) -> LearnerRow:
    db.expire_all()
    found = db.get(LearnerRow, learner_id)
    assert found is not None
    return found


def test_the_quality_section_fetches_the_chosen_range_and_says_how_to_send_labels(
    team: Team, portal: SignIn
) -> None:
    make_endpoint(team.people["alice"])
    victor = portal("victor")  # viewers see the figures too
    page = get(victor, PAGE)
    assert page.status == 200
    section = page.root.find(id="quality")
    assert section.find("h2").words == "Model quality"
    chips = page.testid("quality-ranges").find_all("a")
    assert [a.words for a in chips] == ["15m", "1h", "24h", "7d"]
    assert [a.attrs["href"] for a in chips][1] == "?range=1h#quality"
    assert [a.words for a in chips if "aria-current" in a.attrs] == ["15m"]
    config = json.loads(page.root.find("script", id="quality-charts").text)
    assert config["quality"] == api(f"{PAGE}/quality")
    assert config["drift"] == api(f"{PAGE}/drift")
    assert config["ranges"] == {"15m": 900, "1h": 3600, "24h": 86400, "7d": 604800}
    assert config["range"] == "15m"
    for chart in ("accuracy", "labels", "coverage", "lag", "drift"):
        assert page.testid(f"chart-{chart}")
    empty = page.testid("quality-empty").words
    assert "POST http://127.0.0.1:8000/serve/churn/scorer/feedback" in empty
    assert page.find_all(id="learners") == []  # no online variant: no learners panel

    # a range in the URL survives a reload; an unknown one falls back to 15 minutes
    day = get(victor, PAGE, range="24h")
    assert json.loads(day.root.find("script", id="quality-charts").text)["range"] == "24h"
    current = [
        a.words for a in day.testid("quality-ranges").find_all("a") if "aria-current" in a.attrs
    ]
    assert current == ["24h"]
    odd = get(victor, PAGE, range="1y")
    assert odd.status == 200
    assert json.loads(odd.root.find("script", id="quality-charts").text)["range"] == "15m"

    # what the charts fetch answers through the viewer's session cookie
    for url in (f"{PAGE}/quality?window=86400", f"{PAGE}/drift?window=86400"):
        assert victor.get(api(url)).status_code == 200, url


def test_the_learners_panel_shows_an_online_variant_and_viewers_get_no_buttons(
    team: Team, portal: SignIn, db: Session
) -> None:
    alice = team.people["alice"]
    make_endpoint(alice)
    learner = add_learner(db)
    page = get(portal("erin"), PAGE)
    row = learner_row(page)
    assert row.find(data_testid="learner-state").words == "stopped"  # the endpoint is stopped
    assert "churn-clf as registered" in row.words
    assert "0 labels" in row.words and "none yet" in row.words
    actions = [f.attrs["action"] for f in row.find_all("form")]
    assert actions == [f"{LEARNER}/pause", f"{LEARNER}/checkpoint", f"{LEARNER}/rollback"]

    assert alice.client.post(api(f"{PAGE}/start")).status_code == 200
    victor = portal("victor")
    page = get(victor, PAGE)
    row = learner_row(page)
    assert row.find(data_testid="learner-state").words == "starting"  # no process yet
    assert row.find_all("form") == [] and row.find_all("button") == []
    posts = [f.attrs["action"] for f in page.all if f.attrs.get("method") == "post"]
    assert posts == ["/logout"]
    for action, fields in (("pause", {}), ("checkpoint", {}), ("rollback", {"version": "1"})):
        refused = post(victor, PAGE, f"{LEARNER}/{action}", **fields)
        assert refused.status_code == 403, action
    assert not learner_of(db, learner.id).paused

    carol = portal("carol")  # not in the project: the endpoint does not exist for her
    token = csrf_of(carol.get("/tokens").text)
    assert carol.post(f"{LEARNER}/pause", data={"csrf_token": token}).status_code == 404


def test_an_editor_pauses_and_resumes_a_learner_with_the_csrf_token(
    team: Team, portal: SignIn, db: Session
) -> None:
    alice = team.people["alice"]
    make_endpoint(alice)
    assert alice.client.post(api(f"{PAGE}/start")).status_code == 200
    learner = add_learner(db)
    erin = portal("erin")
    erin.get(PAGE)  # the CSRF cookie is set; the form field is what is missing
    assert erin.post(f"{LEARNER}/pause").status_code == 403
    assert erin.post(f"{LEARNER}/pause", data={"csrf_token": "forged"}).status_code == 403
    assert not learner_of(db, learner.id).paused

    paused = post(erin, PAGE, f"{LEARNER}/pause")
    assert paused.status_code == 303, paused.text
    assert paused.headers["location"] == f"{PAGE}?done=learner-paused#learners"
    assert learner_of(db, learner.id).paused
    page = get(erin, f"{PAGE}?done=learner-paused")
    assert "Learning paused" in page.root.find("p", role="status").words
    row = learner_row(page)
    assert row.find(data_testid="learner-state").words == "paused"
    assert row.find("form").attrs["action"] == f"{LEARNER}/resume"
    assert "erin paused learning of a" in page.testid("events").words

    resumed = post(erin, PAGE, f"{LEARNER}/resume")
    assert resumed.status_code == 303
    assert not learner_of(db, learner.id).paused
    kinds = db.scalars(select(EndpointEventRow.kind).order_by(EndpointEventRow.id)).all()
    assert kinds[-2:] == ["paused", "resumed"]
    missing = post(erin, PAGE, f"{PAGE}/learners/nope/pause")
    assert missing.status_code == 404


def test_an_editor_checkpoints_a_learner_and_rolls_it_back(
    team: Team, portal: SignIn, db: Session, app: FastAPI
) -> None:
    make_endpoint(team.people["alice"])
    learner = add_learner(db)
    erin = portal("erin")

    # nothing learned yet: nothing to checkpoint, and the page says so
    refused = post(erin, PAGE, f"{LEARNER}/checkpoint")
    assert refused.status_code == 409
    assert "nothing new to checkpoint" in Page(refused).testid("error").words

    # a published state (what a learner process would have written) becomes version 3
    learned = learner_of(db, learner.id)
    learned.state_sha256 = app.state.online.states.write(b"learned state", {})
    db.commit()
    saved = post(erin, PAGE, f"{LEARNER}/checkpoint")
    assert saved.status_code == 303, saved.text
    assert learner_of(db, learner.id).checkpoint_version == 3
    page = get(erin, f"{PAGE}?done=checkpointed")
    assert "Checkpoint saved" in page.root.find("p", role="status").words
    row = learner_row(page)
    assert row.links()["v3"] == "/projects/churn/models/churn-clf?version=3"
    assert row.find("input", name="version").attrs["value"] == "3"
    assert "a: checkpoint saved as v3" in page.testid("events").words

    # back to version 1: served (and learned on) from its file
    wrong = post(erin, PAGE, f"{LEARNER}/rollback", version="99")
    assert wrong.status_code == 422 and "99" in Page(wrong).testid("error").words
    empty = post(erin, PAGE, f"{LEARNER}/rollback", version="")
    assert empty.status_code == 422
    back = post(erin, PAGE, f"{LEARNER}/rollback", version="1")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == f"{PAGE}?done=learner-rolled-back#learners"
    v1 = db.scalars(select(ModelVersionRow).where(ModelVersionRow.version == 1)).one()
    assert learner_of(db, learner.id).state_sha256 == v1.sha256
    assert "erin rolled a back to churn-clf v1" in get(erin, PAGE).testid("events").words


def test_text_learners_and_users_wrote_is_escaped(team: Team, portal: SignIn, db: Session) -> None:
    make_endpoint(team.people["alice"], description=XSS)
    learner = add_learner(db)
    learner.error = f"the learner exited: {XSS}"
    endpoint_id = db.scalars(select(EndpointRow.id)).one()
    db.add(EndpointEventRow(endpoint_id=endpoint_id, kind="drift", message=f"a: {XSS}"))
    db.commit()
    erin = portal("erin")
    page = get(erin, PAGE)
    assert_only_our_scripts(page)
    assert XSS in learner_row(page).find(data_testid="learner-error").words
    assert XSS in page.testid("events").words
    assert "<script>" not in page.root.find("script", id="quality-charts").text
    # the markers the charts draw carry the message as data; the page sets it as text
    markers = erin.get(api(f"{PAGE}/quality?window=900")).json()["markers"]
    assert [m["message"] for m in markers] == [f"a: {XSS}"]
