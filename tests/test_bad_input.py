"""Bad input to the REST API: always a 4xx in the one error shape, naming the field at fault,
never a 500, and nothing stored changes.

The bad requests come in batches (one test per batch and database). Each runs against a small
world (project 'churn' owned by root, alice a viewer); every table is read before and after each
request, and the API's own view (projects, users, tokens, audit) before and after each batch.
A batch reports every request that misbehaved, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from modelyard.db import Base
from tests.conftest import Person

PROJECTS = "/api/v1/projects"
USERS = "/api/v1/users"
TOKENS = "/api/v1/tokens"
LOGIN = "/api/v1/auth/login"
TOKEN_LOGIN = "/api/v1/auth/token"
AUDIT = "/api/v1/audit"
CHURN = f"{PROJECTS}/churn"
ALICE = f"{USERS}/alice"
MEMBER = f"{CHURN}/members/alice"

SQL = "x'; DROP TABLE projects; --"
TRAVERSAL = "../../etc/passwd"
LONG = 10_000
PASSWORD = "long-enough-password"
NEW_USER = {"username": "bob", "password": PASSWORD}
NEW_PROJECT = {"slug": "fresh", "name": "Fresh"}
ANY = object()  # the answer need not name one particular field
NO_BODY = object()


class Raw(bytes):
    """A body sent as these exact bytes with `Content-Type: application/json`."""


@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    body: object = NO_BODY
    field: object = ANY
    status: int | None = 422  # None: any 4xx

    def __str__(self) -> str:
        body = "" if self.body is NO_BODY else f" {self.body!r}"[:80]
        return f"{self.method} {self.path[:100]}{body}"


def bad_url(
    method: str, path: str, body: object = NO_BODY, *, field: object = ANY, status: int | None = 404
) -> Bad:
    """A bad URL: by default a 404 naming no particular field."""
    return Bad(method, path, body, field, status)


def send(client: TestClient, method: str, path: str, body: object = NO_BODY) -> Response:
    if isinstance(body, Raw):
        headers = {"content-type": "application/json"}
        return client.request(method, path, content=bytes(body), headers=headers)
    if body is NO_BODY:
        return client.request(method, path)
    return client.request(method, path, json=body)


def error_problem(response: Response, status: int | None, field: object = ANY) -> str | None:
    """What is wrong with `response` as an answer to bad input, or None if nothing is."""
    summary = f"{response.status_code} {response.text[:300]}"
    if not 400 <= response.status_code < 500:
        return f"not a 4xx: {summary}"
    if status is not None and response.status_code != status:
        return f"expected {status}: {summary}"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {summary}"
    if not (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(body["error"], dict)
        and set(body["error"]) == {"code", "message", "field"}
        and isinstance(body["error"]["code"], str)
        and isinstance(body["error"]["message"], str)
    ):
        return f"not the error shape: {summary}"
    if field is not ANY and body["error"]["field"] != field:
        return f"expected field {field!r}: {summary}"
    return None


def assert_error(response: Response, status: int | None, field: object = ANY) -> None:
    problem = error_problem(response, status, field)
    assert problem is None, problem


def api_view(client: TestClient) -> dict[str, Any]:
    """Everything the API shows an admin of what is stored."""
    tokens = client.get(f"{TOKENS}?all=true").json()["items"]
    return {
        "projects": client.get(f"{PROJECTS}?archived=true").json(),
        "members": client.get(f"{CHURN}/members").json(),
        "users": client.get(USERS).json(),
        # last_used_at moves by itself (once a minute at most); the rest must not.
        "tokens": [{k: v for k, v in t.items() if k != "last_used_at"} for t in tokens],
        "audit": client.get(f"{AUDIT}?limit=1000").json(),
    }


def stored(app: FastAPI) -> dict[str, list[Any]]:
    """Every row of every table, in primary-key order (token last-use times left out)."""
    rows: dict[str, list[Any]] = {}
    with app.state.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "last_used_at"]
            query = select(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(query)]
    return rows


@pytest.fixture
def world(admin: Person, people: Callable[..., Person]) -> Person:
    """Project 'churn' owned by root, with alice as a viewer. Answers root (an admin)."""
    people("alice")
    created = admin.client.post(PROJECTS, json={"slug": "churn", "name": "Churn"})
    assert created.status_code == 201, created.text
    added = admin.client.put(MEMBER, json={"role": "viewer"})
    assert added.status_code == 200, added.text
    return admin


def run_batch(app: FastAPI, client: TestClient, batch: list[Bad]) -> None:
    """Send every request of `batch`; fail listing each that was answered wrongly or changed
    what is stored."""
    view = api_view(client)
    problems = []
    for bad in batch:
        before = stored(app)
        problem = error_problem(send(client, bad.method, bad.path, bad.body), bad.status, bad.field)
        if problem is None and stored(app) != before:
            problem = "changed what is stored"
        if problem is not None:
            problems.append(f"{bad}\n    -> {problem}")
    assert not problems, f"{len(problems)} of {len(batch)} bad requests:\n" + "\n".join(problems)
    assert api_view(client) == view


# --- the batches -----------------------------------------------------------------------------

BODY_ENDPOINTS = [
    ("POST", PROJECTS),
    ("PATCH", CHURN),
    ("PUT", MEMBER),
    ("POST", USERS),
    ("PATCH", ALICE),
    ("POST", TOKENS),
    ("POST", LOGIN),
    ("POST", TOKEN_LOGIN),
]
MALFORMED = [
    b'{"slug": "a",',
    b"{'name': 'single quotes'}",
    b"role=owner",
    b'{"name": "x"} trailing',
    b'{"name": "x",}',
    b"\xff\xfe\x00{",
]
DEEP_LIST = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"name": ' * 10_000 + b"1" + b"}" * 10_000
HUGE_NUMBER = b'{"name": "t", "expires_in_days": ' + b"9" * 5_000 + b"}"

BATCHES: dict[str, list[Bad]] = {
    "malformed-json": [
        Bad(method, path, Raw(raw), "body", 400)
        for method, path in BODY_ENDPOINTS
        for raw in MALFORMED
    ],
    # Valid JSON that the parser gives up on (nesting depth, digits in a number) is still a
    # malformed body, reported like any other.
    "json-beyond-parser-limits": [
        Bad(method, path, Raw(raw), "body", 400)
        for method, path in BODY_ENDPOINTS
        for raw in (DEEP_LIST, DEEP_OBJECT, HUGE_NUMBER)
    ],
    "body-not-an-object": [
        Bad(method, path, Raw(raw), "body")
        for method, path in BODY_ENDPOINTS
        for raw in (b"[]", b'"fresh"', b"42", b"true", b"null", b"")
    ],
    "wrong-types": [
        Bad("POST", PROJECTS, {"slug": "fresh", "name": 123}, "name"),
        Bad("POST", PROJECTS, {"slug": 5, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": ["a"], "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": None, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "description": {"a": 1}}, "description"),
        Bad("PATCH", CHURN, {"name": 1.5}, "name"),
        Bad("PATCH", CHURN, {"name": True}, "name"),
        Bad("PATCH", CHURN, {"description": 0}, "description"),
        Bad("PUT", MEMBER, {"role": 5}, "role"),
        Bad("PUT", MEMBER, {"role": ["owner"]}, "role"),
        Bad("PUT", MEMBER, {"role": {"name": "owner"}}, "role"),
        Bad("POST", USERS, {**NEW_USER, "username": 7}, "username"),
        Bad("POST", USERS, {**NEW_USER, "password": 12345678}, "password"),
        Bad("POST", USERS, {**NEW_USER, "display_name": ["Bob"]}, "display_name"),
        Bad("POST", USERS, {**NEW_USER, "is_admin": "maybe"}, "is_admin"),
        Bad("POST", USERS, {**NEW_USER, "is_admin": [True]}, "is_admin"),
        Bad("PATCH", ALICE, {"is_active": 2}, "is_active"),
        Bad("PATCH", ALICE, {"is_admin": {"yes": True}}, "is_admin"),
        Bad("POST", TOKENS, {"name": ["t"]}, "name"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": "ten"}, "expires_in_days"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": 1.5}, "expires_in_days"),
        Bad("POST", LOGIN, {"username": 1, "password": "x"}, "username"),
        Bad("POST", LOGIN, {"username": "root", "password": None}, "password"),
        Bad("POST", TOKEN_LOGIN, {"username": "root", "password": "x", "name": 5}, "name"),
    ],
    # A string is not a boolean: "yes" must not make an admin, "no" must not deactivate.
    "strings-for-booleans": [
        Bad("POST", USERS, {**NEW_USER, "is_admin": "yes"}, "is_admin"),
        Bad("POST", USERS, {**NEW_USER, "is_admin": "true"}, "is_admin"),
        Bad("PATCH", ALICE, {"is_admin": "yes"}, "is_admin"),
        Bad("PATCH", ALICE, {"is_admin": "on"}, "is_admin"),
        Bad("PATCH", ALICE, {"is_admin": 1}, "is_admin"),
        Bad("PATCH", ALICE, {"is_active": "no"}, "is_active"),
        Bad("PATCH", ALICE, {"is_active": "false"}, "is_active"),
        Bad("PATCH", ALICE, {"is_active": 0}, "is_active"),
    ],
    "missing-fields": [
        Bad("POST", PROJECTS, {"name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "fresh"}, "name"),
        Bad("PUT", MEMBER, {}, "role"),
        Bad("POST", USERS, {"username": "bob"}, "password"),
        Bad("POST", USERS, {"password": PASSWORD}, "username"),
        Bad("POST", TOKENS, {}, "name"),
        Bad("POST", LOGIN, {"username": "root"}, "password"),
    ],
    "unknown-fields": [
        Bad("POST", PROJECTS, {**NEW_PROJECT, "owner": "alice"}, "owner"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "Slug": "other"}, "Slug"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "id": 1}, "id"),
        Bad("PATCH", CHURN, {"slug": "renamed"}, "slug"),
        Bad("PATCH", CHURN, {"archived_at": None}, "archived_at"),
        Bad("PATCH", CHURN, {"name": "Renamed", "owners": ["alice"]}, "owners"),
        Bad("PUT", MEMBER, {"role": "viewer", "username": "root"}, "username"),
        Bad("POST", USERS, {**NEW_USER, "is_superuser": True}, "is_superuser"),
        Bad("POST", USERS, {**NEW_USER, "password_hash": "x"}, "password_hash"),
        Bad("PATCH", ALICE, {"username": "mallory"}, "username"),
        Bad("PATCH", ALICE, {"display_name": "Al", "role": "admin"}, "role"),
        Bad("POST", TOKENS, {"name": "t", "user_id": 1}, "user_id"),
        Bad("POST", TOKENS, {"name": "t", "token": "chosen"}, "token"),
        Bad("POST", LOGIN, {"username": "root", "password": "x", "remember": True}, "remember"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "na\x00me": "x"}, "na\x00me"),
    ],
    "empty-and-too-long": [
        Bad("POST", PROJECTS, {"slug": "", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "a" * 64, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "a" * LONG, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "fresh", "name": ""}, "name"),
        Bad("POST", PROJECTS, {"slug": "fresh", "name": "   "}, "name"),
        Bad("POST", PROJECTS, {"slug": "fresh", "name": "n" * 201}, "name"),
        Bad("POST", PROJECTS, {"slug": "fresh", "name": "n" * LONG}, "name"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "description": "d" * 20_001}, "description"),
        Bad("PATCH", CHURN, {"name": ""}, "name"),
        Bad("PATCH", CHURN, {"name": "n" * LONG}, "name"),
        Bad("PATCH", CHURN, {"description": "d" * 20_001}, "description"),
        Bad("POST", USERS, {**NEW_USER, "username": ""}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": "b"}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": "b" * 65}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": "b" * LONG}, "username"),
        Bad("POST", USERS, {**NEW_USER, "display_name": "d" * 201}, "display_name"),
        Bad("POST", USERS, {**NEW_USER, "display_name": "d" * LONG}, "display_name"),
        Bad("POST", USERS, {**NEW_USER, "password": ""}, "password"),
        Bad("POST", USERS, {**NEW_USER, "password": "short"}, "password"),
        Bad("POST", USERS, {**NEW_USER, "password": "p" * LONG}, "password"),
        Bad("PATCH", ALICE, {"display_name": "d" * LONG}, "display_name"),
        Bad("PATCH", ALICE, {"password": "short"}, "password"),
        Bad("PATCH", ALICE, {"password": "p" * LONG}, "password"),
        Bad("POST", TOKENS, {"name": ""}, "name"),
        Bad("POST", TOKENS, {"name": " "}, "name"),
        Bad("POST", TOKENS, {"name": "t" * 101}, "name"),
        Bad("POST", TOKENS, {"name": "t" * LONG}, "name"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": 0}, "expires_in_days"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": -1}, "expires_in_days"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": 3651}, "expires_in_days"),
        Bad("POST", TOKENS, {"name": "t", "expires_in_days": 10**30}, "expires_in_days"),
        Bad("POST", TOKENS, Raw(b'{"name": "t", "expires_in_days": 1e999}'), "expires_in_days"),
        Bad("POST", LOGIN, {"username": "", "password": "x"}, "username"),
        Bad("POST", LOGIN, {"username": "u" * LONG, "password": "x"}, "username"),
        Bad("POST", LOGIN, {"username": "root", "password": "p" * LONG}, "password"),
        Bad("POST", TOKEN_LOGIN, {"username": "root", "password": "x", "name": "t" * LONG}, "name"),
    ],
    "sql-and-path-identifiers": [
        Bad("POST", PROJECTS, {"slug": SQL, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "' OR '1'='1", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": TRAVERSAL, "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "..", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "a/b", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "a%2Fb", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "CHURN", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "-churn", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "churn-", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "chürn", "name": "Fresh"}, "slug"),
        Bad("POST", USERS, {**NEW_USER, "username": SQL}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": TRAVERSAL}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": "Bob"}, "username"),
        Bad("POST", USERS, {**NEW_USER, "username": "bob smith"}, "username"),
    ],
    "nul-and-surrogates-in-json": [
        Bad("POST", PROJECTS, {"slug": "a\x00b", "name": "Fresh"}, "slug"),
        Bad("POST", PROJECTS, {"slug": "fresh", "name": "a\x00b"}, "name"),
        Bad("POST", PROJECTS, {**NEW_PROJECT, "description": "\x00"}, "description"),
        Bad("PATCH", CHURN, {"name": "\x00"}, "name"),
        Bad("PATCH", CHURN, {"description": "x\x00"}, "description"),
        Bad("PUT", MEMBER, {"role": "viewer\x00"}, "role"),
        Bad("POST", USERS, {**NEW_USER, "username": "bob\x00"}, "username"),
        Bad("POST", USERS, {**NEW_USER, "display_name": "B\x00b"}, "display_name"),
        Bad("POST", USERS, {**NEW_USER, "password": "pass\x00word"}, "password"),
        Bad("PATCH", ALICE, {"display_name": "\x00"}, "display_name"),
        Bad("PATCH", ALICE, {"password": "\x00" * 8}, "password"),
        Bad("POST", TOKENS, {"name": "t\x00"}, "name"),
        Bad("POST", LOGIN, {"username": "root\x00", "password": "x"}, "username"),
        Bad("POST", TOKEN_LOGIN, {"username": "root", "password": "x", "name": "\x00"}, "name"),
        Bad("POST", PROJECTS, Raw(b'{"slug": "fresh", "name": "\\ud800"}'), "name"),
        Bad(
            "POST",
            PROJECTS,
            Raw(b'{"slug": "fresh", "name": "F", "description": "\\udfff"}'),
            "description",
        ),
        Bad("PATCH", ALICE, Raw(b'{"display_name": "a\\udfffb"}'), "display_name"),
        Bad("POST", TOKENS, Raw(b'{"name": "\\ud83d"}'), "name"),
    ],
    "invalid-roles": [
        Bad("PUT", MEMBER, {"role": role}, "role")
        for role in ("admin", "OWNER", "Viewer", "", " owner", "owner ", "root", None, SQL, "🙂")
    ],
    "path-and-sql-in-urls": [
        bad_url("GET", f"{PROJECTS}/{TRAVERSAL}"),
        bad_url("GET", f"{PROJECTS}/..%2F..%2Fetc%2Fpasswd"),
        bad_url("GET", f"{PROJECTS}/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"),
        bad_url("GET", f"{PROJECTS}/..%5C..%5Cwindows", field="project"),
        bad_url("GET", "/api/v1/%2E%2E/%2E%2E/etc/passwd"),
        bad_url("GET", f"{PROJECTS}/..%2Fchurn"),
        bad_url("PATCH", f"{PROJECTS}/..%2Fchurn", {"name": "x"}),
        bad_url("POST", f"{PROJECTS}/..%2Fchurn/archive"),
        bad_url("GET", f"{USERS}/..%2F..%2Fetc%2Fpasswd"),
        bad_url("GET", f"{CHURN}/members/..%2F..%2Froot"),
        bad_url("PUT", f"{CHURN}/members/..%2Falice", {"role": "owner"}),
        bad_url("DELETE", f"{CHURN}/members/..%2Falice"),
        bad_url("GET", f"{PROJECTS}/x'%3B DROP TABLE projects%3B --", field="project"),
        bad_url("POST", f"{PROJECTS}/x'%3B DROP TABLE projects%3B --/archive", field="project"),
        bad_url("GET", f"{USERS}/' OR '1'='1", field="username"),
        bad_url("PATCH", f"{USERS}/' OR '1'='1", {"display_name": "x"}, field="username"),
        bad_url("PUT", f"{CHURN}/members/' OR 1=1 --", {"role": "owner"}, field="username"),
        bad_url("DELETE", f"{CHURN}/members/' OR 1=1 --", field="username"),
        bad_url("GET", f"{PROJECTS}/{'a' * LONG}", field="project"),
        bad_url("GET", f"{USERS}/{'u' * LONG}", field="username"),
        bad_url("PATCH", f"{USERS}/{'u' * LONG}", {"display_name": "x"}, field="username"),
        bad_url("GET", f"{PROJECTS}/%F0%9F%99%82", field="project"),
        bad_url("GET", f"{PROJECTS}/%FF%FE", status=None),
    ],
    "nul-in-urls": [
        bad_url("GET", f"{CHURN}%00", field="path", status=400),
        bad_url("GET", f"{PROJECTS}/%00/members", field="path", status=400),
        bad_url("PATCH", f"{ALICE}%00", {"display_name": "x"}, field="path", status=400),
        bad_url("PUT", f"{MEMBER}%00", {"role": "owner"}, field="path", status=400),
        bad_url("DELETE", f"{MEMBER}%00", field="path", status=400),
        bad_url("DELETE", f"{TOKENS}/1%00", field="path", status=400),
        bad_url("GET", f"{PROJECTS}?archived=%00", field="path", status=400),
        bad_url("GET", f"{AUDIT}?action=a%00b", field="path", status=400),
        bad_url("GET", f"{TOKENS}?%00=1", field="path", status=400),
    ],
    "bad-query-values": [
        Bad("GET", f"{PROJECTS}?archived=maybe", field="archived"),
        Bad("GET", f"{PROJECTS}?archived={SQL}", field="archived"),
        Bad("GET", f"{TOKENS}?all=everyone", field="all"),
        Bad("GET", f"{AUDIT}?limit=0", field="limit"),
        Bad("GET", f"{AUDIT}?limit=1001", field="limit"),
        Bad("GET", f"{AUDIT}?limit={10**30}", field="limit"),
        Bad("GET", f"{AUDIT}?limit=ten", field="limit"),
        Bad("GET", f"{AUDIT}?limit=", field="limit"),
        Bad("GET", f"{AUDIT}?action={'a' * LONG}", field="action"),
    ],
    "token-ids": [
        *(
            Bad("DELETE", f"{TOKENS}/{token_id}", field="token_id")
            for token_id in (
                "0",
                "-1",
                str(2**31),
                str(2**63),
                str(2**64 + 1),
                "9" * 400,
                "1e3",
                "abc",
                "0x10",
                "%20",
                "1%3B DROP TABLE tokens",
            )
        ),
        Bad("DELETE", f"{TOKENS}/{2**31 - 1}", field="token_id", status=404),
    ],
    "duplicates": [
        Bad("POST", PROJECTS, {"slug": "churn", "name": "Another churn"}, "slug", 409),
        Bad("POST", PROJECTS, {"slug": "  churn ", "name": "Another churn"}, "slug", 409),
        Bad("POST", USERS, {**NEW_USER, "username": "alice"}, "username", 409),
        Bad("POST", USERS, {**NEW_USER, "username": " alice "}, "username", 409),
        Bad("POST", USERS, {**NEW_USER, "username": "root"}, "username", 409),
    ],
}


@pytest.mark.parametrize("batch", list(BATCHES))
def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(
    app: FastAPI, world: Person, batch: str
) -> None:
    run_batch(app, world.client, BATCHES[batch])


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic cm9vdDpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer " + "a" * LONG,
        "Bearer ' OR '1'='1",
        "Bearer ../../etc/passwd",
        "Bearer my-token extra words",
        "Token abc",
    ],
)
def test_bad_credentials_are_401_and_change_nothing(
    app: FastAPI, world: Person, anonymous: TestClient, authorization: str
) -> None:
    before = stored(app)
    anonymous.headers["authorization"] = authorization
    for method, path, body in (
        ("GET", "/api/v1/me", NO_BODY),
        ("POST", PROJECTS, NEW_PROJECT),
        ("PATCH", ALICE, {"is_admin": True}),
        ("DELETE", f"{TOKENS}/1", NO_BODY),
    ):
        assert_error(send(anonymous, method, path, body), 401)
    assert stored(app) == before


# --- what is not an error: hostile text is stored as given -------------------------------------

HOSTILE_TEXT = [
    SQL,
    "Robert'); DROP TABLE users;--",
    "' OR '1'='1' --",
    '"; DELETE FROM memberships WHERE "1"="1',
    "1; SELECT pg_sleep(10)",
    "\\'; --",
    TRAVERSAL,
    "<script>alert('x')</script>",
    "%00 %s %n {0} ${jndi:ldap://x} {{7*7}}",
    "emoji 🙂, right-to-left \u202e, zero width \u200b, tab\tnewline\n",
]


def test_sql_looking_names_are_stored_verbatim_and_the_tables_still_work(world: Person) -> None:
    client = world.client
    for number, text in enumerate(HOSTILE_TEXT):
        slug = f"hostile-{number}"
        created = client.post(PROJECTS, json={"slug": slug, "name": text, "description": text})
        assert created.status_code == 201, created.text
        assert (created.json()["name"], created.json()["description"]) == (text.strip(), text)
        fetched = client.get(f"{PROJECTS}/{slug}").json()
        assert (fetched["name"], fetched["description"]) == (text.strip(), text)
        renamed = client.patch(f"{PROJECTS}/{slug}", json={"name": text[::-1]})
        assert renamed.status_code == 200 and renamed.json()["name"] == text[::-1].strip()
    listed = client.get(PROJECTS).json()["items"]
    hostile = {f"hostile-{n}" for n in range(len(HOSTILE_TEXT))}
    assert {p["slug"] for p in listed} == {"churn"} | hostile
    # The tables still work: a new project, a membership, lookups.
    assert client.post(PROJECTS, json={"slug": "after", "name": "After"}).status_code == 201
    assert client.put(f"{PROJECTS}/after/members/alice", json={"role": "editor"}).status_code == 200
    assert [m["username"] for m in client.get(CHURN).json()["members"]] == ["alice", "root"]
    assert [u["username"] for u in client.get(USERS).json()["items"]] == ["alice", "root"]


def test_hostile_display_names_and_token_names_round_trip(world: Person) -> None:
    client = world.client
    for text in HOSTILE_TEXT:
        updated = client.patch(ALICE, json={"display_name": text})
        assert updated.status_code == 200 and updated.json()["display_name"] == text.strip()
        created = client.post(TOKENS, json={"name": text})
        assert created.status_code == 201 and created.json()["name"] == text.strip()
    names = {t["name"] for t in client.get(TOKENS).json()["items"]}
    assert {text.strip() for text in HOSTILE_TEXT} <= names
    members = client.get(f"{CHURN}/members").json()["items"]
    assert {m["username"]: m["display_name"] for m in members}["alice"] == HOSTILE_TEXT[-1].strip()


def test_hostile_filters_and_logins_find_nothing(
    app: FastAPI, world: Person, anonymous: TestClient
) -> None:
    before = stored(app)
    for text in HOSTILE_TEXT:
        audit = world.client.get(AUDIT, params={"action": text})
        assert audit.status_code == 200 and audit.json()["items"] == []
        if "%" in text:
            continue  # Starlette's TestClient percent-decodes paths twice; real servers do not.
        # A '/' (even encoded) splits the segment, so no route matches; that is a 404 too.
        segment = quote(text, safe="")
        assert_error(world.client.get(f"{PROJECTS}/{segment}"), 404)
        assert_error(world.client.get(f"{USERS}/{segment}"), 404)
        if "/" not in text:
            assert world.client.get(f"{PROJECTS}/{segment}").json()["error"]["field"] == "project"
    assert stored(app) == before
    for text in HOSTILE_TEXT[:4]:
        assert_error(anonymous.post(LOGIN, json={"username": text, "password": text}), 401)


def test_the_longest_allowed_values_are_stored_whole(world: Person) -> None:
    """The rejections above are at the limits, not below them."""
    client = world.client
    body = {"slug": "a" * 63, "name": "n" * 200, "description": "d" * 20_000}
    created = client.post(PROJECTS, json=body)
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in body} == body
    assert client.get(f"{PROJECTS}/{'a' * 63}").json()["description"] == "d" * 20_000
    user = {"username": "u" * 64, "password": "p" * 256, "display_name": "d" * 200}
    assert client.post(USERS, json=user).status_code == 201
    token = client.post(TOKENS, json={"name": "t" * 100, "expires_in_days": 3650})
    assert token.status_code == 201 and token.json()["name"] == "t" * 100


def test_oversized_bodies_are_refused_before_they_are_read(anonymous: TestClient) -> None:
    huge = b"{" + b" " * (17 * 1024 * 1024) + b"}"
    response = anonymous.post(
        "/api/v1/auth/login", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "request bodies are limited to 16 MB",
        "field": "body",
    }
