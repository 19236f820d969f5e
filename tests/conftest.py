"""Shared fixtures. Every test that touches the database runs once on SQLite and once on
PostgreSQL (`[sqlite]` / `[postgresql]` in its id), each with its own clean database."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.passwords import Passwords
from modelyard.accounts.schemas import TokenCreate
from modelyard.accounts.tables import UserRow
from modelyard.accounts.tokens import create_token
from modelyard.app import create_app
from modelyard.config import Settings
from modelyard.db import Base, make_engine, migrate

PG_SERVER = os.environ.get(
    "MODELYARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
PASSWORD = "correct-horse-battery"
SECRET_KEY = "test-secret-key-" + "x" * 32
# argon2id at its cheapest: tests check who may sign in, not what a hash costs (production
# parameters take 0.1-0.5 s a hash or a login). Pass these into every test's Settings.
CHEAP_PASSWORDS: dict[str, Any] = {
    "password_time_cost": 1,
    "password_memory_kib": 8,
    "password_parallelism": 1,
}
SERVICES_REQUIRED = bool(os.environ.get("CI") or os.environ.get("MODELYARD_REQUIRE_SERVICES"))


def unavailable(reason: str) -> None:
    """Skip locally when a service is missing; fail in CI, where it must be there."""
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (CI requires it)")
    pytest.skip(reason)


@cache
def password_hash() -> str:
    return Passwords(time_cost=1, memory_kib=8, parallelism=1).hash(PASSWORD)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "modelyard.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = make_engine(f"{PG_SERVER}/postgres")
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:
        admin.dispose()
        unavailable(f"PostgreSQL is not reachable at {PG_SERVER}: {type(exc).__name__}")
    name = f"modelyard_test_{uuid.uuid4().hex[:10]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_all(url: str) -> None:
    """Every table empty and every id counting from 1 again, as in a fresh database.

    DELETE rather than TRUNCATE: truncating 30 tables makes new files for each and syncs
    them (~0.7 s a test); deleting the few rows a test leaves takes ~30 ms."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        connection.execute(
            text(
                "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "modelyard.db"
        shutil.copy(template, target)
        yield f"sqlite:///{target}"
        return
    url: str = request.getfixturevalue("postgres_url")
    _empty_all(url)
    yield url


CONTRACTS = Path(__file__).parent / "contracts"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The connector contract suite starts an S3 server and makes a PostgreSQL and a MariaDB
    # database per session: with `-n` (pytest-xdist, `--dist loadgroup`) one worker runs
    # all of it, so they are made once.
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.path.is_relative_to(CONTRACTS):
            item.add_marker(pytest.mark.xdist_group("connector-contracts"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # What the test modules imported lives until the end. Frozen, the collector no longer
    # walks it, so the collection after each test below takes ~1 ms instead of ~1 s.
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="module", autouse=True)
def _freeze_survivors() -> Iterator[None]:
    """After each module, once its fixtures are gone: what is still alive (modules imported
    since, session fixtures) lives on, so it is frozen too."""
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Objects a test left behind are finalized now, so their warnings (an unclosed file or
    socket, say) fail this test and not a later one."""
    yield
    gc.collect()
    if not gc.get_freeze_count():
        # tests/contracts' package fixture froze and unfroze the heap around itself, which
        # undid the freezes here: what survives this collection is long-lived too.
        gc.freeze()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home", database_url=database_url, secret_key=SECRET_KEY, **CHEAP_PASSWORDS
    ).prepare_home()


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        yield session


@dataclass
class Person:
    username: str
    token: str
    client: TestClient
    is_admin: bool = False


@pytest.fixture
def people(app: FastAPI, db: Session) -> Iterator[Callable[..., Person]]:
    """`people("alice")` creates a user with a token and answers a client acting as them."""
    clients: list[TestClient] = []

    def make(username: str, *, is_admin: bool = False) -> Person:
        user = UserRow(username=username, password_hash=password_hash(), is_admin=is_admin)
        db.add(user)
        db.commit()
        _, token = create_token(db, Actor.of(user, "system"), TokenCreate(name="test"))
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        return Person(username, token, client, is_admin)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def admin(people: Callable[..., Person]) -> Person:
    return people("root", is_admin=True)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    # Not entered as a context manager: the lifespan would dispose the engine that the
    # `db` fixture may still be using at teardown.
    client = TestClient(app)
    yield client
    client.close()


@pytest.fixture
def browser_clients(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """Cookie-only clients, like a browser: no bearer token, redirects not followed."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, follow_redirects=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by a real uvicorn on a free port, for the SDK, CLI and browser."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    assert httpx.get(f"{url}/healthz").status_code == 200
    yield LiveServer(url, app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's saved login lives in this test's folder; no server URL or token from outside."""
    path = tmp_path / "config.json"
    monkeypatch.setenv("MODELYARD_CONFIG", str(path))
    monkeypatch.delenv("MODELYARD_URL", raising=False)
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    return path
