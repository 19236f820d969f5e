from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.config_file import load_login
from tests.conftest import PASSWORD, LiveServer, Person

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("isolated_config")


def test_login_stores_a_token_then_commands_use_it(
    live_server: LiveServer, people: Callable[..., Person]
) -> None:
    people("alice")
    result = runner.invoke(app, ["login", live_server.url, "-u", "alice", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Signed in" in result.output and PASSWORD not in result.output
    saved = load_login()
    assert saved is not None and saved.username == "alice" and saved.token.startswith("myd_")
    assert saved.token not in result.output

    assert runner.invoke(app, ["whoami"]).output.startswith("alice on ")
    created = runner.invoke(app, ["projects", "create", "churn", "Customer churn"])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["projects", "list"])
    assert "churn" in listed.output and "Customer churn" in listed.output

    assert runner.invoke(app, ["logout"]).exit_code == 0
    assert load_login() is None
    assert runner.invoke(app, ["whoami"]).exit_code == 1


def test_login_with_a_wrong_password_fails_clearly(
    live_server: LiveServer, people: Callable[..., Person]
) -> None:
    people("alice")
    result = runner.invoke(
        app, ["login", live_server.url, "-u", "alice", "--password", "nope-nope"]
    )
    assert result.exit_code == 1
    assert "wrong username or password" in result.output
    assert load_login() is None


def test_errors_name_the_field(live_server: LiveServer, people: Callable[..., Person]) -> None:
    alice = people("alice")
    runner.invoke(app, ["login", live_server.url, "--token", alice.token])
    result = runner.invoke(app, ["projects", "create", "Bad Slug!", "x"])
    assert result.exit_code == 1 and "field: slug" in result.output


def test_admin_create_user_writes_to_the_local_database(tmp_path: Path, database_url: str) -> None:
    env = {"MODELYARD_DATABASE_URL": database_url, "MODELYARD_NEW_PASSWORD": "s3cret-pass"}
    home = str(tmp_path / "home")
    result = runner.invoke(app, ["admin", "create-user", "ana", "--admin", "--home", home], env=env)
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["admin", "create-user", "ana", "--home", home], env=env)
    assert again.exit_code == 1 and "exists already" in again.output


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "login", "projects", "admin"):
        assert command in result.output
