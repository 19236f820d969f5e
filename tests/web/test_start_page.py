"""A project's "Start here" page, rendered on the server: each section shows the project's real
code, data, runs, models and endpoints with links to them; best runs ordered by the main metric
(higher or lower is better); empty states that say what to do; who may see it; the About page's
invitation for new members; and text users wrote escaped everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from modelyard.accounts.tables import UserRow
from modelyard.db import utcnow
from modelyard.experiments.service import lower_is_better
from modelyard.monitoring.tables import AlertRow
from modelyard.projects.tables import MembershipRow, ProjectRow
from modelyard.serving.tables import EndpointRow
from tests.code.conftest import git, seed_repo
from tests.conftest import Person
from tests.web.test_code_pages import Element, Page, get
from tests.web.test_data_pages import assert_only_our_scripts, create_data_yard, make_source
from tests.web.test_run_pages import new_run, post_metrics

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
START = "/projects/churn/start"
DESCRIPTION = "# Churn\n\nPredicts which customers **leave** next quarter.\n\n"
XSS_DESCRIPTION = "<script>alert('description')</script>"
XSS_RUN = "<script>alert('run')</script>"
XSS_COMMIT = "Add training <script>alert('commit')</script>"
XSS_ENDPOINT = "<script>alert('endpoint')</script>"
HEADINGS = [
    "What this project is for",
    "Code",
    "Data",
    "Best runs",
    "Models",
    "Live endpoints",
    "Next steps",
]
SECTION_IDS = ["purpose", "code", "data", "best-runs", "models", "endpoints", "next-steps"]
SignIn = Callable[[str], TestClient]


@dataclass
class Yard:
    team: dict[str, Person]
    runs: dict[str, int]
    head: str  # the commit on main


def ok(response: object) -> None:
    status = getattr(response, "status_code", 0)
    assert 200 <= status < 300, getattr(response, "text", "")


def register(person: Person, run_id: int) -> None:
    ok(
        person.client.post(
            "/api/v1/projects/churn/models/churn-clf/versions",
            content=b"not a real model: no replica runs in these tests",
            headers={"X-Modelyard-Version": json.dumps({"flavor": "sklearn", "run_id": run_id})},
        )
    )


def finish(person: Person, run_id: int, status: str = "finished") -> None:
    ok(person.client.patch(f"/api/v1/runs/{run_id}", json={"status": status}))


def create_yard(
    app: FastAPI, people: Callable[..., Person], admin: Person, db: Session, source: Path
) -> Yard:
    """On the data yard (alice owns 'churn', granted 'customers' owned by carol; bob owns 'hr',
    granted 'payroll'; carol is in no project): victor views and erin edits 'churn'. Its
    repository holds a README, train.py and predict.py; eight runs (six finished with auc,
    'baseline' read 'customers'); churn-clf v1 and v2 (champion); endpoint 'scorer' splits
    75/25 between v1 and the champion and has a firing critical alert."""
    team = create_data_yard(people, admin, make_source(source)).team
    alice = team["alice"]
    for name, role in (("victor", "viewer"), ("erin", "editor")):
        team[name] = people(name)
        ok(alice.client.put(f"/api/v1/projects/churn/members/{name}", json={"role": role}))
    ok(
        alice.client.patch(
            "/api/v1/projects/churn", json={"description": DESCRIPTION + XSS_DESCRIPTION}
        )
    )
    files = {
        "README.md": "# Churn\n\nRun train.py.\n",
        "train.py": "print('training')\n",
        "predict.py": "class Predictor:\n    pass\n",
    }
    head = seed_repo(app.state.repos.ensure("churn"), files, XSS_COMMIT, author="Maya Mentor")
    runs: dict[str, int] = {}
    finished = [
        ("baseline", 0.71),
        (XSS_RUN, 0.83),
        ("forest", 0.78),
        ("tiny-1", 0.1),
        ("tiny-2", 0.2),
        ("tiny-3", 0.3),
    ]
    for name, auc in finished:
        commit = head if name in ("baseline", XSS_RUN) else None
        runs[name] = new_run(alice, name=name, commit=commit)
        post_metrics(alice, runs[name], [{"key": "auc", "value": auc}])
    for name in ("baseline", "forest"):  # fewer runs log loss: auc is the main metric
        post_metrics(alice, runs[name], [{"key": "loss", "value": 0.1}])
    ok(
        alice.client.get(
            "/api/v1/datasets/customers/data", headers={"X-Modelyard-Run": str(runs["baseline"])}
        )
    )
    for name, _ in finished:
        finish(alice, runs[name])
    for name, status in (("wip", "running"), ("broken", "failed")):  # better, but not finished
        runs[name] = new_run(alice, name=name)
        post_metrics(alice, runs[name], [{"key": "auc", "value": 0.99}])
        if status != "running":
            finish(alice, runs[name], status)
    register(alice, runs["baseline"])
    register(alice, runs[XSS_RUN])
    ok(
        alice.client.put(
            "/api/v1/projects/churn/models/churn-clf/aliases/champion", json={"version": 2}
        )
    )
    endpoints = "/api/v1/projects/churn/endpoints"
    ok(alice.client.post(endpoints, json={"name": "scorer", "description": XSS_ENDPOINT}))
    for variant, version, weight in (("a", "1", 75), ("b", "champion", 25)):
        body = {"name": variant, "model": "churn-clf", "version": version, "weight": weight}
        ok(alice.client.post(f"{endpoints}/scorer/variants", json=body))
    rule = {"name": "errors", "figure": "error_rate", "op": ">", "threshold": 0.1}
    made = alice.client.post(
        f"{endpoints}/scorer/alert-rules", json={**rule, "severity": "critical"}
    )
    ok(made)
    endpoint_id = db.scalar(select(EndpointRow.id).where(EndpointRow.name == "scorer"))
    assert endpoint_id is not None
    db.add(
        AlertRow(
            rule_id=made.json()["id"], endpoint_id=endpoint_id, state="firing", severity="critical"
        )
    )
    db.commit()
    return Yard(team, runs, head)


@pytest.fixture
def yard(
    app: FastAPI, people: Callable[..., Person], admin: Person, db: Session, tmp_path: Path
) -> Yard:
    return create_yard(app, people, admin, db, tmp_path / "source.db")


def rows_of(table: Element) -> list[Element]:
    return table.find("tbody").find_all("tr")


def section(page: Page, section_id: str) -> Element:
    return page.find("section", id=section_id)


# --- what the page shows ----------------------------------------------------------------------


@SQLITE
def test_each_section_shows_the_projects_real_objects_with_links(
    yard: Yard, portal: SignIn, app: FastAPI
) -> None:
    page = get(portal("victor"), START)  # a viewer
    assert page.status == 200
    assert [h.words for h in page.find_all("h2")] == HEADINGS
    assert [s.attrs["id"] for s in page.find_all("section")] == SECTION_IDS
    tabs = page.find("nav", aria_label="Project")
    assert tabs.find("a").words == "Start here" and tabs.find("a").attrs["href"] == START
    assert tabs.find(aria_current="page").words == "Start here"

    purpose = section(page, "purpose")
    assert purpose.find("h1").words == "Churn"
    assert purpose.find("strong").words == "leave"
    assert purpose.links()["README.md"] == "/projects/churn/code/file?rev=main&path=README.md"

    code = section(page, "code")
    head = page.testid("head-commit")
    assert head.links()[yard.head[:8]] == f"/projects/churn/code/commit/{yard.head}"
    assert "Maya Mentor" in head.words and XSS_COMMIT in head.words
    base_url = app.state.settings.base_url.rstrip("/")
    assert page.testid("clone-commands").text.splitlines() == [
        "modelyard clone churn",
        f"git clone {base_url}/git/churn.git",
    ]
    live = [
        (r.attrs["data-kind"], r.find("a").words, r.find("a").attrs["href"])
        for r in rows_of(code.find("table"))
    ]
    assert live == [
        ("endpoint_variant", "endpoint scorer · b", "/projects/churn/endpoints/scorer"),
        ("endpoint_variant", "endpoint scorer · a", "/projects/churn/endpoints/scorer"),
        ("model_version", "churn-clf v2", "/projects/churn/models/churn-clf"),
        ("model_version", "churn-clf v1", "/projects/churn/models/churn-clf"),
        ("run", f"run {yard.runs[XSS_RUN]}: {XSS_RUN}", f"/runs/{yard.runs[XSS_RUN]}"),
        ("run", f"run {yard.runs['baseline']}: baseline", f"/runs/{yard.runs['baseline']}"),
    ]
    for row in rows_of(code.find("table")):
        assert row.links()[yard.head[:8]] == f"/projects/churn/code/commit/{yard.head}"
        assert "at head" in row.words
    variant_row = rows_of(code.find("table"))[0]
    assert "live" in variant_row.words

    data = rows_of(page.testid("datasets"))
    assert [r.attrs["data-dataset"] for r in data] == ["customers"]  # not hr's payroll
    cells = data[0].find_all("td")
    assert cells[0].links() == {"customers": "/data/customers"}
    assert cells[1].words == "Everyone who bought."
    assert cells[2].words == "carol"
    assert cells[3].links() == {"baseline": f"/runs/{yard.runs['baseline']}"}

    assert "auc" in page.testid("main-metric").words
    assert "higher is better" in page.testid("main-metric").words
    best = rows_of(page.testid("best-runs"))
    assert [r.find("a").words for r in best] == [XSS_RUN, "forest", "baseline", "tiny-3", "tiny-2"]
    assert [r.find("td", **{"class": "num"}).words for r in best] == [
        "0.83",
        "0.78",
        "0.71",
        "0.3",
        "0.2",
    ]
    assert best[0].find("a").attrs["href"] == f"/runs/{yard.runs[XSS_RUN]}"
    assert "alice" in best[0].words and "UTC" in best[0].words

    models = rows_of(page.testid("models"))
    assert [m.words for m in models] == ["churn-clf v2 of 2 champion → v2"]
    assert models[0].links() == {"churn-clf": "/projects/churn/models/churn-clf"}

    endpoints = rows_of(section(page, "endpoints").find("table"))
    assert [e.attrs["data-endpoint"] for e in endpoints] == ["scorer"]
    scorer = endpoints[0]
    assert scorer.find("a").attrs["href"] == "/projects/churn/endpoints/scorer"
    assert scorer.find(data_testid="endpoint-status").words == "stopped"
    assert scorer.find(data_testid="endpoint-health").words == "alerting"
    variants = {
        v.attrs["data-variant"]: v.words for v in scorer.find_all(**{"class": "variant-line"})
    }
    assert variants == {
        "a": "a: churn-clf v1 · 75 % of traffic",
        "b": "b: churn-clf v2 (champion) · 25 % of traffic",
    }

    steps = section(page, "next-steps")
    assert page.testid("dataset-snippet").words == 'modelyard.dataset("customers").to_pandas()'
    assert "modelyard clone churn" in steps.words
    assert "modelyard run train.py --project churn" in steps.words
    assert "modelyard deploy churn-clf@champion --endpoint NAME --project churn" in steps.words
    assert steps.links()["what is in customers"] == "/data/customers"


@SQLITE
def test_the_start_here_tab_comes_first_on_the_project_pages(yard: Yard, portal: SignIn) -> None:
    victor = portal("victor")
    for url in ("/projects/churn", "/projects/churn/runs", "/projects/churn/endpoints"):
        first = get(victor, url).find("nav", aria_label="Project").find("a")
        assert (first.words, first.attrs["href"]) == ("Start here", START), url


@pytest.mark.parametrize(
    ("metric", "lower"),
    [
        ("auc", False),
        ("accuracy", False),
        ("val_loss", True),
        ("RMSE", True),
        ("test/mae", True),
        ("error_rate", True),
    ],
)
def test_which_metrics_are_better_lower(metric: str, lower: bool) -> None:
    assert lower_is_better(metric) is lower


def test_a_lower_is_better_metric_ranks_its_smallest_values_first(
    people: Callable[..., Person], portal: SignIn
) -> None:
    """On SQLite and PostgreSQL: the order is the database's."""
    alice = people("alice")
    ok(alice.client.post("/api/v1/projects", json={"slug": "prices", "name": "Prices"}))
    for name, rmse in (("big", 3.0), ("small", 1.5), ("middle", 2.0), ("nan", "NaN")):
        run_id = new_run(alice, "prices", name=name)
        post_metrics(alice, run_id, [{"key": "rmse", "value": rmse}])
        finish(alice, run_id)
    odd = new_run(alice, "prices", name="auc-only")
    post_metrics(alice, odd, [{"key": "auc", "value": 0.5}])
    finish(alice, odd)
    running = new_run(alice, "prices", name="still-going")
    post_metrics(alice, running, [{"key": "rmse", "value": 0.1}])

    page = get(portal("alice"), "/projects/prices/start")
    assert page.status == 200
    assert "rmse" in page.testid("main-metric").words
    assert "lower is better" in page.testid("main-metric").words
    assert "All 6 runs" in page.testid("main-metric").words
    best = rows_of(page.testid("best-runs"))
    assert [r.find("a").words for r in best] == ["small", "middle", "big"]


@SQLITE
def test_an_empty_project_says_what_to_do_in_every_section(
    people: Callable[..., Person], portal: SignIn
) -> None:
    alice = people("alice")
    ok(alice.client.post("/api/v1/projects", json={"slug": "empty", "name": "Empty"}))
    client = portal("alice")
    page = get(client, "/projects/empty/start")
    assert page.status == 200
    assert [h.words for h in page.find_all("h2")] == HEADINGS
    assert "Ask an owner (alice)" in page.testid("no-description").words
    assert "README.md" in page.testid("no-readme").words
    assert "modelyard init" in page.testid("no-code").words
    assert page.testid("clone-commands").text.startswith("modelyard clone empty")
    assert "modelyard run" in page.testid("no-live-code").words
    assert page.testid("no-datasets").links() == {"data catalog": "/data"}
    assert "modelyard run train.py --project empty" in page.testid("no-runs").words
    assert "run.log_model" in page.testid("no-models").words
    assert "modelyard deploy MODEL@champion" in page.testid("no-endpoints").words
    steps = section(page, "next-steps")
    assert steps.links()["catalog"] == "/data"
    assert 'modelyard.dataset("NAME").to_pandas()' in steps.words

    # runs, but none finished with a metric: say so, not "no runs"
    new_run(alice, "empty", name="first-try")
    page = get(client, "/projects/empty/start")
    assert "1 run, but none finished with a metric yet" in page.testid("no-best-runs").words
    assert page.find_all(data_testid="no-runs") == []


@SQLITE
def test_code_only_on_another_branch_is_not_called_an_empty_repository(
    app: FastAPI, people: Callable[..., Person], portal: SignIn
) -> None:
    alice = people("alice")
    ok(alice.client.post("/api/v1/projects", json={"slug": "wip", "name": "Work in progress"}))
    bare = app.state.repos.ensure("wip")
    scratch = bare.parent / ".scratch-wip"
    git(bare.parent, "clone", "-q", str(bare), str(scratch))
    (scratch / "train.py").write_text("print('hi')\n")
    git(scratch, "add", "-A")
    git(scratch, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-qm", "WIP")
    git(scratch, "push", "-q", "origin", "HEAD:dev")
    page = get(portal("alice"), "/projects/wip/start")
    assert page.status == 200
    shown = page.testid("no-code").words
    assert "Nothing is on main yet; branches: dev" in shown and "empty" not in shown


# --- who may see it -----------------------------------------------------------------------------


@SQLITE
def test_members_and_admins_see_it_and_others_get_what_other_project_pages_give(
    yard: Yard, portal: SignIn, anonymous: TestClient
) -> None:
    for name in ("victor", "erin", "alice", "root"):  # viewer, editor, owner, admin
        assert get(portal(name), START).status == 200, name
    for name in ("carol", "bob"):  # not members of churn
        client = portal(name)
        assert client.get(START).status_code == client.get("/projects/churn").status_code == 404
        assert "Best runs" not in client.get(START).text
    assert portal("carol").get("/projects/nothing/start").status_code == 404
    away = anonymous.get(START, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == f"/login?next={START}"


@SQLITE
def test_the_about_page_invites_members_who_joined_in_the_last_two_weeks(
    yard: Yard, portal: SignIn, db: Session
) -> None:
    victor = portal("victor")
    banner = get(victor, "/projects/churn").testid("start-banner")
    assert "New to this project?" in banner.words
    assert banner.links() == {"Start here": START}

    victor_id = db.scalar(select(UserRow.id).where(UserRow.username == "victor"))
    project_id = db.scalar(select(ProjectRow.id).where(ProjectRow.slug == "churn"))
    db.execute(
        update(MembershipRow)
        .where(MembershipRow.user_id == victor_id, MembershipRow.project_id == project_id)
        .values(created_at=utcnow() - timedelta(days=15))
    )
    db.commit()
    assert get(victor, "/projects/churn").find_all(data_testid="start-banner") == []
    # an admin who is no member did not join; the tab still leads there
    page = get(portal("root"), "/projects/churn")
    assert page.find_all(data_testid="start-banner") == []
    assert page.find("nav", aria_label="Project").links()["Start here"] == START


# --- text users wrote ---------------------------------------------------------------------------


@SQLITE
def test_text_users_wrote_is_shown_as_text_never_run(yard: Yard, portal: SignIn) -> None:
    page = get(portal("erin"), START)
    assert page.status == 200
    assert_only_our_scripts(page)
    assert XSS_DESCRIPTION in section(page, "purpose").text  # the markdown escaped it
    assert XSS_COMMIT in page.testid("head-commit").words
    assert XSS_RUN in rows_of(page.testid("best-runs"))[0].words
    assert XSS_ENDPOINT in section(page, "endpoints").words
    for payload in (XSS_DESCRIPTION, XSS_RUN, XSS_COMMIT, XSS_ENDPOINT):
        assert payload not in page.raw  # only its escaped form is in the HTML
    assert "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;" in page.raw
