"""Brute-force protection: failed sign-ins per username and per address, on every password
route (the cookie login, the CLI's token login, the portal form)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.sessions import COOKIE_NAME
from modelyard.accounts.tables import AuditEventRow
from modelyard.accounts.throttle import Attempt, LoginThrottle, Refusal
from tests.conftest import PASSWORD, Person

# what is tested is the process's memory, not the database
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ROUTES = ("api-login", "api-token", "portal")
WRONG = "not-the-password"
WINDOW = 900  # the default settings: 10 per username, 50 per address, in 15 minutes
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
ACCOUNT_LOCKED = "too many failed sign-ins for this account"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    """The app's throttle, as configured, on a clock the test moves."""
    fake = FakeClock()
    app.state.login_throttle = LoginThrottle.from_settings(app.state.settings, clock=fake)
    return fake


@pytest.fixture
def clients(app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    """`clients(ip)`: a cookie-only client (like a browser or the CLI) from that address."""
    made: list[TestClient] = []

    def make(ip: str = "203.0.113.1") -> TestClient:
        client = TestClient(app, follow_redirects=False, client=(ip, 50000))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def sign_in(client: TestClient, route: str, username: str, password: str) -> Any:
    if route == "api-login":
        body = {"username": username, "password": password}
        return client.post("/api/v1/auth/login", json=body)
    if route == "api-token":
        body = {"username": username, "password": password, "name": "laptop"}
        return client.post("/api/v1/auth/token", json=body)
    client.cookies.delete(COOKIE_NAME)  # signed in, /login would send the client on
    page = client.get("/login")
    match = CSRF_FIELD.search(page.text)
    assert match, page.text[:300]
    form = {"username": username, "password": password, "next": "/", "csrf_token": match[1]}
    return client.post("/login", data=form)


def succeeded(route: str, response: Any) -> bool:
    return int(response.status_code) == {"api-login": 200, "api-token": 201, "portal": 303}[route]


def assert_refused(route: str, response: Any, *, retry_after: int, text: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(retry_after)
    assert f"{COOKIE_NAME}=" not in ";".join(response.headers.get_list("set-cookie"))
    if route == "portal":
        # the login page again, the message in its form, the username kept
        assert 'action="/login"' in response.text
        assert f"Too many failed sign-ins {text}" in response.text
        assert "even the right password is refused" in response.text
        return
    error = response.json()["error"]
    assert error["code"] == "too_many_requests"
    assert error["message"].startswith(f"too many failed sign-ins {text}")
    assert f"try again in {retry_after} s" in error["message"]
    assert "even the right password is refused" in error["message"]


def fail(client: TestClient, route: str, username: str, times: int) -> None:
    for _ in range(times):
        response = sign_in(client, route, username, WRONG)
        assert response.status_code == 401, response.text


@SQLITE
@pytest.mark.parametrize("route", ROUTES)
def test_the_eleventh_failure_is_refused_unchecked_even_with_the_right_password(
    route: str, clock: FakeClock, clients: Callable[..., TestClient], people: Callable[..., Person]
) -> None:
    people("alice")
    client = clients()
    fail(client, route, "alice", 10)
    clock.now += 60
    refused = sign_in(client, route, "alice", WRONG)
    assert_refused(route, refused, retry_after=WINDOW - 60, text="for this account")
    right = sign_in(client, route, "alice", PASSWORD)
    assert_refused(route, right, retry_after=WINDOW - 60, text="for this account")
    if route == "portal":
        assert 'value="alice"' in right.text
    else:
        assert right.json()["error"]["field"] == "username"


@SQLITE
def test_the_lock_is_per_username_until_the_address_limit(
    clock: FakeClock, clients: Callable[..., TestClient], people: Callable[..., Person]
) -> None:
    people("bob")
    client = clients()
    fail(client, "api-login", "alice", 10)
    assert sign_in(client, "api-login", "alice", PASSWORD).status_code == 429
    assert sign_in(client, "api-login", "bob", PASSWORD).status_code == 200
    # 49 failures from this address, over usernames none of which is locked yet...
    for name in ("carol", "dave", "erin"):
        fail(client, "api-token", name, 10)
    fail(client, "portal", "frank", 9)
    assert sign_in(client, "api-token", "bob", PASSWORD).status_code == 201
    # ...and the 50th locks the address, for every username on every route.
    fail(client, "api-login", "grace", 1)
    for route in ROUTES:
        refused = sign_in(client, route, "bob", PASSWORD)
        assert_refused(route, refused, retry_after=WINDOW, text="from your address")
    assert sign_in(client, "api-login", "bob", PASSWORD).json()["error"]["field"] is None
    # Another address is not locked, except for the username that is.
    other = clients("198.51.100.7")
    assert sign_in(other, "portal", "bob", PASSWORD).status_code == 303
    assert sign_in(other, "api-login", "alice", PASSWORD).status_code == 429


@SQLITE
def test_a_success_starts_the_username_afresh(
    clock: FakeClock, clients: Callable[..., TestClient], people: Callable[..., Person]
) -> None:
    people("alice")
    client = clients()
    fail(client, "api-login", "alice", 9)
    assert sign_in(client, "portal", "alice", PASSWORD).status_code == 303
    fail(client, "api-token", "alice", 10)
    assert sign_in(client, "api-login", "alice", PASSWORD).status_code == 429


@SQLITE
def test_an_unknown_username_is_throttled_like_a_known_one(
    clock: FakeClock,
    clients: Callable[..., TestClient],
    people: Callable[..., Person],
    app: FastAPI,
) -> None:
    people("alice")
    answers: dict[str, list[tuple[int, str, str | None]]] = {}
    for username in ("alice", "ghost"):
        # each from its own address, so only the username limit is in play
        client = clients("192.0.2.1" if username == "alice" else "192.0.2.2")
        seen = []
        for _ in range(12):
            response = sign_in(client, "api-login", username, WRONG)
            seen.append(
                (
                    response.status_code,
                    response.json()["error"]["message"],
                    response.headers.get("retry-after"),
                )
            )
        answers[username] = seen
    assert answers["alice"] == answers["ghost"]
    assert [status for status, _, _ in answers["ghost"]] == [401] * 10 + [429] * 2
    # Usernames are counted as they are looked up: without case or surrounding spaces.
    people("mallory")
    client = clients("192.0.2.3")
    for spelling in ("Mallory", "MALLORY ", " mallory") * 3 + ("mallory",):
        assert sign_in(client, "api-login", spelling, WRONG).status_code == 401
    assert sign_in(client, "api-login", "mallory", PASSWORD).status_code == 429


@SQLITE
def test_after_the_window_sign_ins_work_again(
    clock: FakeClock, clients: Callable[..., TestClient], people: Callable[..., Person]
) -> None:
    people("alice")
    client = clients()
    fail(client, "api-login", "alice", 5)
    clock.now += 300
    fail(client, "api-login", "alice", 5)
    clock.now += WINDOW - 301
    # the window slides: the lock lifts when the first five failures leave it
    assert_refused(
        "api-login",
        sign_in(client, "api-login", "alice", PASSWORD),
        retry_after=1,
        text="for this account",
    )
    clock.now += 1
    fail(client, "api-login", "alice", 5)  # five places came free
    assert sign_in(client, "api-login", "alice", PASSWORD).status_code == 429
    clock.now += 300
    assert sign_in(client, "api-token", "alice", PASSWORD).status_code == 201
    assert sign_in(client, "portal", "alice", PASSWORD).status_code == 303


@SQLITE
def test_a_lockout_is_audited_once_and_no_password_is_recorded(
    clock: FakeClock,
    clients: Callable[..., TestClient],
    people: Callable[..., Person],
    db: Session,
) -> None:
    people("alice")
    client = clients()
    fail(client, "api-login", "alice", 10)
    for route in ROUTES:
        assert sign_in(client, route, "alice", PASSWORD).status_code == 429
    events = db.scalars(select(AuditEventRow).order_by(AuditEventRow.id)).all()
    actions = [event.action for event in events]
    assert actions.count("login.failed") == 10
    assert actions.count("login.throttled") == 1
    throttled = next(e for e in events if e.action == "login.throttled")
    assert (throttled.target, throttled.ip) == ("alice", "203.0.113.1")
    assert throttled.detail == {"limit": "username", "retry_after": WINDOW}
    recorded = str([(e.actor, e.target, e.detail) for e in events])
    assert PASSWORD not in recorded and WRONG not in recorded
    # once the lock has lifted, the next lockout is audited again
    clock.now += WINDOW
    fail(client, "api-login", "alice", 10)
    assert sign_in(client, "api-login", "alice", PASSWORD).status_code == 429
    db.rollback()  # a fresh snapshot
    assert db.scalars(select(AuditEventRow.action)).all().count("login.throttled") == 2


@SQLITE
def test_the_openapi_document_declares_the_429(anonymous: TestClient) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/token"):
        refused = paths[path]["post"]["responses"]["429"]
        assert refused["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
        assert "Retry-After" in refused["headers"]


def test_concurrent_guesses_cannot_overshoot_the_limit() -> None:
    throttle = LoginThrottle(max_failures=10, max_failures_per_ip=1000, window_seconds=60)
    outcomes: list[Attempt | Refusal] = []
    start = threading.Barrier(20)

    def guess() -> None:
        start.wait()
        for _ in range(5):
            outcomes.append(throttle.begin("alice", "192.0.2.1"))

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Attempt) for o in outcomes) == 10
    assert sum(isinstance(o, Refusal) and o.first for o in outcomes) == 1


def test_memory_is_bounded_by_forgetting_the_least_recent_keys() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        max_failures=1, max_failures_per_ip=1000, window_seconds=60, max_keys=3, clock=clock
    )
    for name in ("a", "b", "c"):
        throttle.begin(name, "")
    assert isinstance(throttle.begin("a", ""), Refusal)  # "a" is now the most recent
    throttle.begin("d", "")  # pushes out "b"
    assert isinstance(throttle.begin("b", ""), Attempt)
    assert isinstance(throttle.begin("a", ""), Refusal)
    clock.now += 60
    assert isinstance(throttle.begin("a", ""), Attempt)
