from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from modelyard.accounts.credentials import digest
from modelyard.accounts.sessions import COOKIE_NAME, CSRF_COOKIE_NAME, CSRF_HEADER
from modelyard.accounts.tables import AuditEventRow, SessionRow, TokenRow, UserRow
from modelyard.db import utcnow
from tests.conftest import PASSWORD, Person


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_login_sets_httponly_session_cookie_and_me_works(
    anonymous: TestClient, people: Callable[..., Person]
) -> None:
    people("alice")
    response = anonymous.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 200
    cookie_header = ";".join(response.headers.get_list("set-cookie"))
    assert f"{COOKIE_NAME}=" in cookie_header
    session_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE_NAME)
    )
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert anonymous.get("/api/v1/me").json()["username"] == "alice"


def test_wrong_password_is_401_and_audited(
    anonymous: TestClient, people: Callable[..., Person], db: Session
) -> None:
    people("alice")
    response = anonymous.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "nope-nope"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "nope-nope" not in response.text
    actions = db.scalars(select(AuditEventRow.action)).all()
    assert "login.failed" in actions
    unknown = anonymous.post(
        "/api/v1/auth/login", json={"username": "ghost", "password": "whatever1"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == response.json()["error"]["message"]


def test_logout_ends_the_session_server_side(
    anonymous: TestClient, people: Callable[..., Person]
) -> None:
    people("alice")
    csrf = str(login(anonymous, "alice")["csrf_token"])
    stolen = anonymous.cookies.get(COOKIE_NAME)
    assert anonymous.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
    anonymous.cookies.set(COOKIE_NAME, stolen or "")
    replay = anonymous.get("/api/v1/me")
    assert replay.status_code == 401


def test_expired_session_is_refused(
    anonymous: TestClient, people: Callable[..., Person], db: Session
) -> None:
    people("alice")
    login(anonymous, "alice")
    assert anonymous.get("/api/v1/me").status_code == 200
    db.execute(update(SessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    response = anonymous.get("/api/v1/me")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_cookie_authenticated_writes_need_the_csrf_header(
    anonymous: TestClient, people: Callable[..., Person]
) -> None:
    people("alice")
    csrf = str(login(anonymous, "alice")["csrf_token"])
    body = {"slug": "p1", "name": "P1"}
    forged = anonymous.post("/api/v1/projects", json=body)
    assert forged.status_code == 403
    assert anonymous.get("/api/v1/projects").json()["items"] == []
    assert anonymous.cookies.get(CSRF_COOKIE_NAME) == csrf
    ok = anonymous.post("/api/v1/projects", json=body, headers={CSRF_HEADER: csrf})
    assert ok.status_code == 201


def test_token_is_shown_once_stored_hashed_and_revocable(
    people: Callable[..., Person], db: Session, anonymous: TestClient
) -> None:
    alice = people("alice")
    created = alice.client.post("/api/v1/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("myd_")
    stored = db.scalars(select(TokenRow).where(TokenRow.name == "laptop")).one()
    assert stored.token_hash == digest(secret) and secret not in stored.token_hash
    listed = alice.client.get("/api/v1/tokens").json()["items"]
    assert all("token" not in item for item in listed)
    assert secret not in alice.client.get("/api/v1/tokens").text

    headers = {"Authorization": f"Bearer {secret}"}
    assert anonymous.get("/api/v1/me", headers=headers).status_code == 200
    db.expire_all()
    assert db.get(TokenRow, stored.id).last_used_at is not None  # type: ignore[union-attr]

    revoked = alice.client.delete(f"/api/v1/tokens/{stored.id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = anonymous.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    actions = db.scalars(select(AuditEventRow.action)).all()
    assert "token.created" in actions and "token.revoked" in actions


def test_expired_token_is_refused(people: Callable[..., Person], db: Session) -> None:
    alice = people("alice")
    db.execute(update(TokenRow).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    response = alice.client.get("/api/v1/me")
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_users_cannot_revoke_each_others_tokens(people: Callable[..., Person], db: Session) -> None:
    alice, bob = people("alice"), people("bob")
    bob_token = db.scalars(
        select(TokenRow.id)
        .join(UserRow, UserRow.id == TokenRow.user_id)
        .where(UserRow.username == "bob")
    ).one()
    assert alice.client.delete(f"/api/v1/tokens/{bob_token}").status_code == 404
    assert bob.client.get("/api/v1/me").status_code == 200


def test_token_login_for_the_cli(anonymous: TestClient, people: Callable[..., Person]) -> None:
    people("alice")
    response = anonymous.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD, "name": "cli@box"}
    )
    assert response.status_code == 201
    token = response.json()["token"]
    me = anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "alice"


def test_malformed_authorization_header(anonymous: TestClient) -> None:
    for header in ("Basic abc", "Bearer", "Bearer myd_not-a-real-token"):
        response = anonymous.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "not_authenticated"


def test_deactivated_user_is_locked_out(
    admin: Person, people: Callable[..., Person], anonymous: TestClient
) -> None:
    alice = people("alice")
    assert admin.client.patch("/api/v1/users/alice", json={"is_active": False}).status_code == 200
    assert alice.client.get("/api/v1/me").status_code == 401
    response = anonymous.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 401


def test_audit_log_is_for_admins_only(admin: Person, people: Callable[..., Person]) -> None:
    alice = people("alice")
    assert alice.client.get("/api/v1/audit").status_code == 403
    events = admin.client.get("/api/v1/audit").json()["items"]
    assert {e["action"] for e in events} >= {"token.created"}
