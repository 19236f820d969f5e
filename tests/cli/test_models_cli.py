"""`modelyard models ...` against a live server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.config_file import SavedLogin, save_login
from tests.conftest import LiveServer, Person

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("isolated_config")


def flat(text: str) -> str:
    """The words of rich's output, without its table borders and wrapping."""
    return " ".join(word for word in text.split() if word.strip("│┃┏┓┗┛┡┩└┘━─┳┻╇╈┼"))


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Person:
    alice = people("alice")
    alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    for body in (b"one", b"two"):
        made = alice.client.post(
            "/api/v1/projects/churn/models/churn-clf/versions",
            content=body,
            headers={"X-Modelyard-Version": json.dumps({"flavor": "sklearn"})},
        )
        assert made.status_code == 201, made.text
    save_login(SavedLogin(live_server.url, alice.token, "alice"))
    return alice


def test_list_versions_and_move_an_alias(alice: Person) -> None:
    moved = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "2", "-p", "churn"])
    assert moved.exit_code == 0, moved.output
    assert "churn-clf@champion → version 2" in flat(moved.output)
    listed = runner.invoke(app, ["models", "list", "-p", "churn"])
    assert listed.exit_code == 0 and "champion→v2" in flat(listed.output)
    versions = runner.invoke(app, ["models", "versions", "churn-clf", "-p", "churn"])
    assert versions.exit_code == 0 and "v2 champion sklearn" in flat(versions.output)


def test_errors_are_one_line_with_the_field(alice: Person) -> None:
    missing = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "9", "-p", "churn"])
    assert missing.exit_code == 1
    assert "error:" in missing.output and "version" in missing.output
    assert "Traceback" not in missing.output


def test_promote_by_alias_in_the_project_folder(
    alice: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a clone (modelyard.yaml names the project) no -p is needed, and champion can be
    pointed at whatever candidate points at, without copying a version number."""
    (tmp_path / "modelyard.yaml").write_text("project: churn\nmodel: churn-clf\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_PROJECT", raising=False)
    assert runner.invoke(app, ["models", "alias", "churn-clf", "candidate", "v2"]).exit_code == 0
    promoted = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "candidate"])
    assert promoted.exit_code == 0, promoted.output
    assert "churn-clf@champion → version 2" in flat(promoted.output)
    aliases = alice.client.get("/api/v1/projects/churn/models/churn-clf/versions").json()
    assert {a: v["version"] for v in aliases["items"] for a in v["aliases"]} == {
        "candidate": 2,
        "champion": 2,
    }
    unknown = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "nightly"])
    assert unknown.exit_code == 1 and "nightly" in unknown.output
    odd = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "²"])
    assert odd.exit_code == 1 and isinstance(odd.exception, SystemExit), odd.exception
    # an alias that looks like a version number is still an alias: v1 points at 2
    assert runner.invoke(app, ["models", "alias", "churn-clf", "v1", "2"]).exit_code == 0
    copied = runner.invoke(app, ["models", "alias", "churn-clf", "champion", "v1"])
    assert "churn-clf@champion → version 2" in flat(copied.output)
    listed = runner.invoke(app, ["models", "versions", "churn-clf"])
    assert listed.exit_code == 0 and "v2 candidate, champion" in flat(listed.output)
