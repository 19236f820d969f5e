"""A fresh PostgreSQL database with a password-holding reader role, for data-source tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, make_url, text

from tests.conftest import PG_SERVER, unavailable


@dataclass(frozen=True)
class PostgresSource:
    server: Engine  # on the `postgres` database, autocommit
    source: Engine  # on the fresh database, autocommit, as the superuser
    host: str
    port: int


@contextmanager
def postgres_source_database(database: str, reader: str, password: str) -> Iterator[PostgresSource]:
    """Drop and make `database` and the login role `reader`; drop both again afterwards."""
    url = make_url(PG_SERVER)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        server.dispose()
        unavailable(f"PostgreSQL is not reachable at {PG_SERVER}: {type(exc).__name__}")

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{reader}"'))

    drop()
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
        conn.execute(text(f"CREATE ROLE \"{reader}\" LOGIN PASSWORD '{password}'"))
    source = create_engine(url.set(database=database), isolation_level="AUTOCOMMIT")
    try:
        yield PostgresSource(server, source, url.host or "127.0.0.1", url.port or 5432)
    finally:
        source.dispose()
        drop()
        server.dispose()
