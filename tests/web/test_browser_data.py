"""The data pages in a real browser: catalog search, a dataset's page with Plotly charts drawn
under the portal's CSP, snapshots, and an admin setting up a connection."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer, Person
from tests.web.conftest import ARTIFACTS, Tab
from tests.web.test_browser_code import sign_in
from tests.web.test_data_pages import CELL, Yard, create_data_yard, make_source

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def yard(
    live_server: LiveServer, people: Callable[..., Person], admin: Person, tmp_path: Path
) -> Yard:
    return create_data_yard(people, admin, make_source(tmp_path / "source.db"))


def test_a_member_finds_a_dataset_profiles_it_and_freezes_a_snapshot(
    tab: Tab, yard: Yard, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/data")
    sign_in(page, "alice")
    expect(page).to_have_url(f"{url}/data")

    search = page.get_by_role("search", name="Datasets").get_by_label("Search")
    search.fill("bought")
    search.press("Enter")
    expect(page).to_have_url(f"{url}/data?q=bought")
    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "data-catalog.png"), full_page=True)
    page.get_by_test_id("datasets").get_by_role("link", name="customers").click()
    expect(page).to_have_url(f"{url}/data/customers")
    schema = page.get_by_test_id("schema")
    expect(schema.locator("tbody tr")).to_have_count(5)
    expect(schema.locator("tbody tr").nth(1)).to_contain_text("PII")
    expect(page.get_by_test_id("sample").locator("tbody tr")).to_have_count(20)
    expect(page.get_by_test_id("no-profile")).to_be_visible()

    page.get_by_role("button", name="Refresh profile").click()
    expect(page).to_have_url(f"{url}/data/customers?done=profiled#profile")
    expect(page.get_by_test_id("profile-summary")).to_contain_text("30 rows")
    for column in ("spend", "country"):
        chart = page.get_by_test_id(f"chart-{column}")
        expect(chart).to_have_attribute("data-drawn", "true")
        expect(chart.locator("svg.main-svg").first).to_be_visible()
    bars = page.get_by_test_id("chart-country").locator(".point")
    expect(bars).to_have_count(3)
    # Markup in a value is a label, shown as typed: no element, no link.
    notes = page.get_by_test_id("chart-note")
    expect(notes.locator(".ytick")).to_have_text([CELL, "(null)"])
    expect(notes.locator("a")).to_have_count(0)
    # Plotly's own stylesheet reached the page through the CSSOM despite the strict CSP.
    assert page.locator("style[id^='plotly.js-style']").count() > 0
    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "data-dataset.png"), full_page=True)

    page.get_by_label("Note").fill("training set v1")
    page.get_by_role("button", name="Freeze snapshot").click()
    expect(page).to_have_url(f"{url}/data/customers?done=snapshot#snapshots")
    first = page.get_by_test_id("snapshots").locator("tbody tr").first
    expect(first).to_contain_text("training set v1")
    expect(first).to_contain_text("alice")
    expect(page.get_by_test_id("readers")).to_contain_text("alice")
    assert tab.errors == []


def test_an_admin_sets_up_a_connection_and_tests_it(
    tab: Tab, yard: Yard, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/admin/connections")
    sign_in(page, "root")
    expect(page).to_have_url(f"{url}/admin/connections")
    page.get_by_role("link", name="New connection").click()
    page.get_by_label("Kind").select_option("sqlite")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(f"{url}/admin/connections/new?kind=sqlite")
    form = page.get_by_test_id("new-connection")
    form.get_by_label("Name").fill("mirror")
    form.get_by_label("Path").fill(str(yard.source))
    form.get_by_role("button", name="Create connection").click()
    expect(page).to_have_url(f"{url}/admin/connections/mirror?done=created")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text(re.compile(r"^ok — connected"))
    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "data-connection.png"), full_page=True)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    expect(page.get_by_test_id("connections").locator("tbody tr")).to_have_count(2)
    assert tab.errors == []
