from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import inspect

from modelyard import tables  # noqa: F401  (registers every table)
from modelyard.db import Base, make_engine, migrate


def test_migrations_build_exactly_the_tables_the_code_declares(app: FastAPI) -> None:
    engine = app.state.engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrating_twice_is_harmless(app: FastAPI) -> None:
    engine = app.state.engine
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= {"users", "projects", "alembic_version"}


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    engine.dispose()
    assert (mode, keys) == ("wal", 1)
