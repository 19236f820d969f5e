"""The portal rendered on the server: sign-in, CSRF, redirects, escaping, roles, admin pages."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.csrf import new_csrf_token
from modelyard.accounts.sessions import COOKIE_NAME, CSRF_COOKIE_NAME
from modelyard.accounts.tables import SessionRow, UserRow
from modelyard.projects.tables import ProjectRow
from tests.conftest import PASSWORD, SECRET_KEY, Person

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
NEW_TOKEN = re.compile(r'<pre data-testid="new-token">([^<]+)</pre>')

SignIn = Callable[[str], TestClient]


class Answer(Protocol):
    """What the tests read of a TestClient response (httpx or httpx2, whichever it uses)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Any: ...


def csrf_of(page: Answer) -> str:
    """The CSRF token the page put in its forms (what a browser would submit)."""
    match = CSRF_FIELD.search(page.text)
    assert match, f"no csrf_token field in {page.text[:300]!r}"
    return html.unescape(match.group(1))


def set_cookies(response: Answer) -> str:
    return "\n".join(response.headers.get_list("set-cookie"))


def login_form(client: TestClient, username: str, password: str, next_path: str = "/") -> Answer:
    page = client.get("/login")
    assert page.status_code == 200
    data = {
        "username": username,
        "password": password,
        "next": next_path,
        "csrf_token": csrf_of(page),
    }
    return client.post("/login", data=data)


@pytest.fixture
def sign_in(browser_clients: Callable[[], TestClient]) -> SignIn:
    """`sign_in("alice")` answers a client signed in to the portal through the login form."""

    def make(username: str) -> TestClient:
        client = browser_clients()
        response = login_form(client, username, PASSWORD)
        assert response.status_code == 303, response.text
        assert client.cookies.get(COOKIE_NAME)
        return client

    return make


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    """owner owns 'churn' (editor and viewer are members); outsider is no member."""
    team = {name: people(name) for name in ("owner", "editor", "viewer", "outsider")}
    created = team["owner"].client.post(
        "/api/v1/projects",
        json={"slug": "churn", "name": "Churn forecast", "description": "# Churn\n\nPredicts it."},
    )
    assert created.status_code == 201, created.text
    for name in ("editor", "viewer"):
        response = team["owner"].client.put(
            f"/api/v1/projects/churn/members/{name}", json={"role": name}
        )
        assert response.status_code == 200, response.text
    return team


class Markup(HTMLParser):
    """Every element and attribute of a page, as a browser would build them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def assert_no_active_content(text: str) -> None:
    """No script element, no event-handler attribute, no javascript: URL anywhere."""
    assert "<script" not in text.lower()
    assert 'href="javascript:' not in text.lower()
    for tag, attrs in Markup(text).tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}={value!r}>"
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), value


# --- sign-in ---------------------------------------------------------------------------------


def test_login_form_lands_on_the_overview_with_my_projects(
    people: Callable[..., Person], browser_clients: Callable[[], TestClient]
) -> None:
    alice = people("alice")
    alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn forecast"})
    people("bob").client.post("/api/v1/projects", json={"slug": "secret", "name": "Bob only"})
    client = browser_clients()

    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="password"' in page.text and 'type="password"' in page.text
    assert client.cookies.get(CSRF_COOKIE_NAME) == csrf_of(page)

    response = login_form(client, "alice", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE_NAME}=")
    )
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie

    overview = client.get("/")
    assert overview.status_code == 200
    assert '<span data-testid="whoami">alice</span>' in overview.text
    assert "Churn forecast" in overview.text and 'href="/projects/churn"' in overview.text
    assert "Bob only" not in overview.text and "/projects/secret" not in overview.text
    # Signed in, the login page sends you on.
    again = client.get("/login")
    assert again.status_code == 303 and again.headers["location"] == "/"


def test_overview_without_projects_says_how_to_start(
    sign_in: SignIn, people: Callable[..., Person]
) -> None:
    people("alice")
    page = sign_in("alice").get("/")
    assert page.status_code == 200
    assert 'data-testid="empty-overview"' in page.text
    assert 'action="/projects"' in page.text


def test_wrong_password_says_so_with_401_and_sets_no_session(
    people: Callable[..., Person], browser_clients: Callable[[], TestClient], db: Session
) -> None:
    people("alice")
    client = browser_clients()
    for username, password in (("alice", "not-the-password"), ("ghost", PASSWORD)):
        response = login_form(client, username, password)
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert "not-the-password" not in response.text
        assert f"{COOKIE_NAME}=" not in set_cookies(response)
        assert client.cookies.get(COOKIE_NAME) is None
    assert db.scalars(select(SessionRow)).all() == []
    # The username is kept in the form, escaped.
    assert 'value="ghost"' in response.text
    still_out = client.get("/")
    assert still_out.status_code == 303
    assert still_out.headers["location"].startswith("/login")


def test_logout_ends_the_session(sign_in: SignIn, people: Callable[..., Person]) -> None:
    people("alice")
    client = sign_in("alice")
    session_id = client.cookies.get(COOKIE_NAME)
    token = csrf_of(client.get("/"))

    refused = client.post("/logout", data={})
    assert refused.status_code == 403
    assert client.get("/").status_code == 200

    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.cookies.get(COOKIE_NAME) is None
    out = client.get("/")
    assert out.status_code == 303 and out.headers["location"].startswith("/login?next=")
    # The old session id is dead on the server, not only forgotten by the browser.
    client.cookies.set(COOKIE_NAME, session_id or "")
    replay = client.get("/")
    assert replay.status_code == 303
    assert replay.headers["location"] == "/login?next=/&expired=1"
    notice = client.get(replay.headers["location"])
    assert notice.status_code == 200
    assert "Your session has ended" in notice.text


# --- CSRF ------------------------------------------------------------------------------------


def test_login_post_without_or_with_wrong_csrf_is_refused(
    people: Callable[..., Person], browser_clients: Callable[[], TestClient], db: Session
) -> None:
    people("alice")
    client = browser_clients()
    client.get("/login")
    credentials = {"username": "alice", "password": PASSWORD, "next": "/"}
    for extra in ({}, {"csrf_token": ""}, {"csrf_token": new_csrf_token(SECRET_KEY, None)}):
        response = client.post("/login", data={**credentials, **extra})
        assert response.status_code == 403, extra
        assert "Not allowed" in response.text
        assert f"{COOKIE_NAME}=" not in set_cookies(response)
    assert db.scalars(select(SessionRow)).all() == []


def test_form_posts_without_a_matching_signed_csrf_token_change_nothing(
    team: dict[str, Person], sign_in: SignIn, db: Session
) -> None:
    client = sign_in("owner")
    good = csrf_of(client.get("/"))
    # valid for this very session, but not the token in the cookie
    forged_but_signed = new_csrf_token(SECRET_KEY, client.cookies.get(COOKIE_NAME))
    attempts: list[tuple[str, dict[str, str]]] = [
        ("/projects", {"slug": "planted", "name": "Planted"}),
        ("/projects/churn/edit", {"name": "Defaced", "description": "defaced"}),
        ("/projects/churn/members", {"username": "outsider", "role": "owner"}),
        ("/projects/churn/members/viewer/remove", {}),
        ("/projects/churn/archive", {"archived": "true"}),
        ("/tokens", {"name": "planted"}),
    ]
    for path, fields in attempts:
        for token in (None, "", "not-a-token", forged_but_signed, good + "x"):
            data = fields if token is None else {**fields, "csrf_token": token}
            response = client.post(path, data=data)
            assert response.status_code == 403, (path, token)
            assert "this form has expired" in response.text

    # A cookie the attacker planted (same value in cookie and form) is not signed: refused.
    client.cookies.set(CSRF_COOKIE_NAME, "attacker.chosen")
    planted = client.post(
        "/projects", data={"slug": "planted", "name": "P", "csrf_token": "attacker.chosen"}
    )
    assert planted.status_code == 403

    project = team["owner"].client.get("/api/v1/projects/churn").json()
    assert project["name"] == "Churn forecast" and not project["archived"]
    assert {m["username"] for m in project["members"]} == {"owner", "editor", "viewer"}
    assert db.scalar(select(ProjectRow).where(ProjectRow.slug == "planted")) is None
    tokens = team["owner"].client.get("/api/v1/tokens").json()["items"]
    assert [t["name"] for t in tokens] == ["test"]


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "next_value"),
    [
        ("/", "/"),
        ("/projects/churn", "/projects/churn"),
        ("/tokens", "/tokens"),
        ("/admin/users", "/admin/users"),
        ("/admin/audit?action=login", "/admin/audit%3Faction%3Dlogin"),
    ],
)
def test_pages_send_strangers_to_login_and_back(
    people: Callable[..., Person],
    browser_clients: Callable[[], TestClient],
    path: str,
    next_value: str,
) -> None:
    people("root", is_admin=True).client.post(
        "/api/v1/projects", json={"slug": "churn", "name": "Churn"}
    )
    client = browser_clients()
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={next_value}"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert f'name="next" value="{html.escape(path)}"' in page.text
    signed_in = login_form(client, "root", PASSWORD, next_path=path)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == path
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_next_cannot_leave_the_site(
    people: Callable[..., Person], browser_clients: Callable[[], TestClient], evil: str
) -> None:
    people("alice")
    client = browser_clients()
    page = client.get("/login", params={"next": evil})
    assert page.status_code == 200
    assert 'name="next" value="/"' in page.text
    response = login_form(client, "alice", PASSWORD, next_path=evil)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    # Already signed in, GET /login redirects at once: still only on-site.
    again = client.get("/login", params={"next": evil})
    assert again.status_code == 303 and again.headers["location"] == "/"


# --- escaping and headers --------------------------------------------------------------------

XSS_DESCRIPTION = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))\n\n"
    "<script>alert(1)</script>\n\n"
    "<img src=x onerror=alert(1)>\n\n"
    "[click me](javascript:alert(1)) and [also](JaVaScRiPt:alert(1)) "
    'and <a href="javascript:alert(1)">raw</a>\n\n'
    "![img](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n"
)
XSS_NAME = '<script>alert(2)</script><b onmouseover=alert(3)>Evil</b>" onfocus="alert(4)'


def test_stored_xss_in_description_and_name_renders_escaped(
    people: Callable[..., Person], sign_in: SignIn
) -> None:
    alice = people("alice")
    created = alice.client.post(
        "/api/v1/projects", json={"slug": "xss", "name": XSS_NAME, "description": XSS_DESCRIPTION}
    )
    assert created.status_code == 201, created.text
    client = sign_in("alice")

    project = client.get("/projects/xss")
    assert project.status_code == 200
    assert_no_active_content(project.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in project.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in project.text
    assert "[click me](javascript:alert(1))" in project.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;&lt;b onmouseover=alert(3)&gt;Evil" in project.text
    heading = re.search(r'<h1 data-testid="project-name">(.*?)</h1>', project.text)
    assert heading and html.unescape(heading.group(1)) == XSS_NAME

    overview = client.get("/")
    assert overview.status_code == 200
    assert_no_active_content(overview.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in overview.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in overview.text

    # The edit form shows the stored text back verbatim (escaped), ready to fix.
    textarea = re.search(r'<textarea name="description"[^>]*>(.*?)</textarea>', project.text, re.S)
    assert textarea and html.unescape(textarea.group(1)) == XSS_DESCRIPTION


def test_markdown_description_still_renders(people: Callable[..., Person], sign_in: SignIn) -> None:
    people("alice").client.post(
        "/api/v1/projects",
        json={
            "slug": "md",
            "name": "Markdown",
            "description": "# Title\n\nSome **bold** and a [link](https://example.org/x).",
        },
    )
    page = sign_in("alice").get("/projects/md")
    assert "<h1>Title</h1>" in page.text
    assert "<strong>bold</strong>" in page.text
    assert '<a href="https://example.org/x">link</a>' in page.text


def test_pages_carry_a_content_security_policy(
    team: dict[str, Person], sign_in: SignIn, browser_clients: Callable[[], TestClient]
) -> None:
    client = sign_in("owner")
    stranger = browser_clients()
    pages = [
        stranger.get("/login"),
        client.get("/"),
        client.get("/projects/churn"),
        client.get("/tokens"),
        client.get("/projects/nope"),
        client.get("/admin/users"),
        client.post("/projects", data={"slug": "x"}),
    ]
    for page in pages:
        policy = page.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, page.request.url
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers.get("x-content-type-options") == "nosniff"
        assert page.headers.get("x-frame-options") == "DENY"
    for page in pages[:4]:
        assert page.headers.get("cache-control") == "no-store"
        assert page.headers["content-type"].startswith("text/html")


# --- roles -----------------------------------------------------------------------------------


def test_non_member_gets_the_same_404_page_as_for_a_missing_project(
    team: dict[str, Person], sign_in: SignIn
) -> None:
    client = sign_in("outsider")
    hidden = client.get("/projects/churn")
    missing = client.get("/projects/no-such-project")
    for page in (hidden, missing):
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in page.text
    assert "Churn forecast" not in hidden.text and "Predicts it" not in hidden.text
    assert "Churn forecast" not in client.get("/").text


def test_a_viewer_sees_the_project_but_no_edit_or_member_forms(
    team: dict[str, Person], sign_in: SignIn
) -> None:
    client = sign_in("viewer")
    page = client.get("/projects/churn")
    assert page.status_code == 200
    assert "Churn forecast" in page.text and "Predicts it." in page.text
    assert "you are viewer" in page.text
    for name in ("owner", "editor", "viewer"):
        assert f'<span class="muted">{name}</span>' in page.text
    assert 'action="/projects/churn/edit"' not in page.text
    assert 'action="/projects/churn/members' not in page.text
    assert 'action="/projects/churn/archive"' not in page.text
    assert "<textarea" not in page.text

    # Forging the form anyway is refused by the server, and nothing changes.
    token = csrf_of(page)
    edit = client.post("/projects/churn/edit", data={"name": "Mine", "csrf_token": token})
    assert edit.status_code == 403
    assert "this needs the editor role" in edit.text
    promote = client.post(
        "/projects/churn/members", data={"username": "viewer", "role": "owner", "csrf_token": token}
    )
    assert promote.status_code == 403
    project = team["owner"].client.get("/api/v1/projects/churn").json()
    assert project["name"] == "Churn forecast"
    assert {m["username"]: m["role"] for m in project["members"]}["viewer"] == "viewer"


def test_an_editor_may_edit_but_not_manage_members(
    team: dict[str, Person], sign_in: SignIn
) -> None:
    client = sign_in("editor")
    page = client.get("/projects/churn")
    assert 'action="/projects/churn/edit"' in page.text
    assert 'action="/projects/churn/members' not in page.text
    assert 'action="/projects/churn/archive"' not in page.text
    saved = client.post(
        "/projects/churn/edit",
        data={"name": "Churn v2", "description": "Now *better*.", "csrf_token": csrf_of(page)},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/projects/churn?done=saved"
    after = client.get(saved.headers["location"])
    assert "Changes saved." in after.text and "<em>better</em>" in after.text


def test_the_owner_manages_members_through_the_forms(
    team: dict[str, Person], sign_in: SignIn
) -> None:
    client = sign_in("owner")
    page = client.get("/projects/churn")
    assert 'action="/projects/churn/edit"' in page.text
    assert 'action="/projects/churn/members/viewer/remove"' in page.text
    assert 'aria-label="User to add"' in page.text and "<option>outsider</option>" in page.text
    token = csrf_of(page)
    added = client.post(
        "/projects/churn/members",
        data={"username": "outsider", "role": "editor", "csrf_token": token},
    )
    assert added.status_code == 303
    assert added.headers["location"] == "/projects/churn?done=member-set"
    removed = client.post("/projects/churn/members/viewer/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    members = team["owner"].client.get("/api/v1/projects/churn/members").json()["items"]
    assert {m["username"]: m["role"] for m in members} == {
        "owner": "owner",
        "editor": "editor",
        "outsider": "editor",
    }
    unknown = client.post(
        "/projects/churn/members", data={"username": "ghost", "role": "viewer", "csrf_token": token}
    )
    assert unknown.status_code in (404, 422)


# --- admin pages -----------------------------------------------------------------------------

ADMIN_PAGES = ("/admin/users", "/admin/audit", "/admin/tokens")


def test_admin_pages_are_403_for_non_admins(
    people: Callable[..., Person], sign_in: SignIn, db: Session
) -> None:
    people("alice")
    client = sign_in("alice")
    overview = client.get("/")
    for path in ADMIN_PAGES:
        assert f'href="{path}"' not in overview.text
        page = client.get(path)
        assert page.status_code == 403, path
        assert "<h1>Not allowed</h1>" in page.text
    forged = client.post(
        "/admin/users",
        data={
            "username": "mallory",
            "password": "long-enough-1",
            "is_admin": "on",
            "csrf_token": csrf_of(overview),
        },
    )
    assert forged.status_code == 403
    promote = client.post(
        "/admin/users/alice", data={"is_admin": "true", "csrf_token": csrf_of(overview)}
    )
    assert promote.status_code == 403
    assert db.scalar(select(UserRow).where(UserRow.username == "mallory")) is None
    db.expire_all()
    alice = db.scalar(select(UserRow).where(UserRow.username == "alice"))
    assert alice is not None and not alice.is_admin


def test_admin_pages_work_for_admins(
    admin: Person, people: Callable[..., Person], sign_in: SignIn, db: Session
) -> None:
    people("alice")
    client = sign_in("root")
    overview = client.get("/")
    for path in ADMIN_PAGES:
        assert f'href="{path}"' in overview.text

    users = client.get("/admin/users")
    assert users.status_code == 200
    assert 'data-testid="users"' in users.text and "alice" in users.text
    audit = client.get("/admin/audit")
    assert audit.status_code == 200
    assert "<code>login</code>" in audit.text
    filtered = client.get("/admin/audit", params={"action": "no.such.action"})
    assert filtered.status_code == 200 and "Nothing recorded" in filtered.text
    tokens = client.get("/admin/tokens")
    assert tokens.status_code == 200
    assert "All API tokens" in tokens.text and "<td>alice</td>" in tokens.text

    created = client.post(
        "/admin/users",
        data={
            "username": "carol",
            "display_name": "Carol",
            "password": "long-enough-1",
            "csrf_token": csrf_of(users),
        },
    )
    assert created.status_code == 303 and created.headers["location"] == "/admin/users"
    carol = db.scalar(select(UserRow).where(UserRow.username == "carol"))
    assert carol is not None and not carol.is_admin
    bad = client.post(
        "/admin/users",
        data={"username": "dave", "password": "short", "csrf_token": csrf_of(users)},
    )
    assert bad.status_code == 422 and "password" in bad.text


# --- tokens ----------------------------------------------------------------------------------


def test_a_new_token_is_shown_once(
    people: Callable[..., Person], sign_in: SignIn, anonymous: TestClient
) -> None:
    people("alice")
    client = sign_in("alice")
    page = client.get("/tokens")
    assert page.status_code == 200 and "No tokens yet" not in page.text  # the fixture's token

    response = client.post("/tokens", data={"name": "laptop", "csrf_token": csrf_of(page)})
    assert response.status_code == 200
    assert response.headers.get("cache-control") == "no-store"
    match = NEW_TOKEN.search(response.text)
    assert match, response.text
    secret = html.unescape(match.group(1)).strip()
    assert len(secret) >= 20

    later = client.get("/tokens")
    assert later.status_code == 200
    assert secret not in later.text
    assert 'data-testid="new-token"' not in later.text
    assert "<td>laptop</td>" in later.text

    me = anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"


# --- creating a project ----------------------------------------------------------------------


def test_creating_a_project_through_the_overview_form(
    people: Callable[..., Person], sign_in: SignIn
) -> None:
    alice = people("alice")
    client = sign_in("alice")
    form = {
        "slug": "churn",
        "name": "Churn forecast",
        "description": "Who leaves, and why.",
        "csrf_token": csrf_of(client.get("/")),
    }
    response = client.post("/projects", data=form)
    assert response.status_code == 303
    assert response.headers["location"] == "/projects/churn?done=created"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Project created." in page.text and "Who leaves, and why." in page.text
    assert "you are owner" in page.text
    assert "Churn forecast" in client.get("/").text
    assert alice.client.get("/api/v1/projects/churn").json()["owners"] == ["alice"]


@pytest.mark.parametrize("slug", ["Bad Slug!", "-dash", "UPPER", "a" * 64, ""])
def test_a_bad_slug_re_renders_the_form_naming_the_field(
    people: Callable[..., Person], sign_in: SignIn, db: Session, slug: str
) -> None:
    people("alice")
    client = sign_in("alice")
    form = {
        "slug": slug,
        "name": "Kept <name>",
        "description": "kept description",
        "csrf_token": csrf_of(client.get("/")),
    }
    response = client.post("/projects", data=form)
    assert response.status_code == 422
    error = re.search(r'<p class="alert" role="alert" data-testid="error">(.*?)</p>', response.text)
    assert error, response.text
    assert "slug" in error.group(1)
    assert "(field: slug)" in error.group(1)
    # The form is open again and keeps what was typed (escaped).
    assert '<details class="card" open>' in response.text
    assert 'value="Kept &lt;name&gt;"' in response.text
    assert ">kept description</textarea>" in response.text
    assert db.scalars(select(ProjectRow)).all() == []


def test_a_taken_slug_is_a_409_naming_the_field(
    people: Callable[..., Person], sign_in: SignIn
) -> None:
    people("bob").client.post("/api/v1/projects", json={"slug": "churn", "name": "Bob's"})
    people("alice")
    client = sign_in("alice")
    response = client.post(
        "/projects",
        data={"slug": "churn", "name": "Mine", "csrf_token": csrf_of(client.get("/"))},
    )
    assert response.status_code == 409
    assert "exists already" in response.text and "(field: slug)" in response.text
