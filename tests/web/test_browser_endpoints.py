"""Serving in a real browser, with real replica processes: deploy a model version from its
page to a new endpoint, add a second version as another variant, split traffic 50/50 on the
endpoint page, send requests with a key made there, watch the live charts fill, stop it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from modelyard.config import Settings
from tests.conftest import LiveServer, Person
from tests.serving.fleet import constant_model, record, register
from tests.web.conftest import Tab, serve_at_base_url, serving_settings
from tests.web.test_browser_code import sign_in
from tests.web.test_browser_runs import screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # Real processes: once is enough (the pages' SQL runs on both databases elsewhere).
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
MODEL = "/projects/churn/models/churn-clf"
ENDPOINT = "/projects/churn/endpoints/churn"
STARTUP_MS = 30_000  # a replica imports scikit-learn and loads the model
LIVE_MS = 15_000  # replicas flush telemetry each second, the page polls every 2 s


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return serving_settings(tmp_path / "home", database_url)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    yield from serve_at_base_url(app)


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Person:
    """alice owns 'churn' with churn-clf v1 (always answers 0) and v2 (always answers 1)."""
    owner = people("alice")
    made = owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    assert made.status_code == 201, made.text
    assert register(owner, constant_model(0), name="churn-clf") == 1
    assert register(owner, constant_model(1), name="churn-clf") == 2
    return owner


def test_deploy_split_traffic_watch_the_charts_and_stop(
    tab: Tab, alice: Person, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page, url = tab.page, live_server.url
    page.goto(f"/login?next={MODEL}?version=1")
    sign_in(page, "alice")
    expect(page.get_by_test_id("no-deployments")).to_contain_text("Not deployed yet")

    # v1 to a new endpoint: created, started, and the page follows it until it serves
    deploy = page.get_by_test_id("deploy-form")
    expect(deploy.get_by_label("What to serve")).to_have_value("1")
    deploy.get_by_label("New endpoint").fill("churn")
    deploy.get_by_role("button", name="Deploy").click()
    expect(page).to_have_url(f"{url}{ENDPOINT}?done=deployed")
    status = page.get_by_test_id("endpoint-status")
    expect(status).to_have_text("running", timeout=STARTUP_MS)
    expect(page.get_by_test_id("replicas").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("replicas")).to_contain_text("ready")
    serve_url = f"{url}/serve/churn/churn/predict"
    expect(page.get_by_test_id("url")).to_have_text(serve_url)
    expect(page.get_by_test_id("charts-empty")).to_be_visible()
    expect(page.locator('[data-summary="requests"]')).to_have_text("0")

    # v2 joins from its model page as a second variant, without traffic yet
    page.goto(f"{MODEL}?version=2")
    expect(page.get_by_test_id("deployed-1")).to_have_text("churn · 100 %")
    deploy.get_by_label("To the endpoint").select_option("churn")
    deploy.get_by_role("button", name="Deploy").click()
    expect(page).to_have_url(f"{url}{ENDPOINT}?done=variant-added")
    variants = page.get_by_test_id("variants").locator("tbody tr")
    expect(variants).to_have_count(2)
    expect(variants.get_by_test_id("share")).to_have_text(["100.0 %", "0.0 %"])

    # 50/50 in one form
    page.get_by_label("Weight of v1").fill("50")
    page.get_by_label("Weight of v2").fill("50")
    page.get_by_role("button", name="Save split").click()
    expect(page).to_have_url(f"{url}{ENDPOINT}?done=traffic-set")
    expect(page.get_by_role("status")).to_contain_text("Traffic split saved")
    expect(variants.get_by_test_id("share")).to_have_text(["50.0 %", "50.0 %"])

    # a key, shown once
    keys = page.locator("#keys")
    keys.get_by_label("Name").fill("load test")
    keys.get_by_role("button", name="Create key").click()
    token = page.get_by_test_id("new-key").inner_text().strip()
    assert token.startswith("mye_")

    # traffic through the control plane's /serve URL: both variants answer
    seen: Counter[str] = Counter()
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for i in range(300):
            answer = client.post(serve_url, json={"inputs": record(i)})
            assert answer.status_code == 200, answer.text
            seen[answer.json()["variant"]] += 1
    assert set(seen) == {"v1", "v2"}, seen

    # the charts and the summary fill by themselves (telemetry each second, a poll every 2 s)
    requests = page.get_by_test_id("chart-requests")
    expect(requests).to_have_attribute("data-points", re.compile(r"^[1-9][0-9]*$"), timeout=LIVE_MS)
    expect(requests).to_have_attribute("data-traces", "2")  # one band per live variant
    expect(requests.locator(".scatterlayer .trace")).to_have_count(2)
    expect(requests.locator(".legendtext")).to_have_text(["v1", "v2"])
    expect(page.get_by_test_id("chart-latency")).to_have_attribute(
        "data-points", re.compile(r"^[1-9][0-9]*$")
    )
    expect(page.get_by_test_id("chart-replicas")).to_have_attribute(
        "data-points", re.compile(r"^[1-9][0-9]*$")
    )
    expect(page.get_by_test_id("charts-empty")).to_be_hidden()
    expect(page.locator('[data-summary="requests"]')).to_have_text("300", timeout=LIVE_MS)
    expect(page.get_by_test_id("events")).to_contain_text("listening on port")
    screenshot(tab, request, "endpoint-page")

    # the project page and the model page say where it serves and how busy it is
    page.get_by_role("link", name="churn", exact=True).first.click()
    expect(page).to_have_url(f"{url}/projects/churn")
    line = page.get_by_test_id("recent-endpoints").locator("tbody tr")
    expect(line.get_by_test_id("endpoint-status")).to_have_text("running")
    expect(line.get_by_test_id("endpoint-rps")).to_have_text("5.0 req/s")  # 300 in a minute
    expect(line).to_contain_text("v1 50 %")
    screenshot(tab, request, "project-endpoints")
    page.get_by_role("link", name="All endpoints").click()
    expect(page).to_have_url(f"{url}/projects/churn/endpoints")
    row = page.get_by_test_id("endpoints").locator("tbody tr")
    expect(row.get_by_test_id("replicas")).to_contain_text("1/1")
    expect(row.get_by_test_id("endpoint-rps")).to_have_text("5.0")
    screenshot(tab, request, "endpoints-tab")
    page.goto(MODEL)
    expect(page.get_by_test_id("deployed-1")).to_have_text("churn · 50 %")
    expect(page.get_by_test_id("deployed-2")).to_have_text("churn · 50 %")
    screenshot(tab, request, "model-deployments")
    page.get_by_test_id("deployed-2").get_by_role("link").click()
    expect(page).to_have_url(f"{url}{ENDPOINT}")

    # stop: the page says so and the URL answers 503
    page.get_by_test_id("stop").click()
    expect(page).to_have_url(f"{url}{ENDPOINT}?done=stopped")
    expect(status).to_have_text("stopped")
    expect(page.get_by_test_id("no-replicas")).to_contain_text("Stopped")
    newest = page.get_by_test_id("events").locator("tbody tr").first
    expect(newest).to_contain_text("endpoint stopped", timeout=LIVE_MS)  # as it happens
    stopped = httpx.post(
        serve_url, json={"inputs": record()}, headers={"Authorization": f"Bearer {token}"}
    )
    assert stopped.status_code == 503
    assert "stopped" in stopped.json()["error"]["message"]
    assert tab.errors == []
