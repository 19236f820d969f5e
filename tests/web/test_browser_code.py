"""The code browser in a real browser: headless Debian chromium driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, LiveServer, Person
from tests.web.conftest import ARTIFACTS, Tab
from tests.web.test_code_pages import HTML_SUBJECT, Seeded, create_yard, seed_templates

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_templates(tmp_path_factory.mktemp("browser-code-templates"))


@pytest.fixture
def yard(live_server: LiveServer, people: Callable[..., Person], seeded: Seeded) -> None:
    """alice owns 'churn' and views 'fraud'; 'vault' is carol's alone (see test_code_pages)."""
    create_yard(live_server.app, people, seeded)


def sign_in(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def search_from_the_top_bar(page: Page, query: str) -> None:
    box = page.get_by_role("search").get_by_label("Search code in every project")
    box.fill(query)
    box.press("Enter")


def test_browse_the_code_read_a_diff_and_search_other_projects(
    tab: Tab,
    yard: None,
    seeded: Seeded,
    live_server: LiveServer,
    request: pytest.FixtureRequest,
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/projects/churn")
    sign_in(page, "alice")
    expect(page).to_have_url(f"{url}/projects/churn")
    expect(page.get_by_test_id("readme").get_by_role("heading", name="Churn")).to_be_visible()

    # Code tab -> folder -> file.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Code").click()
    expect(page).to_have_url(f"{url}/projects/churn/code")
    tree = page.get_by_test_id("tree")
    expect(tree.get_by_role("link", name="README.md")).to_be_visible()
    tree.get_by_role("link", name="src/").click()
    expect(page).to_have_url(f"{url}/projects/churn/code?rev=main&path=src")
    expect(page.get_by_test_id("path")).to_contain_text("churn / src")
    page.get_by_test_id("tree").get_by_role("link", name="train.py").click()
    expect(page).to_have_url(f"{url}/projects/churn/code/file?rev=main&path=src/train.py")
    code = page.get_by_test_id("file").locator(".highlight")
    expect(code).to_be_visible()
    expect(code).to_contain_text("def train_model(data):")
    expect(code).to_contain_text("return 43")
    expect(page.locator("#L-2")).to_be_attached()
    # Pygments' stylesheet is allowed by the CSP and applied: a keyword is coloured.
    keyword = code.locator("span.k").first
    expect(keyword).to_have_text("def")
    plain = code.locator("pre").evaluate("e => getComputedStyle(e).color")
    assert keyword.evaluate("e => getComputedStyle(e).color") != plain
    if "sqlite" in request.node.name:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "code-file.png"), full_page=True)

    # Commits tab -> the latest commit -> its diff.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Commits").click()
    expect(page).to_have_url(f"{url}/projects/churn/code/commits")
    rows = page.get_by_test_id("commits").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Maya Mentor")
    rows.first.get_by_role("link", name=seeded.second[:8]).click()
    expect(page).to_have_url(f"{url}/projects/churn/code/commit/{seeded.second}")
    expect(page.get_by_test_id("commit-subject")).to_have_text(HTML_SUBJECT)
    diff = page.get_by_test_id("diff").filter(has_text="src/train.py")
    expect(diff.locator(".patch .del")).to_have_text("-    return 42")
    expect(diff.locator(".patch .add")).to_have_text("+    return 43")

    # Search from the top bar: a function in another project alice can see...
    search_from_the_top_bar(page, "detect_fraud_pattern")
    expect(page).to_have_url(f"{url}/code/search?q=detect_fraud_pattern")
    results = page.get_by_test_id("search-results")
    expect(results.locator("tr")).to_have_count(1)
    expect(results).to_contain_text("def detect_fraud_pattern(rows):")
    results.get_by_role("link", name="detect.py:1").click()
    expect(page).to_have_url(f"{url}/projects/fraud/code/file?path=detect.py#L-1")
    expect(page.get_by_role("heading", name="Fraud", exact=True)).to_be_visible()
    expect(page.get_by_test_id("file").locator(".highlight")).to_contain_text(
        "def detect_fraud_pattern"
    )

    # ... and one defined only in a project she cannot see.
    search_from_the_top_bar(page, "hidden_vault_function")
    expect(page).to_have_url(f"{url}/code/search?q=hidden_vault_function")
    expect(page.get_by_text("Nothing found.")).to_be_visible()
    expect(page.get_by_test_id("search-results")).to_have_count(0)
    expect(page.locator("a[href^='/projects/vault']")).to_have_count(0)
    assert tab.errors == []


def test_the_branch_selector_switches_to_a_tag(
    tab: Tab, yard: None, seeded: Seeded, live_server: LiveServer
) -> None:
    page, url = tab.page, live_server.url
    page.goto("/login?next=/projects/churn/code")
    sign_in(page, "alice")
    expect(page).to_have_url(f"{url}/projects/churn/code")
    expect(page.get_by_test_id("tree").get_by_role("link", name="model.bin")).to_be_visible()
    # Whether the form submits itself or has a Go button is the page's choice; either works.
    go = page.locator("form:has(select[name=rev])").get_by_role("button", name="Go")
    go_shown = go.is_visible()
    page.get_by_label("Branch or tag").select_option("v1")
    if go_shown:
        go.click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}/projects/churn/code?") + ".*rev=v1"))
    tree = page.get_by_test_id("tree")
    expect(tree.get_by_role("link", name="src/")).to_be_visible()
    expect(tree.get_by_role("link", name="model.bin")).to_have_count(0)
    expect(page.locator(".lastcommit")).to_contain_text("Add the training script")
    assert tab.errors == []
