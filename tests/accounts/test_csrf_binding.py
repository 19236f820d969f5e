"""The CSRF token is bound to the login session: a validly signed token from one session is
refused with another, on portal forms and on cookie-authenticated API writes alike; a stale
token (older format, earlier secret key) costs one refused form and the next page fixes it."""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.sessions import COOKIE_NAME, CSRF_COOKIE_NAME, CSRF_HEADER
from modelyard.app import create_app
from modelyard.config import Settings
from modelyard.projects.tables import ProjectRow
from tests.conftest import PASSWORD, SECRET_KEY, Person

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
EXPIRED = "this form has expired"
# where the test client keeps the cookies the server sets for http://testserver
COOKIE_DOMAIN = "testserver.local"

Browser = Callable[[], TestClient]


def csrf_of(text: str) -> str:
    match = CSRF_FIELD.search(text)
    assert match, f"no csrf_token field in {text[:300]!r}"
    return html.unescape(match.group(1))


def form_sign_in(browser: TestClient, username: str) -> str:
    """Sign in through the login form; answer the CSRF token the next page puts in its forms."""
    page = browser.get("/login")
    data = {
        "username": username,
        "password": PASSWORD,
        "next": "/",
        "csrf_token": csrf_of(page.text),
    }
    response = browser.post("/login", data=data)
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/").text)


def api_sign_in(browser: TestClient, username: str) -> str:
    """Sign in through the API, as the portal fixture does; answer the CSRF token it gives."""
    response = browser.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = str(response.json()["csrf_token"])
    assert browser.cookies.get(CSRF_COOKIE_NAME) == token
    return token


def plant(browser: TestClient, token: str) -> None:
    """What an attacker who can set cookies for the site (a sibling subdomain) does: the CSRF
    cookie now holds `token`, in place of the one the server set (not beside it)."""
    browser.cookies.delete(CSRF_COOKIE_NAME)
    browser.cookies.set(CSRF_COOKIE_NAME, token, domain=COOKIE_DOMAIN, path="/")
    echoed = browser.get("/healthz").request.headers["cookie"]
    assert f"{CSRF_COOKIE_NAME}={token}" in echoed and echoed.count(CSRF_COOKIE_NAME) == 1


def new_project(browser: TestClient, token: str, slug: str) -> int:
    data = {"slug": slug, "name": slug.title(), "csrf_token": token}
    return browser.post("/projects", data=data).status_code


def project_slugs(db: Session) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(ProjectRow.slug)).all())


def old_format_token(secret_key: str) -> str:
    """A token as earlier versions minted it: signed, but bound to no session."""
    nonce = secrets.token_urlsafe(18)
    signature = hmac.new(secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{nonce}.{signature}"


@pytest.mark.parametrize("owner_of_a", ["mallory", "alice"])
def test_a_token_from_another_session_is_refused_on_a_portal_form(
    people: Callable[..., Person], browser_clients: Browser, db: Session, owner_of_a: str
) -> None:
    people("alice")
    people("mallory")
    token_a = form_sign_in(
        browser_clients(), owner_of_a
    )  # another user's, or alice's other browser
    victim = browser_clients()
    own = form_sign_in(victim, "alice")
    assert token_a != own

    # The double submit matches (cookie == field) and the signature is valid: still refused.
    plant(victim, token_a)
    refused = victim.post("/projects", data={"slug": "planted", "name": "P", "csrf_token": token_a})
    assert refused.status_code == 403
    assert "Not allowed" in refused.text and EXPIRED in refused.text
    assert project_slugs(db) == set()

    plant(victim, own)
    assert new_project(victim, own, "mine") == 303
    assert project_slugs(db) == {"mine"}


@pytest.mark.parametrize("owner_of_a", ["mallory", "alice"])
def test_a_token_from_another_session_is_refused_on_a_cookie_authenticated_api_write(
    people: Callable[..., Person], browser_clients: Browser, db: Session, owner_of_a: str
) -> None:
    people("alice")
    people("mallory")
    token_a = api_sign_in(browser_clients(), owner_of_a)
    victim = browser_clients()
    own = api_sign_in(victim, "alice")

    plant(victim, token_a)
    body = {"slug": "planted", "name": "Planted"}
    refused = victim.post("/api/v1/projects", json=body, headers={CSRF_HEADER: token_a})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "permission_denied"
    assert CSRF_HEADER in error["message"]
    assert project_slugs(db) == set()
    # a bearer-free read still works: the session itself is fine, only the token is foreign
    assert victim.get("/api/v1/me").json()["username"] == "alice"

    plant(victim, own)
    ok = victim.post(
        "/api/v1/projects", json={"slug": "mine", "name": "Mine"}, headers={CSRF_HEADER: own}
    )
    assert ok.status_code == 201, ok.text
    assert project_slugs(db) == {"mine"}


def test_the_token_survives_normal_use_within_a_session(
    people: Callable[..., Person], browser_clients: Browser, db: Session
) -> None:
    people("alice")
    browser = browser_clients()
    token = form_sign_in(browser, "alice")
    for page in ("/", "/tokens", "/projects/churn"):
        if page == "/projects/churn":
            assert new_project(browser, token, "churn") == 303
        answer = browser.get(page)
        assert answer.status_code == 200
        assert csrf_of(answer.text) == token
        assert f"{CSRF_COOKIE_NAME}=" not in "\n".join(answer.headers.get_list("set-cookie"))
    edit = {"name": "Renamed", "description": "", "csrf_token": token}
    assert browser.post("/projects/churn/edit", data=edit).status_code == 303
    api = browser.patch(
        "/api/v1/projects/churn", json={"name": "Via the API"}, headers={CSRF_HEADER: token}
    )
    assert api.status_code == 200, api.text
    assert browser.cookies.get(CSRF_COOKIE_NAME) == token


def test_after_logout_and_a_new_login_the_old_token_is_refused(
    people: Callable[..., Person], browser_clients: Browser, db: Session
) -> None:
    people("alice")
    browser = browser_clients()
    before_login = csrf_of(browser.get("/login").text)
    old = form_sign_in(browser, "alice")
    assert old != before_login  # signing in rotates the token
    # the login page's token belonged to no session: it is no good with the new one
    plant(browser, before_login)
    assert new_project(browser, before_login, "anonymous") == 403
    plant(browser, old)

    out = browser.post("/logout", data={"csrf_token": old})
    assert out.status_code == 303
    assert browser.cookies.get(CSRF_COOKIE_NAME) is None
    assert browser.cookies.get(COOKIE_NAME) is None

    new = form_sign_in(browser, "alice")
    assert new != old
    plant(browser, old)
    refused = browser.post("/projects", data={"slug": "stale", "name": "S", "csrf_token": old})
    assert refused.status_code == 403 and EXPIRED in refused.text
    api = browser.post(
        "/api/v1/projects", json={"slug": "stale", "name": "S"}, headers={CSRF_HEADER: old}
    )
    assert api.status_code == 403
    assert project_slugs(db) == set()

    plant(browser, new)
    assert new_project(browser, new, "fresh") == 303
    assert project_slugs(db) == {"fresh"}


def test_an_old_format_token_is_replaced_on_the_next_page_and_then_works(
    people: Callable[..., Person], browser_clients: Browser, db: Session
) -> None:
    people("alice")
    browser = browser_clients()
    form_sign_in(browser, "alice")
    session_id = browser.cookies.get(COOKIE_NAME)
    old = old_format_token(SECRET_KEY)
    plant(browser, old)  # what a browser signed in before the upgrade still holds

    refused = browser.post(
        "/api/v1/projects", json={"slug": "before", "name": "B"}, headers={CSRF_HEADER: old}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"

    page = browser.get("/")  # not locked out: the next page issues a token for this session
    assert page.status_code == 200
    fresh = csrf_of(page.text)
    assert fresh != old
    assert f"{CSRF_COOKIE_NAME}={fresh}" in "\n".join(page.headers.get_list("set-cookie"))
    assert browser.cookies.get(CSRF_COOKIE_NAME) == fresh
    assert browser.cookies.get(COOKIE_NAME) == session_id  # still the same session

    assert new_project(browser, fresh, "after") == 303
    api = browser.post(
        "/api/v1/projects", json={"slug": "api", "name": "A"}, headers={CSRF_HEADER: fresh}
    )
    assert api.status_code == 201, api.text
    assert project_slugs(db) == {"after", "api"}

    # A form submitted with the old token is refused, and its error page already carries a
    # token for this session, so submitting again from there works.
    plant(browser, old)
    form = browser.post("/projects", data={"slug": "again", "name": "A", "csrf_token": old})
    assert form.status_code == 403 and EXPIRED in form.text
    reissued = browser.cookies.get(CSRF_COOKIE_NAME)
    assert reissued and reissued != old
    assert new_project(browser, reissued, "again") == 303
    assert project_slugs(db) == {"after", "api", "again"}


def test_a_form_left_open_across_a_secret_key_rotation_is_refused_once(
    settings: Settings, people: Callable[..., Person], browser_clients: Browser, db: Session
) -> None:
    people("alice")
    browser = browser_clients()
    token = form_sign_in(browser, "alice")
    rotated = create_app(settings.model_copy(update={"secret_key": "rotated-key-" + "y" * 32}))
    try:
        after = TestClient(rotated, follow_redirects=False)
        after.cookies = browser.cookies  # the same browser, talking to the restarted server
        refused = after.post("/projects", data={"slug": "left", "name": "L", "csrf_token": token})
        assert refused.status_code == 403 and EXPIRED in refused.text
        reloaded = csrf_of(after.get("/").text)  # still signed in; the reload fixes the form
        assert reloaded != token
        assert new_project(after, reloaded, "reloaded") == 303
        assert project_slugs(db) == {"reloaded"}
        after.close()
    finally:
        rotated.state.engine.dispose()
