"""The runs and registry pages of the portal, rendered on the server: the runs table (sorting,
filtering, columns, pages, speed at 10,000 runs), runs compared side by side, a run's page with
its lineage, models with their aliases and history, who may see and change what, and text
users wrote escaped everywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from modelyard.accounts.tables import UserRow
from modelyard.db import utcnow
from modelyard.experiments.tables import LatestMetricRow, ParamRow, RunLogRow, RunRow
from modelyard.projects.tables import ProjectRow
from tests.conftest import Person
from tests.web.test_code_pages import Element, Page, get
from tests.web.test_data_pages import (
    assert_only_our_scripts,
    create_data_yard,
    csrf_of,
    make_source,
)

XSS = "<script>alert(1)</script>"
TAG_XSS = "<b onmouseover=alert(2)>bold</b>"
ERROR_XSS = "ValueError: <img src=x onerror=alert(3)> bad input"
COMMIT = "c0ffee" + "0" * 34
HEADER = "X-Modelyard-Version"
RUNS = "/projects/churn/runs"
MODEL = "/projects/churn/models/churn-clf"


@dataclass
class Lab:
    team: dict[str, Person]
    runs: dict[str, int]  # baseline, xss, forest


def new_run(person: Person, slug: str = "churn", **body: object) -> int:
    response = person.client.post(f"/api/v1/projects/{slug}/runs", json=body)
    assert response.status_code == 201, response.text
    run_id: int = response.json()["id"]
    return run_id


def post_metrics(person: Person, run_id: int, points: list[dict[str, object]]) -> None:
    response = person.client.post(f"/api/v1/runs/{run_id}/metrics", json={"metrics": points})
    assert response.status_code == 200, response.text


def register(person: Person, run_id: int, **meta: object) -> None:
    response = person.client.post(
        "/api/v1/projects/churn/models/churn-clf/versions",
        content=b"pickle",
        headers={HEADER: json.dumps({"flavor": "sklearn", "run_id": run_id, **meta})},
    )
    assert response.status_code == 201, response.text


def set_alias(person: Person, alias: str, version: int) -> None:
    response = person.client.put(f"/api/v1/{MODEL[1:]}/aliases/{alias}", json={"version": version})
    assert response.status_code == 200, response.text


def create_lab(people: Callable[..., Person], admin: Person, source: Path) -> Lab:
    """On the data yard (alice owns 'churn', granted dataset 'customers'; bob owns 'hr'; carol
    is in no project): victor views and erin edits 'churn'. alice ran three runs there, oldest
    first: 'baseline' (read 'customers', kept an artifact, at a dirty commit), one named like a
    script, and 'forest' (failed). 'churn-clf' v1 is baseline's model, v2 the second run's;
    champion went v1 -> v2, challenger is v1."""
    team = create_data_yard(people, admin, source).team
    alice = team["alice"]
    for name, role in (("victor", "viewer"), ("erin", "editor")):
        team[name] = people(name)
        added = alice.client.put(f"/api/v1/projects/churn/members/{name}", json={"role": role})
        assert added.status_code == 200, added.text
    runs = {
        "baseline": new_run(
            alice,
            name="baseline",
            params={"C": 0.1, "model": "lr", "seed": 42},
            tags={"stage": "dev"},
            commit=COMMIT,
            dirty=True,
        ),
        "xss": new_run(
            alice, name=XSS, params={"C": 1.0, "model": "lr", "seed": 42}, tags={"note": TAG_XSS}
        ),
        "forest": new_run(
            alice, name="forest", params={"C": 1.0, "model": "rf", "seed": 42, "n_trees": 100}
        ),
    }
    read = alice.client.get(
        "/api/v1/datasets/customers/data", headers={"X-Modelyard-Run": str(runs["baseline"])}
    )
    assert read.status_code == 200, read.text
    for key, auc in (("baseline", 0.71), ("xss", 0.83), ("forest", 0.78)):
        points: list[dict[str, object]] = [
            {"key": "loss", "value": round((1 - auc) * 2 / (step + 1), 4), "step": step}
            for step in range(5)
        ]
        post_metrics(alice, runs[key], [*points, {"key": "auc", "value": auc, "step": 4}])
    post_metrics(alice, runs["forest"], [{"key": "loss", "value": "NaN", "step": 5}])
    stored = alice.client.put(
        f"/api/v1/runs/{runs['baseline']}/artifacts/plots/roc curve.txt", content=b"roc points"
    )
    assert stored.status_code == 201, stored.text
    for key, body in (
        ("baseline", {"status": "finished"}),
        ("xss", {"status": "finished"}),
        ("forest", {"status": "failed", "error": ERROR_XSS}),
    ):
        ended = alice.client.patch(f"/api/v1/runs/{runs[key]}", json=body)
        assert ended.status_code == 200, ended.text
    register(alice, runs["baseline"], signature=[{"name": "age", "type": "number"}])
    register(alice, runs["xss"])
    set_alias(alice, "champion", 1)
    set_alias(alice, "challenger", 1)
    set_alias(alice, "champion", 2)
    return Lab(team, runs)


@pytest.fixture
def lab(people: Callable[..., Person], admin: Person, tmp_path: Path) -> Lab:
    return create_lab(people, admin, make_source(tmp_path / "source.db"))


def rows_of(table: Element) -> list[Element]:
    return table.find("tbody").find_all("tr")


def run_names(page: Page) -> list[str]:
    return [
        row.find("td", **{"class": "runname"}).find("a").words
        for row in rows_of(page.testid("runs"))
    ]


def cells(table: Element) -> list[list[str]]:
    return [[c.words for c in row.children if c.tag in ("th", "td")] for row in rows_of(table)]


def headers(page: Page) -> list[str]:
    row = page.testid("runs").find("thead").find_all("tr")[-1]
    return [th.words.rstrip(" ▲▼") for th in row.find_all("th")][1:]


def open_page(client: TestClient, url: str, **params: Any) -> Page:
    return Page(client.get(url, params=params or None))


# --- the runs table --------------------------------------------------------------------------


def test_the_runs_table_sorts_by_any_column_and_filters(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    page = get(alice, RUNS)
    assert page.status == 200
    assert page.find("nav", aria_label="Project").find(aria_current="page").words == "Runs"
    assert run_names(page) == ["forest", XSS, "baseline"]  # newest first
    assert headers(page) == [
        *("Name", "Status", "User", "Started", "Duration"),
        *("C", "model", "n_trees", "seed", "auc", "loss"),
    ]
    first = rows_of(page.testid("runs"))[0]
    assert first.find(data_testid="status").words == "failed"
    assert first.find("td", data_metric="loss").words == "NaN"
    assert "3 runs" in page.testid("runs-count").words

    # A click on a metric's header sorts by it, largest first; a second click turns it around.
    auc = page.find("a", data_sort="metrics.auc")
    assert auc.attrs["href"] == f"{RUNS}?order=metrics.auc+desc"
    by_auc = get(alice, auc.attrs["href"])
    assert run_names(by_auc) == [XSS, "forest", "baseline"]
    header = by_auc.find("th", title="metrics.auc")
    assert header.attrs["aria-sort"] == "descending"
    assert run_names(get(alice, header.find("a").attrs["href"])) == ["baseline", "forest", XSS]
    # Runs without a value (NaN) go last either way; params and names sort as text.
    assert run_names(get(alice, RUNS, order="metrics.loss asc")) == [XSS, "baseline", "forest"]
    assert run_names(get(alice, RUNS, order="name asc")) == [XSS, "baseline", "forest"]

    lr = get(alice, RUNS, filter='params.model = "lr"', order="metrics.auc desc")
    assert run_names(lr) == [XSS, "baseline"]
    assert "2 runs matching the filter" in lr.testid("runs-count").words
    # Sorting a filtered table keeps the filter.
    assert "filter=params.model" in lr.find("a", data_sort="name").attrs["href"]
    assert run_names(get(alice, RUNS, filter="metrics.auc > 0.75 and status = finished")) == [XSS]
    assert run_names(get(alice, RUNS, filter="user = alice and name ~ fore")) == ["forest"]
    missed = get(alice, RUNS, filter="name ~ nothing-like-this")
    assert missed.status == 200
    assert missed.testid("no-match").links()["Show every run"] == RUNS


def test_chosen_columns_stay_in_the_url(lab: Lab, portal: Callable[[str], TestClient]) -> None:
    alice = portal("alice")
    page = open_page(alice, RUNS, col=["metrics.auc", "params.model"])
    assert headers(page)[5:] == ["model", "auc"]
    # Sort links, the pager and the filter form all carry the choice on.
    assert page.find("a", data_sort="metrics.auc").attrs["href"] == (
        f"{RUNS}?order=metrics.auc+desc&col=metrics.auc&col=params.model"
    )
    kept = [
        (i.attrs["name"], i.attrs["value"])
        for i in page.find("form", aria_label="Runs").find_all("input", type="hidden")
    ]
    assert kept == [("col", "metrics.auc"), ("col", "params.model")]
    chooser = page.testid("column-chooser")
    ticked = [
        i.attrs["value"] for i in chooser.find_all("input", type="checkbox") if "checked" in i.attrs
    ]
    assert ticked == ["params.model", "metrics.auc"]
    # An empty choice (every box unticked) shows the run columns only.
    assert headers(open_page(alice, RUNS, col=[""]))[5:] == []


def test_a_bad_filter_or_order_is_a_message_not_a_crash(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    page = get(alice, RUNS, filter="bogus")
    assert page.status == 422
    assert "cannot read 'bogus'" in page.testid("error").words
    assert page.find("input", name="filter").attrs["value"] == "bogus"
    assert page.testid("no-match").links()["Show every run"] == RUNS
    text = get(alice, RUNS, filter="metrics.auc ~ high")
    assert text.status == 422 and "metrics compare with" in text.testid("error").words
    order = get(alice, RUNS, order="duration desc")
    assert order.status == 422 and "cannot sort by 'duration'" in order.testid("error").words


def test_ten_thousand_runs_page_quickly(
    people: Callable[..., Person], portal: Callable[[str], TestClient], db: Session
) -> None:
    owner = people("olivia")
    owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    project_id = db.scalar(select(ProjectRow.id).where(ProjectRow.slug == "churn"))
    user_id = db.scalar(select(UserRow.id).where(UserRow.username == "olivia"))
    start, total = utcnow() - timedelta(days=30), 10_000
    db.execute(
        insert(RunRow),
        [
            {
                "project_id": project_id,
                "name": f"run-{i:05d}",
                "status": "finished",
                "user_id": user_id,
                "started_at": start + timedelta(minutes=i),
                "ended_at": start + timedelta(minutes=i, seconds=30),
            }
            for i in range(total)
        ],
    )
    ids = db.scalars(select(RunRow.id).order_by(RunRow.id)).all()
    db.execute(
        insert(ParamRow),
        [{"run_id": i, "key": k, "value": f"{k}-{i % 7}"} for i in ids for k in ("model", "C")],
    )
    db.execute(
        insert(LatestMetricRow),
        [
            {"run_id": i, "key": k, "value": (i * 7919 % 1000) / 1000, "step": 9, "timestamp": 0}
            for i in ids
            for k in ("auc", "loss")
        ],
    )
    db.commit()
    if db.get_bind().dialect.name == "postgresql":
        # Autovacuum analyzes tables this size within a minute; without statistics (fresh or
        # truncated tables) PostgreSQL may join params by scanning them once per run.
        db.execute(text("ANALYZE runs, run_params, run_latest_metrics"))
        db.commit()
    olivia = portal("olivia")

    def seconds(url: str, **params: str) -> float:
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            assert olivia.get(url, params=params).status_code == 200
            best = min(best, time.perf_counter() - began)
        return best

    page = get(olivia, RUNS)
    assert len(rows_of(page.testid("runs"))) == 50
    assert "1\u201350 of 10,000 runs" in page.testid("runs-count").words
    assert run_names(page)[0] == "run-09999"
    pager = page.testid("pager")
    assert pager.links()["Next"] == f"{RUNS}?page=2"
    assert "page 1 of 200" in pager.words
    last = get(olivia, RUNS, page="200")
    assert run_names(last)[-1] == "run-00000"
    assert run_names(get(olivia, RUNS, page="999")) == run_names(last)  # past the end: the last
    top = get(olivia, RUNS, order="metrics.auc desc")
    assert top.find("td", data_metric="auc").words == "0.999"

    for params in (
        {},
        {"order": "metrics.auc desc"},
        {"order": "params.model asc", "page": "120"},
        {"filter": 'metrics.auc > 0.5 and params.model = "model-3"'},
    ):
        assert seconds(RUNS, **params) < 0.5, params


# --- compare ---------------------------------------------------------------------------------


def test_compare_puts_params_metrics_and_curves_side_by_side(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    ids = [lab.runs[k] for k in ("baseline", "xss", "forest")]
    page = get(alice, f"{RUNS}/compare", ids=",".join(map(str, ids)))
    assert page.status == 200
    assert page.testid("compare-runs").find("thead").links() == {
        "baseline": f"/runs/{ids[0]}",
        XSS: f"/runs/{ids[1]}",
        "forest": f"/runs/{ids[2]}",
    }
    params = {
        row.find("th").find("code").words: row for row in rows_of(page.testid("compare-params"))
    }
    assert list(params) == ["C", "model", "n_trees", "seed"]
    assert {k for k, row in params.items() if row.attrs.get("data-differs")} == {
        "C",
        "model",
        "n_trees",
    }
    assert [td.words for td in params["C"].find_all("td")] == ["0.1", "1.0", "1.0"]
    assert [td.words for td in params["n_trees"].find_all("td")] == ["—", "—", "100"]
    metrics = {row.find("code").words: row for row in rows_of(page.testid("compare-metrics"))}
    assert [td.words for td in metrics["auc"].find_all("td")] == ["0.71", "0.83", "0.78"]
    assert [td.words for td in metrics["loss"].find_all("td")] == ["0.116", "0.068", "NaN"]
    # One chart per metric key, drawn from every run's history (fetched by run_charts.js).
    config = json.loads(page.find("script", id="metric-charts").text)
    assert [c["key"] for c in config["charts"]] == ["auc", "loss"]
    assert [(r["id"], r["name"]) for r in config["runs"]] == [
        (ids[0], "baseline"),
        (ids[1], XSS),
        (ids[2], "forest"),
    ]
    assert config["live"] is False
    assert page.find_all("div", data_testid="chart-loss")
    assert page.find("script", src="/static/run_charts.js")

    only = get(alice, f"{RUNS}/compare", ids=",".join(map(str, ids)), diff="true")
    assert [r.find("code").words for r in rows_of(only.testid("compare-params"))] == [
        "C",
        "model",
        "n_trees",
    ]
    # The table's form without JavaScript sends id=..&id=..: the same view.
    plain = Page(alice.get(f"{RUNS}/compare", params={"id": [str(i) for i in ids[:2]]}))
    assert len(plain.testid("compare-runs").find("thead").find_all("a")) == 2
    assert get(alice, f"{RUNS}/compare", ids="1,x").status == 422
    assert get(alice, f"{RUNS}/compare", ids=str(ids[0])).testid("pick-more")


def test_runs_of_other_projects_cannot_be_compared(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    hr_run = new_run(lab.team["bob"], slug="hr", name="payroll model")
    page = get(portal("alice"), f"{RUNS}/compare", ids=f"{lab.runs['baseline']},{hr_run}")
    assert page.status == 404 and "payroll" not in page.raw


# --- a run's page ----------------------------------------------------------------------------


def test_the_run_page_shows_facts_params_metrics_artifacts_and_lineage(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice, run_id = portal("alice"), lab.runs["baseline"]
    page = get(alice, f"/runs/{run_id}")
    assert page.status == 200
    assert page.testid("run-name").words == "baseline"
    facts = page.testid("facts")
    assert "finished" in facts.find(data_testid="status").words
    assert "alice" in facts.words and " s" in facts.find(data_testid="duration").words
    commit = facts.find("a", data_testid="commit")
    assert commit.attrs["href"] == f"/projects/churn/code/commit/{COMMIT}"
    assert commit.words == COMMIT[:8] and "dirty" in facts.words
    assert cells(page.testid("params")) == [["C", "0.1"], ["model", "lr"], ["seed", "42"]]
    assert cells(page.testid("tags")) == [["stage", "dev"]]
    assert cells(page.testid("metrics")) == [["auc", "0.71", "4", "1"], ["loss", "0.116", "4", "5"]]
    config = json.loads(page.find("script", id="metric-charts").text)
    assert config["runs"] == [{"id": run_id, "name": "baseline", "keys": ["auc", "loss"]}]
    artifact = page.testid("artifacts").find("a")
    assert artifact.words == "plots/roc curve.txt"
    assert artifact.attrs["href"] == f"/api/v1/runs/{run_id}/artifacts/plots/roc%20curve.txt"
    assert alice.get(artifact.attrs["href"]).content == b"roc points"
    lineage = page.testid("lineage")
    assert lineage.find(data_testid="inputs").links() == {"customers": "/data/customers"}
    assert "30 rows" in lineage.find(data_testid="inputs").words
    assert lineage.find(data_testid="outputs").links() == {"churn-clf v1": f"{MODEL}?version=1"}
    assert page.find_all(data_testid="run-output") == []  # it ran elsewhere: no output kept
    assert page.find("nav", aria_label="Breadcrumb").links()["runs"] == RUNS


def test_a_failed_run_shows_its_error_and_a_server_run_its_output(
    lab: Lab, portal: Callable[[str], TestClient], db: Session, tmp_path: Path
) -> None:
    alice = portal("alice")
    failed = get(alice, f"/runs/{lab.runs['forest']}")
    assert failed.testid("run-error").find("pre").words == ERROR_XSS
    assert_only_our_scripts(failed)
    output = tmp_path / "output.log"
    output.write_text("epoch 1\n")
    db.add(RunLogRow(run_id=lab.runs["xss"], path=str(output)))
    db.commit()
    page = get(alice, f"/runs/{lab.runs['xss']}")
    assert page.testid("run-log").attrs["data-run-id"] == str(lab.runs["xss"])
    assert page.find("script", src="/static/run_logs.js")
    assert page.find_all(data_testid="run-error") == []


# --- models ----------------------------------------------------------------------------------


def test_the_models_list_and_a_model_page(lab: Lab, portal: Callable[[str], TestClient]) -> None:
    alice = portal("alice")
    listing = get(alice, "/projects/churn/models")
    assert listing.find("nav", aria_label="Project").find(aria_current="page").words == "Models"
    row = rows_of(listing.testid("models"))[0]
    assert row.links() == {"churn-clf": MODEL}
    assert "v2" in row.words and "champion → v2" in row.words and "challenger → v1" in row.words

    page = get(alice, MODEL)
    assert page.status == 200 and page.testid("model-name").words == "churn-clf"
    versions = rows_of(page.testid("versions"))
    assert [v.attrs["data-version"] for v in versions] == ["2", "1"]
    assert page.testid("aliases-of-2").words == "champion"
    assert page.testid("aliases-of-1").words == "challenger"
    v1 = versions[1].links()
    assert v1["baseline"] == f"/runs/{lab.runs['baseline']}"
    assert v1[COMMIT[:8]] == f"/projects/churn/code/commit/{COMMIT}"
    assert v1["customers"] == "/data/customers"
    assert "0.71" in versions[1].words and "0.83" in versions[0].words  # key metrics
    history = [r.find_all("td") for r in rows_of(page.testid("alias-history"))]
    assert [(h[0].words, h[1].words, h[2].words) for h in history] == [
        ("champion", "v1 → v2", "alice"),
        ("challenger", "set to v1", "alice"),
        ("champion", "set to v1", "alice"),
    ]
    assert page.testid("no-signature")  # the latest version has none
    first = get(alice, MODEL, version="1")
    assert cells(first.testid("signature")) == [["age", "number"]]
    assert get(alice, MODEL, version="9").status == 404
    assert "Not deployed yet." in page.testid("no-deployments").words
    assert page.testid("alias-form")
    assert get(portal("victor"), MODEL).find_all(data_testid="alias-form") == []


def test_editors_move_an_alias_with_the_form_and_viewers_cannot(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    erin = portal("erin")
    token = csrf_of(erin.get(MODEL).text)
    moved = erin.post(
        f"{MODEL}/aliases", data={"alias": "challenger", "version": "2", "csrf_token": token}
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"{MODEL}?done=alias-moved#aliases"
    page = get(erin, moved.headers["location"])
    assert "Alias moved" in page.find("p", role="status").words
    assert page.testid("aliases-of-2").words == "challenger champion"
    newest = rows_of(page.testid("alias-history"))[0].find_all("td")
    assert [c.words for c in newest[:3]] == ["challenger", "v1 → v2", "erin"]
    api = lab.team["alice"].client.get(f"/api/v1/{MODEL[1:]}").json()
    assert api["aliases"] == {"challenger": 2, "champion": 2}

    bad = erin.post(
        f"{MODEL}/aliases", data={"alias": "Not OK", "version": "1", "csrf_token": token}
    )
    assert bad.status_code == 422 and "alias" in Page(bad).testid("error").words
    no_csrf = erin.post(f"{MODEL}/aliases", data={"alias": "champion", "version": "1"})
    assert no_csrf.status_code == 403

    victor = portal("victor")
    refused = victor.post(
        f"{MODEL}/aliases",
        data={"alias": "champion", "version": "1", "csrf_token": csrf_of(victor.get(MODEL).text)},
    )
    assert refused.status_code == 403
    assert "viewer" in Page(refused).testid("error").words
    assert lab.team["alice"].client.get(f"/api/v1/{MODEL[1:]}").json()["aliases"]["champion"] == 2


# --- who may see what, and escaping ----------------------------------------------------------


def test_non_members_get_404_on_every_page(lab: Lab, portal: Callable[[str], TestClient]) -> None:
    bob = portal("bob")  # owns 'hr', is no member of 'churn'
    ids = f"{lab.runs['baseline']},{lab.runs['xss']}"
    for url in (
        RUNS,
        f"{RUNS}/compare?ids={ids}",
        f"/runs/{lab.runs['baseline']}",
        "/projects/churn/models",
        MODEL,
        "/projects/ghost/runs",
        "/runs/999999",
    ):
        response = bob.get(url)
        assert response.status_code == 404, url
        assert "baseline" not in response.text and "churn-clf" not in response.text, url
    token = csrf_of(bob.get("/").text)
    posted = bob.post(f"{MODEL}/aliases", data={"alias": "x", "version": "1", "csrf_token": token})
    assert posted.status_code == 404
    assert "baseline" not in get(bob, "/").raw  # nor on the overview


def test_text_users_wrote_is_escaped_on_every_page(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    ids = ",".join(str(i) for i in lab.runs.values())
    for url in (
        RUNS,
        f"{RUNS}/compare?ids={ids}",
        f"/runs/{lab.runs['xss']}",
        MODEL,
        "/projects/churn",
        "/",
    ):
        page = get(alice, url)
        assert page.status == 200, url
        assert XSS in page.words, url  # shown as typed
        assert_only_our_scripts(page)
    tags = get(alice, f"/runs/{lab.runs['xss']}").testid("tags")
    assert cells(tags) == [["note", TAG_XSS]] and tags.find_all("b") == []


# --- the project page and the overview -------------------------------------------------------


def test_the_project_page_and_overview_show_recent_runs_and_models(
    lab: Lab, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    project = get(alice, "/projects/churn")
    tabs = project.find("nav", aria_label="Project").links()
    assert tabs["Runs"] == RUNS and tabs["Models"] == "/projects/churn/models"
    recent = rows_of(project.testid("recent-runs"))
    assert [r.find("a").words for r in recent] == ["forest", XSS, "baseline"]
    assert recent[0].find("a").attrs["href"] == f"/runs/{lab.runs['forest']}"
    assert "failed" in recent[0].words and "auc 0.78" in recent[0].words
    models = rows_of(project.testid("recent-models"))
    assert [m.words for m in models] == ["churn-clf v2 challenger → v1 champion → v2"]
    assert "3 runs" in project.words and "1 models" in project.words

    overview = get(alice, "/")
    recent = rows_of(overview.testid("recent-runs"))
    assert "forest in churn" in recent[0].words
    assert overview.testid("recent-models").links()["churn-clf"] == MODEL
    assert "3 runs" in overview.testid("projects").words


def test_empty_pages_say_what_to_do_next(
    people: Callable[..., Person], portal: Callable[[str], TestClient]
) -> None:
    people("dora").client.post("/api/v1/projects", json={"slug": "empty", "name": "Empty"})
    dora = portal("dora")
    runs = get(dora, "/projects/empty/runs")
    assert runs.status == 200
    assert 'modelyard.start_run(project="empty", name="baseline")' in runs.testid("no-runs").words
    assert runs.find_all(data_testid="column-chooser") == []
    models = get(dora, "/projects/empty/models").testid("no-models")
    assert "run.log_model(model" in models.words
    project = get(dora, "/projects/empty")
    assert 'modelyard.start_run(project="empty")' in project.testid("no-recent-runs").words
    assert project.testid("no-recent-models")
