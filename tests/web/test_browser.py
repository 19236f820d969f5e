"""The portal in a real browser: headless Debian chromium driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import (
    Page,
    expect,
)

from tests.conftest import PASSWORD, LiveServer, Person
from tests.web.conftest import ARTIFACTS, Tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESCRIPTION = (
    "# Churn\n\nPredicts **who leaves** next quarter.\n\n- data: `events.parquet`\n- owner: alice\n"
)


@pytest.fixture
def churn(people: Callable[..., Person]) -> None:
    """alice owns 'churn' with a markdown description; bob is a viewer of it."""
    alice = people("alice")
    people("bob")
    created = alice.client.post(
        "/api/v1/projects",
        json={"slug": "churn", "name": "Churn forecast", "description": DESCRIPTION},
    )
    assert created.status_code == 201, created.text
    added = alice.client.put("/api/v1/projects/churn/members/bob", json={"role": "viewer"})
    assert added.status_code == 200, added.text


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_see_the_project_and_sign_out(
    tab: Tab, churn: None, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    page = tab.page
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login?next=/")
    expect(page.get_by_role("heading", name="Sign in to modelyard")).to_be_visible()

    sign_in(page, "alice", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_text("alice")
    cards = page.get_by_test_id("projects").locator("li.project-card")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card.get_by_role("link", name="Churn forecast")).to_be_visible()
    expect(card.locator(".summary")).to_have_text("Predicts who leaves next quarter.")
    expect(card.locator(".slug")).to_contain_text("owner")
    # The stylesheet is allowed by the CSP and applied.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(246, 247, 249)"

    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    card.get_by_role("link", name="Churn forecast").click()
    expect(page).to_have_url(f"{live_server.url}/projects/churn")
    expect(page.get_by_test_id("project-name")).to_have_text("Churn forecast")
    description = page.get_by_test_id("description")
    expect(description.get_by_role("heading", name="Churn")).to_be_visible()
    expect(description.locator("strong")).to_have_text("who leaves")
    expect(description.locator("li")).to_have_count(2)
    members = page.get_by_test_id("members")
    expect(members.locator("tr")).to_have_count(2)
    expect(members).to_contain_text("alice")
    expect(members).to_contain_text("bob")
    expect(page.get_by_label("Role of bob")).to_have_value("viewer")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}/login?next=")))
    assert tab.errors == []


def test_a_viewer_sees_the_project_read_only(
    tab: Tab, churn: None, live_server: LiveServer
) -> None:
    page = tab.page
    page.goto("/login?next=/projects/churn")
    sign_in(page, "bob", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/projects/churn")
    expect(page.get_by_test_id("description").locator("strong")).to_have_text("who leaves")
    expect(page.get_by_text("you are viewer")).to_be_visible()
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.get_by_role("button", name="Archive project")).to_have_count(0)
    assert tab.errors == []


def test_a_wrong_password_says_so_clearly(tab: Tab, churn: None, live_server: LiveServer) -> None:
    page = tab.page
    page.goto("/login")
    sign_in(page, "alice", "not-the-password")
    expect(page).to_have_url(f"{live_server.url}/login")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_value("")
    assert not [c for c in tab.context.cookies() if c["name"] == "modelyard_session"]

    # From the error page the right password gets you in.
    sign_in(page, "alice", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("whoami")).to_have_text("alice")
