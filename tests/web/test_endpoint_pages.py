"""The serving pages of the portal, rendered on the server: a project's endpoints and their
empty state, an endpoint's page (URLs, curl example, variants and the split, keys shown once,
settings), deploying from a model page, endpoints on the project page and the overview, who
may see and change what, CSRF, and text users wrote escaped everywhere."""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.serving.tables import EndpointRow, TelemetryRow
from tests.conftest import Person
from tests.web.test_code_pages import Element, Page, get
from tests.web.test_data_pages import assert_only_our_scripts, csrf_of

XSS = "<script>alert('endpoint')</script>"
KEY_XSS = "<img src=x onerror=alert('key')>"
SIGNATURE = [
    {"name": "age", "type": "integer"},
    {"name": "income", "type": "number"},
    {"name": "plan", "type": "string"},
    {"name": "active", "type": "boolean"},
    {"name": "it's", "type": "number"},  # a quote the shell example must survive
]
ENDPOINTS = "/projects/churn/endpoints"
MODEL = "/projects/churn/models/churn-clf"
SignIn = Callable[[str], TestClient]


@dataclass
class Team:
    people: dict[str, Person]


def register(person: Person, name: str = "churn-clf") -> int:
    answer = person.client.post(
        f"/api/v1/projects/churn/models/{name}/versions",
        content=b"not a real model: no replica runs in these tests",
        headers={"X-Modelyard-Version": json.dumps({"flavor": "sklearn", "signature": SIGNATURE})},
    )
    assert answer.status_code == 201, answer.text
    version: int = answer.json()["version"]
    return version


@pytest.fixture
def team(people: Callable[..., Person]) -> Team:
    """alice owns 'churn' (churn-clf v1 and v2, champion -> v2); erin edits, victor views,
    carol is in no project."""
    crew = {name: people(name) for name in ("alice", "erin", "victor", "carol")}
    alice = crew["alice"]
    made = alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    assert made.status_code == 201, made.text
    for name, role in (("erin", "editor"), ("victor", "viewer")):
        added = alice.client.put(f"/api/v1/projects/churn/members/{name}", json={"role": role})
        assert added.status_code == 200, added.text
    register(alice)
    register(alice)
    moved = alice.client.put(f"{api(MODEL)}/aliases/champion", json={"version": 2})
    assert moved.status_code == 200, moved.text
    return Team(crew)


def api(path: str) -> str:
    return f"/api/v1{path}"


def make_endpoint(person: Person, name: str = "scorer", **body: Any) -> dict[str, Any]:
    made = person.client.post(api(ENDPOINTS), json={"name": name, **body})
    assert made.status_code == 201, made.text
    variant = {"name": "a", "model": "churn-clf", "version": "1", "weight": 100}
    added = person.client.post(api(f"{ENDPOINTS}/{name}/variants"), json=variant)
    assert added.status_code == 201, added.text
    answer: dict[str, Any] = added.json()
    return answer


def endpoint_of(person: Person, name: str = "scorer") -> dict[str, Any]:
    answer = person.client.get(api(f"{ENDPOINTS}/{name}"))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def post(client: TestClient, page: str, action: str, **fields: object) -> Any:
    """Post a form the way a browser does: with the CSRF token the page put in it."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**fields, "csrf_token": token})


def rows_of(table: Element) -> list[Element]:
    return table.find("tbody").find_all("tr")


def curl_body(page: Page) -> dict[str, Any]:
    words = shlex.split(page.testid("curl").text.replace("\\\n", " "))
    body: dict[str, Any] = json.loads(words[words.index("-d") + 1])
    return body


# --- the Endpoints tab -----------------------------------------------------------------------


def test_the_endpoints_tab_says_how_to_deploy_when_there_is_none(
    team: Team, portal: SignIn
) -> None:
    page = get(portal("erin"), ENDPOINTS)
    assert page.status == 200
    assert page.root.find("nav", **{"class": "tabs"}).links()["Endpoints"] == ENDPOINTS
    empty = page.testid("no-endpoints").words
    assert "No endpoints yet" in empty and "Models" in empty
    assert page.testid("deploy-command").words == (
        "modelyard deploy churn-clf@champion --endpoint NAME --project churn"
    )
    assert page.testid("new-endpoint").find("form").attrs["action"] == ENDPOINTS
    viewer = get(portal("victor"), ENDPOINTS)
    assert viewer.status == 200 and viewer.testid("no-endpoints")
    assert viewer.find_all(data_testid="new-endpoint") == []
    assert get(portal("carol"), ENDPOINTS).status == 404


def test_an_editor_creates_an_endpoint_and_its_page_shows_how_to_call_it(
    team: Team, portal: SignIn
) -> None:
    erin = portal("erin")
    created = post(erin, ENDPOINTS, ENDPOINTS, name="scorer", min_replicas="1", max_replicas="3")
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"{ENDPOINTS}/scorer?done=created"
    page = get(erin, f"{ENDPOINTS}/scorer")
    assert page.status == 200 and page.testid("endpoint-name").words == "scorer"
    assert page.testid("endpoint-status").words == "stopped"
    assert page.testid("url").words == "http://127.0.0.1:8000/serve/churn/scorer/predict"
    assert page.find_all(data_testid="direct-url") == []  # no port before the first start
    assert page.testid("no-variants") and page.testid("no-replicas")
    assert "1\N{EN DASH}3 replicas" in page.root.find("p", **{"class": "slug"}).words
    assert page.testid("charts-empty").attrs.get("hidden") is None
    assert "No traffic" in page.testid("charts-empty").words
    config = json.loads(page.root.find("script", id="endpoint-charts").text)
    assert config["metrics"] == api(f"{ENDPOINTS}/scorer/metrics?window=900")
    assert config["refresh_ms"] == 2000

    # a variant from the form: its name is made from the model and the version asked for
    added = post(
        erin,
        f"{ENDPOINTS}/scorer",
        f"{ENDPOINTS}/scorer/variants",
        model="churn-clf",
        version="champion",
        weight="100",
        mode="live",
        name="",
    )
    assert added.status_code == 303, added.text
    page = get(erin, f"{ENDPOINTS}/scorer")
    [row] = rows_of(page.testid("variants"))
    assert row.attrs["data-variant"] == "champion"
    model = row.find(data_testid="variant-model")
    assert model.words == "churn-clf@champion"
    assert model.attrs["href"] == f"{MODEL}?version=2"
    assert "now v2" in row.words and "flavor default" in row.words
    assert row.find(data_testid="share").words == "100.0 %"
    # the curl example: a body with every feature of the signature, each a value of its type
    assert curl_body(page) == {
        "inputs": {"age": 1, "income": 0.5, "plan": "text", "active": True, "it's": 0.5}
    }
    assert "Authorization: Bearer $MODELYARD_ENDPOINT_KEY" in page.testid("curl").text
    started = post(erin, f"{ENDPOINTS}/scorer", f"{ENDPOINTS}/scorer/start")
    assert started.status_code == 303
    assert endpoint_of(team.people["alice"])["state"] == "running"
    listing = get(erin, ENDPOINTS)
    [line] = rows_of(listing.testid("endpoints"))
    assert line.attrs["data-endpoint"] == "scorer"
    assert "champion 100 %" in line.words
    assert line.find(data_testid="endpoint-rps").words == "0.0"


def test_a_bad_endpoint_form_shows_the_problem_and_keeps_what_was_typed(
    team: Team, portal: SignIn
) -> None:
    erin = portal("erin")
    bad = post(erin, ENDPOINTS, ENDPOINTS, name="Not OK!", description="kept")
    assert bad.status_code == 422
    page = Page(bad)
    assert "name" in page.testid("error").words
    assert page.root.find("textarea", name="description").words == "kept"
    make_endpoint(team.people["alice"])
    taken = post(erin, ENDPOINTS, ENDPOINTS, name="scorer")
    assert taken.status_code == 409
    assert "already has an endpoint 'scorer'" in Page(taken).testid("error").words
    wrong = post(erin, ENDPOINTS, ENDPOINTS, name="other", min_replicas="3", max_replicas="2")
    assert wrong.status_code == 422 and "max_replicas" in Page(wrong).testid("error").words


# --- weights, rollback, variants ------------------------------------------------------------


def test_editors_set_the_split_in_one_form_roll_it_back_and_remove_a_variant(
    team: Team, portal: SignIn
) -> None:
    alice, erin = team.people["alice"], portal("erin")
    make_endpoint(alice)
    page_url = f"{ENDPOINTS}/scorer"
    added = post(
        erin,
        page_url,
        f"{page_url}/variants",
        model="churn-clf",
        version="2",
        name="b",
        weight="",
        mode="live",
    )
    assert added.status_code == 303
    page = get(erin, page_url)
    weights = {
        i.attrs["name"]: i.attrs["value"] for i in page.all if i.attrs.get("form") == "traffic-form"
    }
    assert weights == {"weight.a": "100", "weight.b": "0"}

    split = post(erin, page_url, f"{page_url}/traffic", **{"weight.a": "50", "weight.b": "50"})
    assert split.status_code == 303
    assert split.headers["location"] == f"{page_url}?done=traffic-set"
    page = get(erin, split.headers["location"])
    assert "Traffic split saved" in page.root.find("p", **{"class": "notice"}).words
    shares = [r.find(data_testid="share").words for r in rows_of(page.testid("variants"))]
    assert shares == ["50.0 %", "50.0 %"]

    rolled = post(erin, page_url, f"{page_url}/rollback")
    assert rolled.status_code == 303
    weights_now = {v["name"]: v["weight"] for v in endpoint_of(alice)["variants"]}
    assert weights_now == {"a": 100.0, "b": 0.0}

    # a started endpoint must keep a live variant with traffic: the page says why not
    assert alice.client.post(api(f"{page_url}/start")).status_code == 200
    none = post(erin, page_url, f"{page_url}/traffic", **{"weight.a": "0", "weight.b": ""})
    assert none.status_code == 422
    assert "at least one live variant must keep traffic" in Page(none).testid("error").words
    nan = post(erin, page_url, f"{page_url}/traffic", **{"weight.a": "lots"})
    assert nan.status_code == 422 and "not a number" in Page(nan).testid("error").words
    last = post(erin, page_url, f"{page_url}/variants/a/remove")
    assert last.status_code == 409 and "last live variant" in Page(last).testid("error").words

    removed = post(erin, page_url, f"{page_url}/variants/b/remove")
    assert removed.status_code == 303
    assert [v["name"] for v in endpoint_of(alice)["variants"]] == ["a"]
    stopped = post(erin, page_url, f"{page_url}/stop")
    assert stopped.status_code == 303
    page = get(erin, stopped.headers["location"])
    assert page.testid("endpoint-status").words == "stopped"
    assert "Requests get 503" in page.root.find("p", **{"class": "notice"}).words


def test_a_key_is_shown_once_listed_by_prefix_and_revoked(team: Team, portal: SignIn) -> None:
    erin = portal("erin")
    make_endpoint(team.people["alice"])
    page_url = f"{ENDPOINTS}/scorer"
    assert get(erin, page_url).testid("no-keys")
    created = post(erin, page_url, f"{page_url}/keys", key_name=KEY_XSS)
    assert created.status_code == 200
    page = Page(created)
    token = page.testid("new-key").words
    assert re.fullmatch(r"mye_[A-Za-z0-9_-]{40,}", token)
    assert created.headers["cache-control"] == "no-store"
    assert_only_our_scripts(page)
    again = get(erin, page_url)
    assert token not in again.raw and again.find_all(data_testid="new-key") == []
    [row] = rows_of(again.testid("keys"))
    assert row.words.startswith(KEY_XSS)
    assert row.find("code").words == f"{token[:8]}…"
    assert_only_our_scripts(again)

    revoked = post(erin, page_url, f"{page_url}/keys/{row.attrs['data-key']}/revoke")
    assert revoked.status_code == 303
    [row] = rows_of(get(erin, page_url).testid("keys"))
    assert "revoked" in row.words and not row.find_all("form")
    made_public = post(erin, page_url, f"{page_url}/public", public="true")
    assert made_public.status_code == 303
    page = get(erin, page_url)
    assert page.testid("public").words == "public"
    assert "Authorization" not in page.testid("curl").text
    assert post(erin, page_url, f"{page_url}/public", public="false").status_code == 303
    assert endpoint_of(team.people["alice"])["public"] is False


def test_settings_and_delete(team: Team, portal: SignIn) -> None:
    erin = portal("erin")
    make_endpoint(team.people["alice"], description="old")
    page_url = f"{ENDPOINTS}/scorer"
    saved = post(
        erin,
        page_url,
        f"{page_url}/settings",
        description="Scores **churn**",
        min_replicas="2",
        max_replicas="4",
        target_inflight="8",
    )
    assert saved.status_code == 303
    endpoint = endpoint_of(team.people["alice"])
    assert (endpoint["min_replicas"], endpoint["max_replicas"]) == (2, 4)
    assert endpoint["target_inflight"] == 8.0 and endpoint["description"] == "Scores **churn**"
    assert get(erin, page_url).testid("description").find("strong").words == "churn"
    deleted = post(erin, page_url, f"{page_url}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == f"{ENDPOINTS}?done=deleted"
    assert get(erin, page_url).status == 404


# --- deploying from the model page -----------------------------------------------------------


def test_deploy_from_the_model_page_to_a_new_then_an_existing_endpoint(
    team: Team, portal: SignIn
) -> None:
    erin = portal("erin")
    form = get(erin, MODEL).testid("deploy-form")
    assert form.attrs["action"] == f"{MODEL}/deploy"
    assert get(erin, MODEL).testid("no-deployments")
    new = post(erin, MODEL, f"{MODEL}/deploy", version="1", new_endpoint="churn", endpoint="")
    assert new.status_code == 303, new.text
    assert new.headers["location"] == f"{ENDPOINTS}/churn?done=deployed"
    endpoint = endpoint_of(team.people["alice"], "churn")
    assert endpoint["state"] == "running"
    assert [(v["name"], v["version"], v["weight"]) for v in endpoint["variants"]] == [
        ("v1", 1, 100.0)
    ]
    page = get(erin, new.headers["location"])
    assert "Deployed" in page.root.find("p", **{"class": "notice"}).words

    # the second version joins the existing endpoint without traffic
    joined = post(erin, MODEL, f"{MODEL}/deploy", version="2", endpoint="churn", weight="")
    assert joined.status_code == 303
    assert joined.headers["location"] == f"{ENDPOINTS}/churn?done=variant-added"
    weights = {
        v["name"]: v["weight"] for v in endpoint_of(team.people["alice"], "churn")["variants"]
    }
    assert weights == {"v1": 100.0, "v2": 0.0}
    # the same version again is a double click, not a second copy
    again = post(erin, MODEL, f"{MODEL}/deploy", version="2", endpoint="churn", weight="10")
    assert again.status_code == 409
    assert "already serves" in again.text
    names = [v["name"] for v in endpoint_of(team.people["alice"], "churn")["variants"]]
    assert names == ["v1", "v2"]
    split = post(
        erin,
        f"{ENDPOINTS}/churn",
        f"{ENDPOINTS}/churn/traffic",
        **{"weight.v1": "90", "weight.v2": "10"},
    )
    assert split.status_code == 303, split.text

    model = get(erin, MODEL)
    assert model.testid("deployed-1").words == "churn · 90 %"
    assert model.testid("deployed-1").find("a").attrs["href"] == f"{ENDPOINTS}/churn"
    assert model.testid("deployed-2").words == "churn · 10 %"
    assert len(rows_of(model.testid("deployments"))) == 2
    # a viewer sees where it serves, not the form
    viewer = get(portal("victor"), MODEL)
    assert len(rows_of(viewer.testid("deployments"))) == 2
    assert viewer.find_all(data_testid="deploy-form") == []


def test_a_failed_deploy_says_why_and_leaves_nothing_behind(team: Team, portal: SignIn) -> None:
    erin = portal("erin")
    make_endpoint(team.people["alice"], name="taken")
    neither = post(erin, MODEL, f"{MODEL}/deploy", version="1", endpoint="", new_endpoint="")
    assert neither.status_code == 422
    assert "choose an existing endpoint or name a new one" in Page(neither).testid("error").words
    exists = post(erin, MODEL, f"{MODEL}/deploy", version="1", new_endpoint="taken")
    assert exists.status_code == 409
    missing = post(erin, MODEL, f"{MODEL}/deploy", version="7", new_endpoint="fresh")
    assert missing.status_code == 404 and "no version 7" in Page(missing).testid("error").words
    nowhere = post(erin, MODEL, f"{MODEL}/deploy", version="1", endpoint="nowhere")
    assert nowhere.status_code == 404
    assert "no endpoint 'nowhere'" in Page(nowhere).testid("error").words
    names = [e["name"] for e in team.people["alice"].client.get(api(ENDPOINTS)).json()["items"]]
    assert names == ["taken"]


# --- who may do what -------------------------------------------------------------------------

ACTIONS = [
    ("start", {}),
    ("stop", {}),
    ("rollback", {}),
    ("traffic", {"weight.a": "1"}),
    ("variants", {"model": "churn-clf", "version": "1", "name": "v"}),
    ("variants/a/remove", {}),
    ("keys", {"key_name": "k"}),
    ("public", {"public": "true"}),
    ("settings", {"description": "x"}),
    ("delete", {}),
]


def test_viewers_see_an_endpoint_but_no_form_and_their_posts_are_refused(
    team: Team, portal: SignIn
) -> None:
    make_endpoint(team.people["alice"])
    victor = portal("victor")
    page_url = f"{ENDPOINTS}/scorer"
    page = get(victor, page_url)
    assert page.status == 200
    posts = [f.attrs["action"] for f in page.all if f.attrs.get("method") == "post"]
    assert posts == ["/logout"]
    assert not [i for i in page.all if i.tag == "input" and i.attrs.get("form")]
    assert page.find_all(id="keys") == [] and page.find_all(data_testid="add-variant") == []
    assert "an editor of this project can create one" in page.root.find(id="call").words
    for action, fields in ACTIONS:
        refused = post(victor, page_url, f"{page_url}/{action}", **fields)
        assert refused.status_code == 403, action
    refused = post(victor, MODEL, f"{MODEL}/deploy", version="1", new_endpoint="mine")
    assert refused.status_code == 403
    refused = post(victor, ENDPOINTS, ENDPOINTS, name="mine")
    assert refused.status_code == 403
    endpoint = endpoint_of(team.people["alice"])
    assert endpoint["state"] == "stopped" and len(endpoint["variants"]) == 1
    assert team.people["alice"].client.get(api(f"{page_url}/keys")).json()["items"] == []

    carol = portal("carol")
    assert get(carol, page_url).status == 404
    token = csrf_of(carol.get("/tokens").text)
    for action, fields in ACTIONS:
        hidden = carol.post(f"{page_url}/{action}", data={**fields, "csrf_token": token})
        assert hidden.status_code == 404, action
    assert (
        carol.post(
            f"{MODEL}/deploy", data={"version": "1", "new_endpoint": "x", "csrf_token": token}
        ).status_code
        == 404
    )


def test_forms_need_the_csrf_token(team: Team, portal: SignIn) -> None:
    make_endpoint(team.people["alice"])
    erin = portal("erin")
    page_url = f"{ENDPOINTS}/scorer"
    erin.get(page_url)  # the CSRF cookie is set; the form field is what is missing
    for action, fields in ACTIONS:
        forged = erin.post(f"{page_url}/{action}", data=fields)
        assert forged.status_code == 403, action
    assert erin.post(ENDPOINTS, data={"name": "forged"}).status_code == 403
    assert (
        erin.post(f"{MODEL}/deploy", data={"version": "1", "new_endpoint": "x"}).status_code == 403
    )
    wrong = erin.post(f"{page_url}/start", data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    assert endpoint_of(team.people["alice"])["state"] == "stopped"
    names = [e["name"] for e in team.people["alice"].client.get(api(ENDPOINTS)).json()["items"]]
    assert names == ["scorer"]


def test_text_users_wrote_is_escaped_on_every_serving_page(team: Team, portal: SignIn) -> None:
    make_endpoint(team.people["alice"], description=f"{XSS}\n\nmore")
    erin = portal("erin")
    post(erin, f"{ENDPOINTS}/scorer", f"{ENDPOINTS}/scorer/keys", key_name=KEY_XSS)
    for url in (ENDPOINTS, f"{ENDPOINTS}/scorer", "/projects/churn", "/", MODEL):
        page = get(erin, url)
        assert page.status == 200, url
        assert_only_our_scripts(page)
    page = get(erin, f"{ENDPOINTS}/scorer")
    assert XSS in page.testid("description").words
    assert page.root.find("textarea", name="description").text.startswith(XSS)
    assert XSS in get(erin, ENDPOINTS).testid("endpoints").words


# --- the project page and the overview --------------------------------------------------------


def add_traffic(db: Session, name: str, variant: str, count: int, code: int = 200) -> None:
    endpoint_id = db.scalar(select(EndpointRow.id).where(EndpointRow.name == name))
    now = int(time.time())
    for second in range(now - 9, now + 1):
        db.add(
            TelemetryRow(
                endpoint_id=endpoint_id,
                ts=second,
                variant=variant,
                code=code,
                count=count,
                latency_sum=count * 0.002,
                buckets=[0, 0, count] + [0] * 13,
            )
        )
    db.commit()


def test_the_project_page_and_the_overview_show_each_endpoint_state_and_traffic(
    team: Team, portal: SignIn, db: Session
) -> None:
    alice = team.people["alice"]
    make_endpoint(alice, "busy")
    make_endpoint(alice, "idle")
    assert alice.client.post(api(f"{ENDPOINTS}/busy/start")).status_code == 200
    add_traffic(db, "busy", "a", 60)  # 600 requests in the last minute: 10/s
    add_traffic(db, "busy", "a", 6, code=500)
    erin = portal("erin")
    for url in ("/projects/churn", "/"):
        page = get(erin, url)
        rows = rows_of(page.testid("recent-endpoints"))
        assert [r.attrs["data-endpoint"] for r in rows] == ["busy", "idle"], url
        busy, idle = rows
        # starting: the supervisor is not running in these tests, so no replica is ready
        assert busy.find(data_testid="endpoint-status").words == "starting"
        assert busy.find(data_testid="endpoint-rps").words == "11.0 req/s"
        assert idle.find(data_testid="endpoint-status").words == "stopped"
        assert idle.find(data_testid="endpoint-rps").words == "0.0 req/s"
        assert "a 100 %" in busy.words
    counts = get(erin, "/").root.find("ul", **{"class": "counts"}).words
    assert "2 endpoints" in counts
    tab = get(erin, ENDPOINTS)
    busy_row = rows_of(tab.testid("endpoints"))[0]
    assert busy_row.find(data_testid="endpoint-rps").words == "11.0"
    assert "9.1 %" in busy_row.words  # errors
    page = get(erin, f"{ENDPOINTS}/busy")
    summary = page.testid("summary")
    assert summary.find(data_summary="requests").words == "660"
    assert summary.find(data_summary="requests_per_second").words == "11.00"
    assert summary.find(data_summary="error_rate").words == "9.1 %"
    assert page.testid("charts-empty").attrs.get("hidden") is not None
    # what the charts poll: the same figures, through the session cookie
    metrics = erin.get(api(f"{ENDPOINTS}/busy/metrics?window=900")).json()
    assert sum(metrics["series"]["variant_rps"]["a"]) > 0


def test_the_overview_without_endpoints_says_how_to_serve(team: Team, portal: SignIn) -> None:
    page = get(portal("erin"), "/")
    assert "modelyard deploy MODEL@champion" in page.testid("no-recent-endpoints").words
