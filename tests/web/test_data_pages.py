"""The data pages of the portal, rendered on the server: the catalog, a dataset's page with its
profile, sample, snapshots and usage, editing, and the admin's connection pages. Who may see
what, stored markup escaped everywhere, secrets never shown, and every form CSRF-checked."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.data.tables import ConnectionRow, DatasetGrantRow, ProfileRow, SnapshotRow
from tests.conftest import Person
from tests.web.test_code_pages import Page, get
from tests.web.test_portal import Answer

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
COUNTRIES = ("DE", "FR", "US")
DESCRIPTION = "# Customers\n\nEveryone who **bought**.\n\n<script>alert('desc')</script>\n"
COLUMN_DOC = "<script>alert('col')</script>"
TAG = "<script>alert('tag')</script>"
CELL = "<script>alert('cell')</script>"
NOTE = "<script>alert('note')</script>"
PG_PASSWORD = "pg-Secret-Value-93"


def make_source(path: Path) -> Path:
    """A small SQLite database: 30 customers (one with markup in its note) and a payroll."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE customers (id INTEGER, name TEXT, country TEXT, spend REAL, note TEXT)"
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [
                (i, f"customer {i}", COUNTRIES[i % 3], 10.0 * i, CELL if i == 1 else None)
                for i in range(1, 31)
            ],
        )
        conn.execute("CREATE TABLE payroll (person TEXT, salary INTEGER)")
        conn.execute("INSERT INTO payroll VALUES ('pat', 5000)")
    conn.close()
    return path


@dataclass
class Yard:
    team: dict[str, Person]
    source: Path


def create_data_yard(people: Callable[..., Person], admin: Person, source: Path) -> Yard:
    """alice owns project 'churn', granted 'customers' (owned by carol); bob owns 'hr', granted
    'payroll'. Both datasets read one SQLite file through the connection 'local'."""
    team = {name: people(name) for name in ("alice", "bob", "carol")}
    for owner, slug in (("alice", "churn"), ("bob", "hr")):
        created = team[owner].client.post("/api/v1/projects", json={"slug": slug, "name": slug})
        assert created.status_code == 201, created.text
    api = admin.client
    made = api.post(
        "/api/v1/connections",
        json={"name": "local", "kind": "sqlite", "settings": {"path": str(source)}},
    )
    assert made.status_code == 201, made.text
    for body in (
        {
            "name": "customers",
            "table": "customers",
            "owner": "carol",
            "description": DESCRIPTION,
            "tags": ["sales", TAG],
            "columns": {"name": {"description": COLUMN_DOC, "pii": True}},
            "grants": ["churn"],
        },
        {"name": "payroll", "table": "payroll", "tags": ["hr"], "grants": ["hr"]},
    ):
        made = api.post("/api/v1/datasets", json={"connection": "local", **body})
        assert made.status_code == 201, made.text
    return Yard(team, source)


@pytest.fixture
def yard(people: Callable[..., Person], admin: Person, tmp_path: Path) -> Yard:
    return create_data_yard(people, admin, make_source(tmp_path / "source.db"))


def csrf_of(text: str) -> str:
    match = CSRF_FIELD.search(text)
    assert match, "no csrf_token field on the page"
    return html.unescape(match.group(1))


def submit(client: TestClient, page: str, action: str, **fields: object) -> Answer:
    """Post a form the way a browser does: with the CSRF token the page put in it."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**fields, "csrf_token": token})


def assert_only_our_scripts(page: Page) -> None:
    """Nothing the seeded payloads (all calling `alert`) could run: no inline script, no handler
    attribute, no javascript: URL. Our scripts are files under /static/, plus chart data in a
    JSON block (not executed) where markup is escaped by `tojson`."""
    assert not re.search(r"<script[^>]*>\s*alert", page.raw, re.IGNORECASE), "a live <script>"
    for element in page.all:
        assert element.tag not in ("iframe", "object", "embed"), element
        if element.tag == "script":
            if element.attrs.get("type") == "application/json":
                assert "<" not in element.text, element.text[:200]
                json.loads(element.text)
            else:
                assert element.attrs.get("src", "").startswith("/static/"), element
                assert not element.text.strip(), element
        for name, value in element.attrs.items():
            assert not name.startswith("on"), f"<{element.tag} {name}={value!r}>"
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), value


# --- the catalog -----------------------------------------------------------------------------


def test_the_catalog_lists_only_datasets_granted_to_my_projects(
    yard: Yard, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    page = get(alice, "/data")
    assert page.status == 200
    assert page.find("nav", aria_label="Main").links()["Data"] == "/data"
    assert page.find("nav", aria_label="Main").find(aria_current="page").words == "Data"
    table = page.testid("datasets")
    assert table.links()["customers"] == "/data/customers"
    assert "payroll" not in page.raw
    row = table.find("tbody").find("tr")
    assert "Everyone who bought." in row.words  # the description's first line, no heading
    assert "carol" in row.words and "sqlite" in row.words
    assert "Connections" not in page.find("nav", aria_label="Main").links()

    assert "1 datasets" in get(alice, "/projects/churn").words
    assert "1 datasets" in get(alice, "/").testid("projects").words

    bob = get(portal("bob"), "/data")
    assert list(bob.testid("datasets").links()) == ["payroll", "hr"]
    assert "customers" not in bob.raw

    # Search and tag chips narrow the list; a miss says how to get back.
    assert "customers" in get(alice, "/data", q="BOUGHT").testid("datasets").words
    assert "customers" in get(alice, "/data", tag="sales").testid("datasets").words
    chips = get(alice, "/data").testid("tags").links()
    assert chips["sales"] == "/data?tag=sales"
    missed = get(alice, "/data", q="nothing-like-this")
    assert missed.status == 200
    assert missed.testid("no-match").links()["Show them all"] == "/data"


def test_a_user_without_datasets_is_told_who_grants_them(
    people: Callable[..., Person], portal: Callable[[str], TestClient]
) -> None:
    people("dora")
    empty = get(portal("dora"), "/data").testid("empty-catalog")
    assert "An admin creates datasets and grants them to projects" in empty.words


def test_a_dataset_of_another_project_is_not_found(
    yard: Yard, portal: Callable[[str], TestClient], db: Session
) -> None:
    alice = portal("alice")
    token = csrf_of(alice.get("/data").text)
    for path in ("/data/payroll", "/data/payroll/edit", "/data/ghost"):
        response = alice.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text and "pat" not in response.text
    for path in ("/data/payroll/profile", "/data/payroll/snapshots"):
        assert alice.post(path, data={"csrf_token": token}).status_code == 404, path
    assert db.scalar(select(func.count(ProfileRow.id))) == 0
    assert db.scalar(select(func.count(SnapshotRow.id))) == 0


# --- a dataset's page ------------------------------------------------------------------------


def test_the_dataset_page_profiles_samples_freezes_and_shows_who_reads(
    yard: Yard, portal: Callable[[str], TestClient]
) -> None:
    alice = portal("alice")
    page = get(alice, "/data/customers")
    assert page.status == 200
    assert page.heading() == "customers"
    assert page.testid("description").find("h1").words == "Customers"
    assert page.testid("source").words == "customers"
    assert "local (sqlite)" in page.words and str(yard.source) not in page.raw
    schema = page.testid("schema")
    assert [r.find("td").words for r in schema.find("tbody").find_all("tr")] == [
        "id",
        "name PII",
        "country",
        "spend",
        "note",
    ]
    sample = page.testid("sample").find("tbody").find_all("tr")
    assert len(sample) == 20
    assert sample[0].find_all("td")[1].words == "customer 1"
    assert page.testid("sdk-snippet").words == (
        'import modelyard df = modelyard.dataset("customers").to_pandas()'
    )
    assert page.testid("no-profile") and page.testid("no-snapshots")
    assert "chart-data" not in page.raw

    refreshed = submit(alice, "/data/customers", "/data/customers/profile")
    assert refreshed.status_code == 303
    assert refreshed.headers["location"] == "/data/customers?done=profiled#profile"
    page = get(alice, "/data/customers")
    summary = page.testid("profile-summary").words
    assert summary.startswith("30 rows · computed") and "by alice in" in summary
    assert "DuckDB" in summary
    assert page.testid("row-count").words == "30"
    charts = json.loads(page.find("script", id="chart-data").text)
    by_column = {c["column"]: c for c in charts}
    assert by_column["spend"]["kind"] == "histogram" and sum(by_column["spend"]["y"]) == 30
    assert by_column["country"]["kind"] == "top"
    assert dict(zip(by_column["country"]["x"], by_column["country"]["y"], strict=True)) == {
        "DE": 10,
        "FR": 10,
        "US": 10,
    }
    for chart in charts:
        assert page.find(id=chart["id"]).attrs["data-testid"] == f"chart-{chart['column']}"
    scripts = [s.attrs.get("src", "") for s in page.find_all("script")]
    assert (
        scripts[0].startswith("/static/vendor/plotly.min.js?v=") and "/static/charts.js" in scripts
    )
    stats = page.testid("stats").find("tbody").find_all("tr")
    spend = next(r for r in stats if r.find("td").words == "spend")
    assert [td.words for td in spend.find_all("td")][1:4] == ["10.0", "300.0", "155"]
    schema_row = page.testid("schema").find("tbody").find_all("tr")[4]
    assert [td.words for td in schema_row.find_all("td")][3:] == ["96.7 %", "1"]

    frozen = submit(alice, "/data/customers", "/data/customers/snapshots", note="training v1")
    assert frozen.headers["location"] == "/data/customers?done=snapshot#snapshots"
    again = submit(alice, "/data/customers", "/data/customers/snapshots", note="same data")
    assert again.headers["location"] == "/data/customers?done=snapshot-exists#snapshots"
    page = get(alice, "/data/customers", done="snapshot")
    assert "Snapshot frozen." in page.find("p", role="status").words
    cells = [td.words for td in page.testid("snapshots").find("tbody").find("tr").find_all("td")]
    assert cells[0] == "1" and len(cells[1]) == 12 and cells[2] == "30"
    assert cells[4:6] == ["training v1", "alice"]

    readers = page.testid("readers").find("tbody").find_all("tr")
    assert readers[0].find("td").words == "alice"
    assert page.testid("granted").links() == {"churn": "/projects/churn"}


def test_a_source_that_fails_is_shown_on_the_page_not_a_crash(
    yard: Yard, portal: Callable[[str], TestClient]
) -> None:
    yard.source.unlink()
    alice = portal("alice")
    page = get(alice, "/data/customers")
    assert page.status == 200
    assert "no SQLite database file" in page.testid("sample-error").words
    failed = submit(alice, "/data/customers", "/data/customers/profile")
    assert failed.status_code == 502
    assert "no SQLite database file" in Page(failed).testid("error").words


def test_stored_markup_is_escaped_everywhere(
    yard: Yard, portal: Callable[[str], TestClient], admin: Person
) -> None:
    carol = portal("carol")
    submit(carol, "/data/customers", "/data/customers/profile")
    submit(carol, "/data/customers", "/data/customers/snapshots", note=NOTE)
    for path in ("/data", "/data/customers", "/data/customers/edit", f"/data?tag={TAG}"):
        page = get(carol, path)
        assert page.status == 200, path
        assert_only_our_scripts(page)
    page = get(carol, "/data/customers")
    assert "<script>alert('desc')</script>" in page.testid("description").words
    assert COLUMN_DOC in page.testid("schema").words
    assert TAG in page.words and NOTE in page.testid("snapshots").words
    assert CELL in page.testid("sample").words
    # Chart labels are escaped for Plotly's HTML-ish labels, then by tojson for the page.
    charts = {c["column"]: c for c in json.loads(page.find("script", id="chart-data").text)}
    assert charts["note"]["x"] == ["(null)", html.escape(CELL)]
    edit = get(carol, "/data/customers/edit")
    assert COLUMN_DOC in edit.find("input", name="column-1-description").attrs["value"]


# --- editing ---------------------------------------------------------------------------------


def test_the_owner_documents_columns_and_grants_projects(
    yard: Yard, portal: Callable[[str], TestClient], db: Session
) -> None:
    alice = portal("alice")
    assert alice.get("/data/customers/edit").status_code == 403
    assert "/data/customers/edit" not in alice.get("/data/customers").text

    carol = portal("carol")
    assert get(carol, "/data/customers").links()["Edit"] == "/data/customers/edit"
    saved = submit(
        carol,
        "/data/customers/edit",
        "/data/customers/edit",
        description="All **paying** customers.",
        tags="sales, crm , ",
        **{
            "column-1-name": "name",
            "column-1-description": "full name",
            "column-1-pii": "on",
            "column-3-name": "spend",
            "column-3-description": "lifetime spend, EUR",
        },
    )
    assert saved.headers["location"] == "/data/customers?done=saved"
    page = get(carol, "/data/customers", done="saved")
    assert page.testid("description").find("strong").words == "paying"
    rows = {r.find("td").words: r for r in page.testid("schema").find("tbody").find_all("tr")}
    assert rows["name PII"].find_all("td")[2].words == "full name"
    assert rows["spend"].find_all("td")[2].words == "lifetime spend, EUR"
    assert sorted(b.words for b in page.testid("dataset-tags").find_all("a")) == ["crm", "sales"]

    granted = submit(carol, "/data/customers/edit", "/data/customers/grants", project="hr")
    assert granted.status_code == 404  # carol cannot see 'hr'
    revoked = submit(carol, "/data/customers/edit", "/data/customers/grants/churn/revoke")
    assert revoked.headers["location"] == "/data/customers/edit?done=revoked#grants"
    assert alice.get("/data/customers").status_code == 404
    assert db.scalar(select(func.count(DatasetGrantRow.id))) == 1  # payroll's


def test_admins_create_connections_and_datasets_through_the_forms(
    yard: Yard, portal: Callable[[str], TestClient], db: Session
) -> None:
    root = portal("root")
    chooser = get(root, "/admin/connections/new")
    assert "new-connection" not in chooser.raw  # a kind first
    form = get(root, "/admin/connections/new", kind="sqlite").testid("new-connection")
    assert [i.attrs["name"] for i in form.find_all("input")][2:] == [
        "name",
        "settings.path",
        "settings.timeout_seconds",
    ]
    bad = submit(
        root,
        "/admin/connections/new?kind=sqlite",
        "/admin/connections",
        kind="sqlite",
        name="copy",
        **{"settings.path": "relative.db", "settings.timeout_seconds": "9"},
    )
    assert bad.status_code == 422
    assert Page(bad).find("input", name="settings.timeout_seconds").attrs["value"] == "9"
    made = submit(
        root,
        "/admin/connections/new?kind=sqlite",
        "/admin/connections",
        kind="sqlite",
        name="copy",
        description="the same file",
        **{"settings.path": str(yard.source)},
    )
    assert made.headers["location"] == "/admin/connections/copy?done=created"
    tested = submit(root, "/admin/connections/copy", "/admin/connections/copy/test")
    assert Page(tested).testid("test-result").words.startswith("ok — connected: SQLite")

    created = submit(
        root,
        "/data/new",
        "/data",
        name="orders",
        connection="copy",
        query="SELECT id, spend FROM customers WHERE spend > 100",
        owner="alice",
        tags="sales",
        grants=["churn", "hr"],
    )
    assert created.headers["location"] == "/data/orders?done=created"
    page = get(portal("alice"), "/data/orders")
    assert page.testid("source").words == "SELECT id, spend FROM customers WHERE spend > 100"
    assert len(page.testid("sample").find("tbody").find_all("tr")) == 20
    assert "/data/orders/edit" in page.raw  # alice owns it
    listing = get(root, "/admin/connections").testid("connections").find("tbody")
    used = {r.find("td").words: r.find_all("td")[4].words for r in listing.find_all("tr")}
    assert used == {"copy": "1", "local": "2"}

    refused = submit(root, "/admin/connections/copy", "/admin/connections/copy/delete")
    assert refused.status_code == 409
    assert db.scalar(select(func.count(ConnectionRow.id))) == 2


# --- connections: admins only, secrets never shown ---------------------------------------------


def test_connection_pages_are_for_admins_only(
    yard: Yard, portal: Callable[[str], TestClient], db: Session
) -> None:
    alice = portal("alice")
    token = csrf_of(alice.get("/data").text)
    for path in ("/admin/connections", "/admin/connections/new", "/admin/connections/local"):
        assert alice.get(path).status_code == 403, path
    for path in (
        "/admin/connections",
        "/admin/connections/local",
        "/admin/connections/local/test",
        "/admin/connections/local/delete",
    ):
        response = alice.post(path, data={"csrf_token": token, "name": "x", "kind": "sqlite"})
        assert response.status_code == 403, path
    assert alice.get("/data/new").status_code == 403
    assert db.scalar(select(func.count(ConnectionRow.id))) == 1


def test_the_connection_pages_never_show_a_secret(
    yard: Yard, portal: Callable[[str], TestClient], admin: Person
) -> None:
    made = admin.client.post(
        "/api/v1/connections",
        json={
            "name": "warehouse",
            "kind": "postgresql",
            "settings": {"host": "127.0.0.1", "port": 1, "database": "dw", "user": "reader"},
            "secrets": {"password": PG_PASSWORD},
        },
    )
    assert made.status_code == 201, made.text
    root = portal("root")
    listing = get(root, "/admin/connections")
    assert "password" in listing.testid("connections").words
    page = get(root, "/admin/connections/warehouse")
    password = page.find("input", name="secrets.password")
    assert password.attrs["type"] == "password" and password.attrs["value"] == ""
    assert page.find("input", name="settings.host").attrs["value"] == "127.0.0.1"
    tested = submit(root, "/admin/connections/warehouse", "/admin/connections/warehouse/test")
    result = Page(tested).testid("test-result").words
    assert result.startswith("failed — ")

    # Saving without typing a password keeps it; the stored value never comes back.
    saved = submit(
        root,
        "/admin/connections/warehouse",
        "/admin/connections/warehouse",
        description="the warehouse",
        **{"settings.host": "db.internal", "settings.database": "dw", "settings.user": "reader"},
    )
    assert saved.status_code == 303
    described = admin.client.get("/api/v1/connections/warehouse").json()
    assert described["settings"]["host"] == "db.internal" and "password" in described["secrets"]
    for text in (listing.raw, page.raw, tested.text, root.get("/admin/connections/warehouse").text):
        assert PG_PASSWORD not in text
    cleared = submit(
        root,
        "/admin/connections/warehouse",
        "/admin/connections/warehouse",
        **{"settings.host": "db.internal", "settings.database": "dw", "settings.user": "reader"},
        **{"clear.password": "on"},
    )
    assert cleared.status_code == 303
    assert admin.client.get("/api/v1/connections/warehouse").json()["secrets"] == {}


# --- CSRF, Plotly and the CSP ----------------------------------------------------------------


def test_data_forms_without_the_csrf_token_change_nothing(
    yard: Yard, portal: Callable[[str], TestClient], db: Session
) -> None:
    root = portal("root")
    attempts: list[tuple[str, dict[str, str]]] = [
        ("/data/customers/profile", {}),
        ("/data/customers/snapshots", {"note": "x"}),
        ("/data/customers/edit", {"description": "defaced"}),
        ("/data/customers/grants", {"project": "hr"}),
        ("/data/customers/grants/churn/revoke", {}),
        ("/data", {"name": "planted", "connection": "local", "table": "payroll"}),
        ("/admin/connections", {"name": "planted", "kind": "sqlite"}),
        ("/admin/connections/local", {"description": "defaced"}),
        ("/admin/connections/local/test", {}),
        ("/admin/connections/local/delete", {}),
    ]
    for path, fields in attempts:
        for token in (None, "not-a-token"):
            data = fields if token is None else {**fields, "csrf_token": token}
            response = root.post(path, data=data)
            assert response.status_code == 403, (path, token)
            assert "this form has expired" in response.text
    assert db.scalar(select(func.count(ProfileRow.id))) == 0
    assert db.scalar(select(func.count(SnapshotRow.id))) == 0
    assert db.scalar(select(func.count(DatasetGrantRow.id))) == 2
    assert db.scalar(select(func.count(ConnectionRow.id))) == 1
    assert "defaced" not in root.get("/data/customers").text


def test_plotly_is_served_from_the_installed_package_and_cached_for_good(
    anonymous: TestClient,
) -> None:
    response = anonymous.get("/static/vendor/plotly.min.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    assert "immutable" in response.headers["cache-control"]
    assert response.content.startswith(b"/**\n* plotly.js v")  # decoded by the client
    etag = response.headers["etag"]
    again = anonymous.get("/static/vendor/plotly.min.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    # The CSP lets Plotly add its empty <style> (filled through the CSSOM), nothing inline more.
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "script-src 'self';" in csp
