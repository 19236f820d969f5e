"""`modelyard datasets ...` against a live server, and `modelyard admin rotate-key`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modelyard.accounts.actors import Actor
from modelyard.accounts.tables import UserRow
from modelyard.cli.main import app
from modelyard.config import Settings
from modelyard.data.connections import create_connection, find_connection
from modelyard.data.keys import secret_box
from modelyard.data.schemas import ConnectionCreate
from modelyard.db import make_engine, make_session_factory, migrate
from tests.conftest import LiveServer, Person

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("isolated_config")


@pytest.fixture
def signed_in_reader(
    tmp_path: Path, live_server: LiveServer, people: Callable[..., Person], admin: Person
) -> Person:
    """alice, logged in with the CLI, member of `churn`, which is granted `scores`."""
    source = tmp_path / "source.sqlite"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE scores (id INTEGER, team TEXT, points REAL)")
        db.executemany(
            "INSERT INTO scores VALUES (?, ?, ?)",
            [(i, "red" if i % 3 else "blue", i * 1.5) for i in range(1, 301)],
        )
    db.close()
    alice = people("alice")
    assert (
        alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"}).status_code
        == 201
    )
    created = admin.client.post(
        "/api/v1/connections",
        json={"name": "files", "kind": "sqlite", "settings": {"path": str(source)}},
    )
    assert created.status_code == 201, created.text
    dataset = admin.client.post(
        "/api/v1/datasets",
        json={
            "name": "scores",
            "connection": "files",
            "table": "scores",
            "grants": ["churn"],
            "description": "Points per player",
            "tags": ["games"],
        },
    )
    assert dataset.status_code == 201, dataset.text
    assert runner.invoke(app, ["login", live_server.url, "--token", alice.token]).exit_code == 0
    return alice


def test_list_show_and_pull_to_parquet(signed_in_reader: Person, tmp_path: Path) -> None:
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0 and "scores" in listed.output and "games" in listed.output
    shown = runner.invoke(app, ["datasets", "show", "scores"])
    assert (
        shown.exit_code == 0
        and "points" in shown.output
        and 'modelyard.dataset("scores")' in shown.output
    )

    target = tmp_path / "scores.parquet"
    pulled = runner.invoke(app, ["datasets", "pull", "scores", "-o", str(target)])
    assert pulled.exit_code == 0, pulled.output
    assert "Wrote 300 rows" in pulled.output
    table = pq.read_table(target)
    assert table.num_rows == 300 and table.column_names == ["id", "team", "points"]
    assert sum(table.column("points").to_pylist()) == pytest.approx(
        sum(i * 1.5 for i in range(1, 301))
    )


def test_pull_pushes_columns_filter_and_limit_down(
    signed_in_reader: Person, tmp_path: Path
) -> None:
    target = tmp_path / "blue.csv"
    pulled = runner.invoke(
        app,
        [
            "datasets",
            "pull",
            "scores",
            "-o",
            str(target),
            "--columns",
            "id,points",
            "--filter",
            '[["team", "=", "blue"]]',
            "--limit",
            "5",
        ],
    )
    assert pulled.exit_code == 0, pulled.output
    table = pacsv.read_csv(target)
    assert table.column_names == ["id", "points"]
    assert table.column("id").to_pylist() == [3, 6, 9, 12, 15]


def test_pull_refuses_bad_input_naming_the_field(signed_in_reader: Person, tmp_path: Path) -> None:
    wrong_suffix = runner.invoke(
        app, ["datasets", "pull", "scores", "-o", str(tmp_path / "x.xlsx")]
    )
    assert wrong_suffix.exit_code == 1 and "field: output" in " ".join(wrong_suffix.output.split())
    bad_column = runner.invoke(
        app, ["datasets", "pull", "scores", "-o", str(tmp_path / "x.parquet"), "--columns", "nope"]
    )
    assert bad_column.exit_code == 1 and "field: columns" in " ".join(bad_column.output.split())
    missing = runner.invoke(app, ["datasets", "show", "secret-stuff"])
    assert missing.exit_code == 1 and "no dataset" in missing.output


def test_profile_and_snapshot_then_pull_the_snapshot(
    signed_in_reader: Person, tmp_path: Path
) -> None:
    profiled = runner.invoke(app, ["datasets", "profile", "scores", "--refresh"])
    assert profiled.exit_code == 0, profiled.output
    assert "300 rows" in profiled.output and "points" in profiled.output
    frozen = runner.invoke(app, ["datasets", "snapshot", "scores", "--note", "for v1"])
    assert frozen.exit_code == 0 and "scores@1" in frozen.output
    target = tmp_path / "frozen.arrow"
    pulled = runner.invoke(app, ["datasets", "pull", "scores@1", "-o", str(target)])
    assert pulled.exit_code == 0 and "Wrote 300 rows" in pulled.output


def test_admin_rotate_key_reseals_connection_secrets(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=database_url).prepare_home()
    engine = make_engine(database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        user = UserRow(username="root", password_hash="-", is_admin=True)
        session.add(user)
        session.commit()
        create_connection(
            session,
            Actor.of(user, "system"),
            secret_box(settings),
            ConnectionCreate(
                name="wh",
                kind="postgresql",
                secrets={"password": "hunter2-pw"},
                settings={"host": "db", "database": "x", "user": "u"},
            ),
        )
    old_key = (home / "secret.key").read_text()

    result = runner.invoke(
        app,
        ["admin", "rotate-key", "--home", str(home)],
        env={"MODELYARD_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert "1 connection" in result.output and "hunter2-pw" not in result.output

    new_key = (home / "secret.key").read_text()
    assert new_key != old_key and (home / "secret.key.old").read_text() == old_key
    rotated = Settings(home=home, database_url=database_url).prepare_home()
    with factory() as session:
        row = find_connection(session, "wh")
        assert row is not None
        assert secret_box(rotated).open(row.secrets_encrypted) == {"password": "hunter2-pw"}
    engine.dispose()
