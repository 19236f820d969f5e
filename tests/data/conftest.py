"""Data sources with known rows, and the guard that no secret ever leaves the server.

Sources: a SQLite file per test (cheap; most API tests use it), and per session a PostgreSQL
database and a MariaDB database `modelyard_api_src_<pid>`, each read by a user with a password,
so the connection really carries a secret. Named after the process, so parallel workers (and
other test sessions on the machine) never drop each other's.

The guard (autouse, every test under tests/data): every secret value the data tests use is
registered with `secret()`; every HTTP response body the tests' clients receive (TestClients
of `people(...)`, `admin`, `anonymous`, and SDK clients from `sdk(...)`) and every log record
of the process (root logger at DEBUG, the live server's thread included) is kept, and the
test fails at teardown when any of them holds a secret, plain or URL-encoded.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pymysql
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

import modelyard
from tests.conftest import LiveServer, Person, unavailable
from tests.sources import PostgresSource, postgres_source_database

SOURCE_DB = f"modelyard_api_src_{os.getpid()}"
# Not `modelyard_reader`: users are server-wide, and the connector suite may run alongside.
READER = f"modelyard_api_reader_{os.getpid()}"
# Characters that a driver URL must encode, so a leak of the encoded form is caught too.
PG_PASSWORD = "pg:Reader/P@ss%word-7741"
MARIADB_PASSWORD = "maria:Reader/P@ss%word-5520"
MARIADB_HOST = os.environ.get("MODELYARD_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MODELYARD_TEST_MARIADB_PORT", "3306"))

COUNTRIES = {"DE": 15, "FR": 10, "US": 5}


def customer_rows() -> list[tuple[int, str, str, int, float | None]]:
    """30 customers: id, name, country (15 DE, 10 FR, 5 US), age 21..50, spend 10*id or
    NULL for every fifth (6 nulls; the other 24 average 150.0, from 10.0 to 290.0)."""
    countries = [c for c, n in COUNTRIES.items() for _ in range(n)]
    return [
        (i, f"customer {i}", countries[i - 1], 20 + i, None if i % 5 == 0 else 10.0 * i)
        for i in range(1, 31)
    ]


# --- the secret-leak guard ---------------------------------------------------------------

SECRETS: set[str] = {PG_PASSWORD, MARIADB_PASSWORD}


def secret(value: str) -> str:
    """Register `value` as a connection secret the leak guard looks for; answer it."""
    SECRETS.add(value)
    return value


def forms(value: str) -> set[bytes]:
    """The ways a secret could show up in a body or a log line."""
    return {
        form.encode()
        for form in (
            value,
            quote(value, safe=""),
            quote(value),
            quote_plus(value),
            json.dumps(value)[1:-1],
        )
    }


class LeakGuard(logging.Handler):
    """Keeps what the server said (response bodies, log records) during one test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.seen: list[tuple[str, bytes]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((f"log record of {record.name!r}", self.format(record).encode()))

    def on_response(self, response: Any) -> None:
        """An event hook for httpx and for TestClient (whose Response is httpx2's)."""
        response.read()
        self.seen.append((f"{response.request.method} {response.request.url}", response.content))

    def leaks(self) -> list[str]:
        found = []
        for where, data in self.seen:
            for value in SECRETS:
                for form in forms(value):
                    at = data.find(form)
                    if at >= 0:
                        context = data[max(0, at - 60) : at + len(form) + 60].replace(
                            form, b"<SECRET>"
                        )
                        found.append(f"{where}: ...{context.decode(errors='replace')}...")
        return found


class RecordingTransport(httpx.HTTPTransport):
    """An SDK transport that shows every response body to the guard."""

    def __init__(self, guard: LeakGuard) -> None:
        super().__init__()
        self.guard = guard

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.request = request
        self.guard.on_response(response)
        return response


@pytest.fixture(autouse=True)
def leak_guard() -> Iterator[LeakGuard]:
    guard = LeakGuard()
    root = logging.getLogger()
    level = root.level
    root.addHandler(guard)
    root.setLevel(logging.DEBUG)
    try:
        yield guard
    finally:
        root.setLevel(level)
        root.removeHandler(guard)
    leaks = guard.leaks()
    if leaks:
        pytest.fail("a connection secret left the server:\n" + "\n".join(leaks[:20]))


@pytest.fixture
def people(people: Callable[..., Person], leak_guard: LeakGuard) -> Callable[..., Person]:
    """The shared `people`, with every response body shown to the leak guard."""

    def make(username: str, *, is_admin: bool = False) -> Person:
        person = people(username, is_admin=is_admin)
        person.client.event_hooks["response"].append(leak_guard.on_response)
        return person

    return make


@pytest.fixture
def anonymous(anonymous: TestClient, leak_guard: LeakGuard) -> TestClient:
    anonymous.event_hooks["response"].append(leak_guard.on_response)
    return anonymous


@pytest.fixture
def sdk(
    live_server: LiveServer, leak_guard: LeakGuard
) -> Iterator[Callable[[Person], modelyard.Client]]:
    """`sdk(person)`: a `modelyard.Client` on the live server acting as that person."""
    clients: list[modelyard.Client] = []
    # uvicorn's loggers (configured as the server started) do not propagate to the root
    detached = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in detached:
        logger.addHandler(leak_guard)

    def connect(person: Person) -> modelyard.Client:
        client = modelyard.connect(
            live_server.url, person.token, transport=RecordingTransport(leak_guard)
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
    for logger in detached:
        logger.removeHandler(leak_guard)


# --- sources -----------------------------------------------------------------------------


@dataclass
class SourceServer:
    """A database server holding `customers`, read by a user with a password."""

    kind: str
    settings: dict[str, Any]
    password: str
    execute: Callable[[str], None]  # runs a statement as the server's superuser

    def connection(self, name: str) -> dict[str, Any]:
        """The body that creates a connection to this source."""
        return {
            "name": name,
            "kind": self.kind,
            "settings": self.settings,
            "secrets": {"password": self.password},
        }


def make_sqlite_source(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE customers (id INTEGER, name TEXT, country TEXT, age INTEGER, spend REAL)"
        )
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", customer_rows())
    conn.close()
    return path


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Path:
    """A SQLite file with `customers` (see `customer_rows`)."""
    return make_sqlite_source(tmp_path / "source.db")


def change_sqlite(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement)
    conn.close()


@pytest.fixture(scope="session")
def pg_source() -> Iterator[SourceServer]:
    with postgres_source_database(SOURCE_DB, READER, PG_PASSWORD) as pg:
        yield from _pg_source(pg)


def _pg_source(pg: PostgresSource) -> Iterator[SourceServer]:
    source = pg.source
    with source.connect() as conn:
        conn.execute(
            text(
                "CREATE TABLE customers (id integer, name text, country text, age integer, "
                "spend double precision)"
            )
        )
        conn.execute(
            text("INSERT INTO customers VALUES (:i, :n, :c, :a, :s)"),
            [dict(zip("incas", row, strict=True)) for row in customer_rows()],
        )
        conn.execute(text(f'GRANT SELECT ON customers TO "{READER}"'))

    def execute(statement: str) -> None:
        with source.connect() as conn:
            conn.execute(text(statement))

    yield SourceServer(
        "postgresql",
        {
            "host": pg.host,
            "port": pg.port,
            "database": SOURCE_DB,
            "user": READER,
        },
        PG_PASSWORD,
        execute,
    )


def _mariadb_root() -> Any:
    return pymysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True
    )


@pytest.fixture(scope="session")
def mariadb_source() -> Iterator[SourceServer]:
    try:
        root = _mariadb_root()
    except pymysql.MySQLError as exc:
        unavailable(f"MariaDB is not reachable at {MARIADB_HOST}:{MARIADB_PORT}: {exc}")

    def run(*statements: str, args: Any = None) -> None:
        with root.cursor() as cursor:
            for statement in statements:
                if args is None:
                    cursor.execute(statement)
                else:
                    cursor.executemany(statement, args)

    drop = (f"DROP DATABASE IF EXISTS `{SOURCE_DB}`", f"DROP USER IF EXISTS '{READER}'@'%'")
    run(*drop)
    run(
        f"CREATE DATABASE `{SOURCE_DB}`",
        f"CREATE TABLE `{SOURCE_DB}`.customers "
        "(id INT, name VARCHAR(100), country VARCHAR(2), age INT, spend DOUBLE)",
        f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'",
        f"GRANT SELECT ON `{SOURCE_DB}`.* TO '{READER}'@'%'",
    )
    run(f"INSERT INTO `{SOURCE_DB}`.customers VALUES (%s, %s, %s, %s, %s)", args=customer_rows())
    try:
        yield SourceServer(
            "mysql",
            {"host": MARIADB_HOST, "port": MARIADB_PORT, "database": SOURCE_DB, "user": READER},
            MARIADB_PASSWORD,
            lambda statement: run(statement),
        )
    finally:
        run(*drop)
        root.close()


# --- the catalog every dataset test starts from ------------------------------------------


@dataclass
class Catalog:
    """admin made connection 'local' (the SQLite source) and dataset 'customers' (owned by
    alice, granted to project 'churn'); alice owns 'churn' and bob is its viewer; carol owns
    project 'hr', which is granted nothing."""

    admin: Person
    alice: Person
    bob: Person
    carol: Person
    source: Path


def create_catalog(people: Callable[..., Person], admin: Person, source: Path) -> Catalog:
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    for owner, slug in ((alice, "churn"), (carol, "hr")):
        made = owner.client.post("/api/v1/projects", json={"slug": slug, "name": slug})
        assert made.status_code == 201, made.text
    added = alice.client.put("/api/v1/projects/churn/members/bob", json={"role": "viewer"})
    assert added.status_code == 200, added.text
    made = admin.client.post(
        "/api/v1/connections",
        json={"name": "local", "kind": "sqlite", "settings": {"path": str(source)}},
    )
    assert made.status_code == 201, made.text
    made = admin.client.post(
        "/api/v1/datasets",
        json={
            "name": "customers",
            "connection": "local",
            "table": "customers",
            "owner": "alice",
            "description": "Everyone who bought something",
            "tags": ["sales"],
            "grants": ["churn"],
        },
    )
    assert made.status_code == 201, made.text
    return Catalog(admin, alice, bob, carol, source)


@pytest.fixture
def catalog(people: Callable[..., Person], admin: Person, sqlite_source: Path) -> Catalog:
    return create_catalog(people, admin, sqlite_source)
