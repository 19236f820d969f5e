"""/api/v1/connections: admins configure data sources; secrets go in and never come out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Person
from tests.data.conftest import SourceServer, secret

MASK = "********"


def pg_body(name: str = "warehouse", **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "postgresql",
        "description": "the warehouse",
        "settings": {"host": "db.internal", "database": "dwh", "user": "reader", **settings},
        "secrets": {"password": secret("Warehouse-pw:0001/x")},
    }


def test_admin_creates_lists_and_gets_connections_with_masked_secrets(admin: Person) -> None:
    made = admin.client.post("/api/v1/connections", json=pg_body())
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secrets"] == {"password": MASK}
    # settings are stored checked, with the kind's defaults filled in
    assert created["settings"] == {
        "host": "db.internal",
        "port": 5432,
        "database": "dwh",
        "user": "reader",
        "timeout_seconds": 60,
    }
    assert created["datasets"] == 0 and created["description"] == "the warehouse"
    local = admin.client.post(
        "/api/v1/connections", json={"name": "local", "kind": "sqlite", "settings": {"path": "/x"}}
    )
    assert local.status_code == 201 and local.json()["secrets"] == {}

    listed = admin.client.get("/api/v1/connections").json()["items"]
    assert [(c["name"], c["secrets"]) for c in listed] == [
        ("local", {}),
        ("warehouse", {"password": MASK}),
    ]
    assert admin.client.get("/api/v1/connections/warehouse").json() == created
    again = admin.client.post("/api/v1/connections", json=pg_body())
    assert again.status_code == 409 and again.json()["error"]["field"] == "name"
    missing = admin.client.get("/api/v1/connections/nope")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "connection"


def test_settings_are_checked_for_the_kind_and_name_the_field(admin: Person) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "postgresql", "settings": {"database": "d", "user": "u"}}, "settings.host"),
        (
            {"kind": "postgresql", "settings": {"host": "h", "database": "d", "user": "u", "port": 0}},
            "settings.port",
        ),
        ({"kind": "mysql", "settings": {"host": "h", "user": "u", "colour": "red"}}, "settings.colour"),
        ({"kind": "sqlite", "settings": {"path": "relative.db"}}, "settings.path"),
        ({"kind": "s3", "settings": {"bucket": "Not A Bucket"}}, "settings.bucket"),
        ({"kind": "sqlite", "settings": {"path": "/x.db"}, "secrets": {"password": "p"}}, "secrets.password"),
        (
            {"kind": "postgresql", "settings": {"host": "h", "database": "d", "user": "u"},
             "secrets": {"token": "t"}},
            "secrets.token",
        ),
        ({"kind": "oracle", "settings": {}}, "kind"),
    ]  # fmt: skip
    for body, field in cases:
        response = admin.client.post("/api/v1/connections", json={"name": "c", **body})
        assert response.status_code == 422, (field, response.text)
        error = response.json()["error"]
        assert error["field"] == field, error
        # the message names the field the way the request spells it
        assert (field if field.startswith("settings.") else field.split(".")[-1]) in error[
            "message"
        ], error
    assert admin.client.get("/api/v1/connections").json()["items"] == []

    unknown_secret = admin.client.post("/api/v1/connections", json={
        "name": "c", "kind": "postgresql", "settings": {"host": "h", "database": "d", "user": "u"},
        "secrets": {"token": "t"},
    })  # fmt: skip
    assert "it takes: password" in unknown_secret.json()["error"]["message"]


def test_patch_checks_settings_and_replaces_description(admin: Person) -> None:
    admin.client.post("/api/v1/connections", json=pg_body())
    bad = admin.client.patch("/api/v1/connections/warehouse", json={"settings": {"port": 5433}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "settings.host"
    changed = admin.client.patch(
        "/api/v1/connections/warehouse",
        json={"description": "moved", "settings": {"host": "db2", "database": "d", "user": "u"}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "moved"
    assert changed.json()["settings"]["host"] == "db2"
    assert changed.json()["secrets"] == {"password": MASK}  # untouched by a settings change


def test_the_test_action_reports_success_and_a_clear_reason_for_failure(
    admin: Person, sqlite_source: Path, tmp_path: Path
) -> None:
    admin.client.post(
        "/api/v1/connections",
        json={"name": "local", "kind": "sqlite", "settings": {"path": str(sqlite_source)}},
    )
    ok = admin.client.post("/api/v1/connections/local/test")
    assert ok.status_code == 200
    assert ok.json()["ok"] is True and ok.json()["message"].startswith("connected: SQLite 3.")
    gone = tmp_path / "gone.db"
    admin.client.patch("/api/v1/connections/local", json={"settings": {"path": str(gone)}})
    failed = admin.client.post("/api/v1/connections/local/test")
    assert failed.status_code == 200
    assert failed.json()["ok"] is False
    assert failed.json()["message"] == f"no SQLite database file at {str(gone)!r}"


def test_replacing_and_removing_a_secret_changes_what_the_source_sees(
    admin: Person, mariadb_source: SourceServer
) -> None:
    body = mariadb_source.connection("maria")
    body["secrets"] = {"password": secret("Wrong-Maria-pw:0002")}
    assert admin.client.post("/api/v1/connections", json=body).status_code == 201
    refused = admin.client.post("/api/v1/connections/maria/test").json()
    assert refused["ok"] is False and "Access denied" in refused["message"]

    replaced = admin.client.patch(
        "/api/v1/connections/maria", json={"secrets": {"password": mariadb_source.password}}
    )
    assert replaced.status_code == 200 and replaced.json()["secrets"] == {"password": MASK}
    answer = admin.client.post("/api/v1/connections/maria/test").json()
    assert answer["ok"] is True and answer["message"].startswith("connected: MariaDB 1")

    removed = admin.client.patch("/api/v1/connections/maria", json={"secrets": {"password": ""}})
    assert removed.status_code == 200 and removed.json()["secrets"] == {}
    assert admin.client.post("/api/v1/connections/maria/test").json()["ok"] is False


def test_a_connection_in_use_cannot_be_deleted(admin: Person, sqlite_source: Path) -> None:
    admin.client.post(
        "/api/v1/connections",
        json={"name": "local", "kind": "sqlite", "settings": {"path": str(sqlite_source)}},
    )
    made = admin.client.post(
        "/api/v1/datasets", json={"name": "customers", "connection": "local", "table": "customers"}
    )
    assert made.status_code == 201, made.text
    assert admin.client.get("/api/v1/connections/local").json()["datasets"] == 1
    refused = admin.client.delete("/api/v1/connections/local")
    assert refused.status_code == 409
    assert "used by datasets customers" in refused.json()["error"]["message"]

    assert admin.client.delete("/api/v1/datasets/customers").status_code == 204
    assert admin.client.delete("/api/v1/connections/local").status_code == 204
    assert admin.client.get("/api/v1/connections/local").status_code == 404


def test_only_admins_see_or_change_connections(
    admin: Person, people: Callable[..., Person]
) -> None:
    admin.client.post("/api/v1/connections", json=pg_body())
    alice = people("alice")
    for method, path, body in (
        ("POST", "/api/v1/connections", pg_body("mine")),
        ("GET", "/api/v1/connections", None),
        ("GET", "/api/v1/connections/warehouse", None),
        ("PATCH", "/api/v1/connections/warehouse", {"description": "x"}),
        ("POST", "/api/v1/connections/warehouse/test", None),
        ("DELETE", "/api/v1/connections/warehouse", None),
    ):
        response = alice.client.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "permission_denied"
    assert [c["name"] for c in admin.client.get("/api/v1/connections").json()["items"]] == [
        "warehouse"
    ]
    assert admin.client.get("/api/v1/connections/warehouse").json()["description"] == (
        "the warehouse"
    )


def test_changes_are_audited_naming_secrets_but_not_their_values(
    admin: Person, sqlite_source: Path
) -> None:
    admin.client.post("/api/v1/connections", json=pg_body())
    new_password = secret("Rotated-pw:0003")
    admin.client.patch(
        "/api/v1/connections/warehouse",
        json={"description": "d", "secrets": {"password": new_password}},
    )
    admin.client.post("/api/v1/connections/warehouse/test")
    admin.client.delete("/api/v1/connections/warehouse")

    audit = admin.client.get("/api/v1/audit")
    events = [e for e in audit.json()["items"] if e["target"] == "warehouse"]
    assert [(e["action"], e["actor"]) for e in reversed(events)] == [
        ("connection.created", "root"),
        ("connection.updated", "root"),
        ("connection.tested", "root"),
        ("connection.deleted", "root"),
    ]
    by_action = {e["action"]: e["detail"] for e in events}
    assert by_action["connection.created"] == {"kind": "postgresql", "secrets": ["password"]}
    assert by_action["connection.updated"] == {"changed": ["description", "secrets.password"]}
    assert by_action["connection.tested"] == {"ok": False}  # db.internal does not resolve
    assert new_password not in audit.text
