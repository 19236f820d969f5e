"""The runs and registry pages in a real browser: sorting by a metric, comparing two runs on
overlaid Plotly curves, a run's charts and followed output, and moving a model's alias."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from modelyard.experiments.tables import RunLogRow
from tests.conftest import LiveServer, Person
from tests.web.conftest import ARTIFACTS, Tab
from tests.web.test_browser_code import sign_in
from tests.web.test_data_pages import make_source
from tests.web.test_run_pages import XSS, Lab, create_lab, new_run, post_metrics

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def lab(
    live_server: LiveServer, people: Callable[..., Person], admin: Person, tmp_path: Path
) -> Lab:
    return create_lab(people, admin, make_source(tmp_path / "source.db"))


def screenshot(tab: Tab, request: pytest.FixtureRequest, name: str) -> None:
    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sort_by_a_metric_then_compare_two_runs(
    tab: Tab, lab: Lab, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/projects/churn/runs")
    sign_in(page, "alice")
    expect(page).to_have_url(f"{url}/projects/churn/runs")
    rows = page.get_by_test_id("runs").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("forest")

    page.get_by_test_id("runs").get_by_role("link", name="auc").click()
    expect(page).to_have_url(f"{url}/projects/churn/runs?order=metrics.auc+desc")
    expect(rows.locator("td.runname a")).to_have_text([XSS, "forest", "baseline"])

    compare = page.get_by_role("button", name=re.compile("^Compare"))
    expect(compare).to_be_disabled()
    page.get_by_label(f"Select {XSS}").check()
    page.get_by_label("Select baseline").check()
    expect(compare).to_have_text("Compare 2 runs")
    screenshot(tab, request, "runs-table")
    compare.click()
    ids = f"{lab.runs['xss']},{lab.runs['baseline']}"
    expect(page).to_have_url(f"{url}/projects/churn/runs/compare?ids={ids}")

    differing = page.get_by_test_id("compare-params").locator("tr.differs th code")
    expect(differing).to_have_text(["C"])
    loss = page.get_by_test_id("chart-loss")
    expect(loss).to_have_attribute("data-drawn", "true")
    expect(loss).to_have_attribute("data-traces", "2")
    expect(loss.locator(".scatterlayer .trace")).to_have_count(2)
    # The legend names each run as typed: markup in a name is text, not an element.
    expect(loss.locator(".legendtext")).to_have_text(
        [f"{XSS} #{lab.runs['xss']}", f"baseline #{lab.runs['baseline']}"]
    )
    expect(page.get_by_test_id("chart-auc")).to_have_attribute("data-traces", "2")
    screenshot(tab, request, "runs-compare")
    assert tab.errors == []


def test_a_running_run_shows_its_charts_and_follows_its_output(
    tab: Tab,
    lab: Lab,
    live_server: LiveServer,
    db: Session,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    alice = lab.team["alice"]
    run_id = new_run(alice, name="server run", params={"epochs": 3})
    post_metrics(
        alice, run_id, [{"key": "loss", "value": 1 / (s + 1), "step": s} for s in range(3)]
    )
    output = tmp_path / "output.log"
    output.write_text("epoch 1\n")
    db.add(RunLogRow(run_id=run_id, path=str(output)))
    db.commit()

    page, url = tab.page, live_server.url
    page.goto(f"/login?next=/runs/{run_id}")
    sign_in(page, "alice")
    expect(page).to_have_url(f"{url}/runs/{run_id}")
    log = page.get_by_test_id("run-log")
    expect(log).to_have_text("epoch 1\n")
    with output.open("a") as handle:
        handle.write("epoch 2\n")
    expect(log).to_have_text("epoch 1\nepoch 2\n")  # appended while the run goes on
    chart = page.get_by_test_id("chart-loss")
    expect(chart).to_have_attribute("data-traces", "1")
    expect(chart.locator(".scatterlayer .trace")).to_have_count(1)

    ended = alice.client.patch(f"/api/v1/runs/{run_id}", json={"status": "finished"})
    assert ended.status_code == 200, ended.text
    expect(page.get_by_test_id("log-state")).to_have_text("finished · complete")
    screenshot(tab, request, "run-page")
    assert tab.errors == []


def test_moving_an_alias_updates_the_model_page(
    tab: Tab, lab: Lab, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/projects/churn")
    sign_in(page, "erin")
    expect(page.get_by_test_id("recent-runs").locator("tbody tr")).to_have_count(3)
    screenshot(tab, request, "project-page")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Models").click()
    expect(page).to_have_url(f"{url}/projects/churn/models")
    page.get_by_test_id("models").get_by_role("link", name="churn-clf").click()
    expect(page).to_have_url(f"{url}/projects/churn/models/churn-clf")
    expect(page.get_by_test_id("versions").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("aliases-of-1")).to_have_text("challenger")

    form = page.get_by_test_id("alias-form")
    form.get_by_label("Alias").fill("challenger")
    form.get_by_label("Version").select_option("2")
    form.get_by_role("button", name="Move alias").click()
    expect(page).to_have_url(f"{url}/projects/churn/models/churn-clf?done=alias-moved#aliases")
    expect(page.get_by_role("status")).to_contain_text("Alias moved")
    expect(page.get_by_test_id("aliases-of-2")).to_have_text("challenger champion")
    expect(page.get_by_test_id("aliases-of-1")).to_have_text("")
    newest = page.get_by_test_id("alias-history").locator("tbody tr").first
    expect(newest).to_contain_text("challenger")
    expect(newest).to_contain_text("v1 → v2")
    expect(newest).to_contain_text("erin")
    screenshot(tab, request, "model-page")
    assert tab.errors == []
