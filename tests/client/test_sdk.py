from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import modelyard
from modelyard.client.config_file import SavedLogin, load_login, save_login
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")


def test_connect_with_arguments_lists_and_creates_projects(
    live_server: LiveServer, people: Callable[..., Person]
) -> None:
    alice = people("alice")
    with modelyard.connect(live_server.url, alice.token) as client:
        assert client.projects.list() == []
        created = client.projects.create("churn", "Customer churn", "# Churn")
        assert created.owners == ["alice"] and created.my_role == "owner"
        assert [p.slug for p in client.projects.list()] == ["churn"]
        assert client.me()["username"] == "alice"


def test_connect_falls_back_to_environment_then_saved_login(
    live_server: LiveServer, people: Callable[..., Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = people("alice"), people("bob")
    save_login(SavedLogin(live_server.url, bob.token, "bob"))
    with modelyard.connect() as client:
        assert client.me()["username"] == "bob"
    monkeypatch.setenv("MODELYARD_URL", live_server.url)
    monkeypatch.setenv("MODELYARD_TOKEN", alice.token)
    with modelyard.connect() as client:
        assert client.me()["username"] == "alice"


def test_saved_login_is_private(isolated_config: Path) -> None:
    save_login(SavedLogin("http://x", "myd_secret", "alice"))
    assert isolated_config.stat().st_mode & 0o777 == 0o600
    assert json.loads(isolated_config.read_text())["token"] == "myd_secret"
    assert load_login() == SavedLogin("http://x", "myd_secret", "alice")


def test_server_errors_arrive_as_the_same_exception_tree(
    live_server: LiveServer, people: Callable[..., Person]
) -> None:
    alice = people("alice")
    with modelyard.connect(live_server.url, alice.token) as client:
        with pytest.raises(modelyard.NotFoundError):
            client.projects.get("nope")
        client.projects.create("churn", "Churn")
        with pytest.raises(modelyard.ConflictError) as conflict:
            client.projects.create("churn", "Churn again")
        assert conflict.value.field == "slug"
        with pytest.raises(modelyard.InvalidInputError) as invalid:
            client.projects.create("Not A Slug", "x")
        assert invalid.value.field == "slug"
    with (
        modelyard.connect(live_server.url, "myd_wrong") as stranger,
        pytest.raises(modelyard.AuthenticationError),
    ):
        stranger.projects.list()


def test_connect_without_a_server_says_what_to_do() -> None:
    with pytest.raises(modelyard.InvalidInputError, match="MODELYARD_URL"):
        modelyard.connect()


def test_unreachable_server_is_a_connection_error() -> None:
    with (
        modelyard.connect("http://127.0.0.1:9", "myd_x") as client,
        pytest.raises(modelyard.ConnectionFailedError),
    ):
        client.projects.list()
