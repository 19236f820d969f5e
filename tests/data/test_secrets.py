"""Connection secrets never leave the server: not in answers, pages, the audit log or logs,
and not readable in the database. (The leak guard in conftest.py checks every test under
tests/data; these tests aim at the places a secret is most likely to slip out: errors.)"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import modelyard
from modelyard.data.tables import ConnectionRow
from tests.conftest import PASSWORD, LiveServer, Person
from tests.data.conftest import READER, SECRETS, LeakGuard, SourceServer, forms, secret

MASK = "********"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def assert_no_secret(body: str, value: str) -> None:
    for form in forms(value):
        assert form.decode() not in body


def test_the_guard_catches_a_secret_in_an_answer_or_a_log_line(
    leak_guard: LeakGuard, admin: Person
) -> None:
    canary = "Canary-Secret:0042/x"
    SECRETS.add(canary)
    try:
        admin.client.post(
            "/api/v1/connections",
            json={
                "name": "leaky",
                "kind": "sqlite",
                "settings": {"path": "/x.db"},
                "description": f"oops {quote(canary, safe='')}",
            },
        )
        logging.getLogger("modelyard.anything").debug("connecting with %s", canary)
        leaks = leak_guard.leaks()
        assert any(leak.startswith("POST http://testserver/api/v1/connections") for leak in leaks)
        assert any(leak.startswith("log record of 'modelyard.anything'") for leak in leaks)
        assert all("Canary" not in leak for leak in leaks)  # the report masks the value
    finally:
        SECRETS.discard(canary)
        leak_guard.seen.clear()


def test_the_guard_sees_what_the_sdk_receives(
    leak_guard: LeakGuard,
    admin: Person,
    sdk: Callable[[Person], modelyard.Client],
    live_server: LiveServer,
) -> None:
    canary = "Canary-Secret:0043/x"
    SECRETS.add(canary)
    try:
        admin.client.post(
            "/api/v1/connections",
            json={"name": "leaky", "kind": "sqlite", "settings": {"path": "/x.db"}},
        )
        leak_guard.seen.clear()
        admin.client.patch("/api/v1/connections/leaky", json={"description": canary})
        leak_guard.seen.clear()  # only what the SDK receives below
        assert sdk(admin).connections.list()[0]["description"] == canary
        leaks = leak_guard.leaks()
        assert len(leaks) == 1 and leaks[0].startswith(f"GET {live_server.url}/api/v1/connections:")
    finally:
        SECRETS.discard(canary)
        leak_guard.seen.clear()


def test_a_wrong_password_is_refused_without_being_shown(
    admin: Person, mariadb_source: SourceServer
) -> None:
    wrong = secret("Wr0ng:Maria/P@ss%-0101")
    body = mariadb_source.connection("maria")
    body["secrets"] = {"password": wrong}
    assert admin.client.post("/api/v1/connections", json=body).status_code == 201

    tested = admin.client.post("/api/v1/connections/maria/test")
    assert tested.json()["ok"] is False
    assert f"Access denied for user '{READER}'" in tested.json()["message"]
    created = admin.client.post(
        "/api/v1/datasets", json={"name": "customers", "connection": "maria", "table": "customers"}
    )
    assert created.status_code == 502
    error = created.json()["error"]
    assert error["code"] == "source_error"
    assert error["message"].startswith("dataset 'customers': ")
    assert "Access denied" in error["message"]
    for response in (tested, created):
        assert_no_secret(response.text, wrong)
    audit = admin.client.get("/api/v1/audit")
    assert [e["detail"] for e in audit.json()["items"] if e["action"] == "connection.tested"] == [
        {"ok": False}
    ]
    assert_no_secret(audit.text, wrong)


def test_a_wrong_host_is_reported_without_the_password(
    admin: Person, pg_source: SourceServer
) -> None:
    body = pg_source.connection("warehouse")
    body["settings"] = {**body["settings"], "host": "no-such-host.invalid"}
    assert admin.client.post("/api/v1/connections", json=body).status_code == 201
    tested = admin.client.post("/api/v1/connections/warehouse/test")
    assert tested.json()["ok"] is False
    assert tested.json()["message"].startswith("connecting failed: ")
    assert "no-such-host.invalid" in tested.json()["message"]
    created = admin.client.post(
        "/api/v1/datasets",
        json={"name": "customers", "connection": "warehouse", "table": "customers"},
    )
    assert created.status_code == 502
    assert "no-such-host.invalid" in created.json()["error"]["message"]
    for response in (tested, created):
        assert_no_secret(response.text, pg_source.password)

    audit = admin.client.get("/api/v1/audit").json()["items"]
    assert {e["action"] for e in audit if e["target"] == "warehouse"} == {
        "connection.created",
        "connection.tested",
    }
    assert_no_secret(str(audit), pg_source.password)


def test_secrets_are_sealed_at_rest_and_shown_only_masked(
    admin: Person, app: FastAPI, db: Session
) -> None:
    password = secret("Sealed-pw:0202/x")
    made = admin.client.post(
        "/api/v1/connections",
        json={
            "name": "warehouse",
            "kind": "postgresql",
            "settings": {"host": "db", "database": "d", "user": "u"},
            "secrets": {"password": password},
        },
    )
    assert made.json()["secrets"] == {"password": MASK}
    assert admin.client.get("/api/v1/connections").json()["items"][0]["secrets"] == {
        "password": MASK
    }
    assert admin.client.get("/api/v1/connections/warehouse").json()["secrets"] == {"password": MASK}

    stored = db.execute(text("SELECT secrets_encrypted, secret_keys FROM connections")).one()
    assert stored[0] and "password" not in stored[0]
    assert_no_secret(stored[0], password)
    assert password not in str(stored[1])
    # sealed, not dropped: the server's own key opens it
    row = db.scalars(select(ConnectionRow)).one()
    assert app.state.secret_box.open(row.secrets_encrypted) == {"password": password}


@pytest.fixture
def signed_in(app: FastAPI, leak_guard: LeakGuard) -> Iterator[TestClient]:
    """A browser-like client of the admin 'root' (cookie session), watched by the guard."""
    client = TestClient(app, follow_redirects=False)
    client.event_hooks["response"].append(leak_guard.on_response)
    response = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
    assert response.status_code == 200, response.text
    yield client
    client.close()


def test_the_portal_pages_of_a_connection_show_no_secret(
    admin: Person, signed_in: TestClient
) -> None:
    password = secret("Portal-pw:0303/x")
    admin.client.post(
        "/api/v1/connections",
        json={
            "name": "warehouse",
            "kind": "postgresql",
            "settings": {"host": "db.internal", "database": "d", "user": "u"},
            "secrets": {"password": password},
        },
    )
    for path in ("/admin/connections", "/admin/connections/warehouse"):
        page = signed_in.get(path)
        assert page.status_code == 200, path
        assert "warehouse" in page.text
        assert_no_secret(page.text, password)

    # A form sent back with an error shows the settings as typed, never the password.
    typed = secret("Typed-pw:0505/x")
    form = signed_in.get("/admin/connections/new", params={"kind": "postgresql"})
    token = CSRF_FIELD.search(form.text)
    assert token, "no csrf_token on the new connection page"
    refused = signed_in.post(
        "/admin/connections",
        data={
            "csrf_token": html.unescape(token.group(1)),
            "kind": "postgresql",
            "name": "second",
            "settings.host": "db.internal",
            "settings.port": "not-a-port",
            "settings.database": "d",
            "settings.user": "u",
            "secrets.password": typed,
        },
    )
    assert refused.status_code == 422 and "db.internal" in refused.text
    assert_no_secret(refused.text, typed)


def test_an_invalid_secret_is_refused_without_being_echoed(admin: Person) -> None:
    long = secret("Too-long-pw:" + "x" * 2000)
    refused = admin.client.post(
        "/api/v1/connections",
        json={
            "name": "warehouse",
            "kind": "postgresql",
            "settings": {"host": "db", "database": "d", "user": "u"},
            "secrets": {"password": long},
        },
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "secrets.password"
    assert_no_secret(refused.text, long)
