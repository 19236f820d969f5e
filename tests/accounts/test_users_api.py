from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.service import ensure_admin
from modelyard.accounts.tables import AuditEventRow, UserRow
from tests.conftest import PASSWORD, Person


def test_admin_creates_users_who_can_sign_in(admin: Person, anonymous: TestClient) -> None:
    body = {"username": "newhire", "password": "s3cret-pass", "display_name": "Nico"}
    created = admin.client.post("/api/v1/users", json=body)
    assert created.status_code == 201
    assert "password" not in created.text and "s3cret" not in created.text
    login = anonymous.post(
        "/api/v1/auth/login", json={"username": "newhire", "password": "s3cret-pass"}
    )
    assert login.status_code == 200


def test_passwords_are_stored_as_argon2(admin: Person, db: Session) -> None:
    admin.client.post("/api/v1/users", json={"username": "ana", "password": "s3cret-pass"})
    stored = db.scalars(select(UserRow.password_hash).where(UserRow.username == "ana")).one()
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    assert "$m=8,t=1,p=1$" in stored  # the cost the settings ask for (tests: the cheapest)


def test_non_admins_cannot_create_users_or_promote_themselves(
    people: Callable[..., Person],
) -> None:
    alice = people("alice")
    body = {"username": "mallory", "password": "whatever-1"}
    assert alice.client.post("/api/v1/users", json=body).status_code == 403
    assert alice.client.patch("/api/v1/users/alice", json={"is_admin": True}).status_code == 403
    assert alice.client.get("/api/v1/me").json()["is_admin"] is False


def test_duplicate_username_is_a_conflict(admin: Person) -> None:
    body = {"username": "ana", "password": "s3cret-pass"}
    assert admin.client.post("/api/v1/users", json=body).status_code == 201
    again = admin.client.post("/api/v1/users", json=body)
    assert again.status_code == 409 and again.json()["error"]["field"] == "username"


def test_role_changes_are_audited(
    admin: Person, people: Callable[..., Person], db: Session
) -> None:
    people("alice")
    assert admin.client.patch("/api/v1/users/alice", json={"is_admin": True}).status_code == 200
    event = db.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.updated")).one()
    assert event.actor == "root" and event.target == "alice" and event.detail == {"is_admin": True}


def test_admin_cannot_demote_themselves(admin: Person) -> None:
    response = admin.client.patch("/api/v1/users/root", json={"is_admin": False})
    assert response.status_code == 409
    assert admin.client.get("/api/v1/me").json()["is_admin"] is True


def test_first_admin_is_created_once(app: FastAPI, db: Session) -> None:
    generated = ensure_admin(db, None, passwords=app.state.passwords)
    assert generated and len(generated) >= 12
    assert ensure_admin(db, None, passwords=app.state.passwords) is None
    assert db.scalars(select(UserRow.username).where(UserRow.is_admin)).all() == ["admin"]


def test_first_admin_takes_the_configured_password(
    app: FastAPI, db: Session, anonymous: TestClient
) -> None:
    assert ensure_admin(db, "chosen-by-operator", passwords=app.state.passwords) is None
    login = anonymous.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "chosen-by-operator"}
    )
    assert login.status_code == 200 and login.json()["user"]["is_admin"] is True


def test_changing_your_own_password_needs_the_current_one(
    people: Callable[..., Person], anonymous: TestClient
) -> None:
    alice = people("alice")
    stolen = alice.client.patch("/api/v1/users/alice", json={"password": "taken-over-1"})
    assert stolen.status_code == 403 and stolen.json()["error"]["field"] == "current_password"
    changed = alice.client.patch(
        "/api/v1/users/alice", json={"password": "brand-new-pass", "current_password": PASSWORD}
    )
    assert changed.status_code == 200
    login = anonymous.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "brand-new-pass"}
    )
    assert login.status_code == 200
