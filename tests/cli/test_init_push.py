"""`modelyard init` then `modelyard push` from a temporary folder, end to end."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelyard.cli.main import app
from tests.code.conftest import git
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(autouse=True)
def new_hire_machine(
    isolated_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No saved login and no git identity: a new hire's laptop."""
    for variable in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return isolated_config


def test_init_scaffolds_commits_and_pushes_then_push_sends_changes(
    live_server: LiveServer, people: Callable[..., Person], tmp_path: Path
) -> None:
    alice = people("alice")
    assert runner.invoke(app, ["login", live_server.url, "--token", alice.token]).exit_code == 0
    folder = tmp_path / "churn"
    result = runner.invoke(
        app, ["init", "churn", "--template", "online-classifier", "--dir", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert {"README.md", "train.py", "predict.py", "requirements.txt", "modelyard.yaml"} <= {
        p.name for p in folder.iterdir()
    }
    assert alice.token not in (folder / ".git" / "config").read_text()

    tree = alice.client.get("/api/v1/projects/churn/code/tree").json()
    assert "predict.py" in {e["name"] for e in tree["entries"]}
    first = alice.client.get("/api/v1/projects/churn/code/commits").json()["items"]
    assert [(c["subject"], c["author"]) for c in first] == [
        ("Start from the online-classifier template", "alice")
    ]

    (folder / "train.py").write_text((folder / "train.py").read_text() + "\n# tuned by alice\n")
    pushed = runner.invoke(app, ["push", "-m", "Tune the learning rate", "--dir", str(folder)])
    assert pushed.exit_code == 0, pushed.output
    commits = alice.client.get("/api/v1/projects/churn/code/commits").json()["items"]
    assert commits[0]["subject"] == "Tune the learning rate"
    text = alice.client.get("/api/v1/projects/churn/code/file", params={"path": "train.py"}).json()
    assert text["text"].endswith("# tuned by alice\n")

    nothing = runner.invoke(app, ["push", "--dir", str(folder)])
    assert nothing.exit_code == 0 and "nothing new to commit" in nothing.output
    assert git(folder, "status", "--porcelain").stdout == ""


def test_init_refuses_a_project_that_already_has_code(
    live_server: LiveServer, people: Callable[..., Person], tmp_path: Path
) -> None:
    alice = people("alice")
    runner.invoke(app, ["login", live_server.url, "--token", alice.token])
    assert runner.invoke(app, ["init", "churn", "--dir", str(tmp_path / "a")]).exit_code == 0
    again = runner.invoke(app, ["init", "churn", "--dir", str(tmp_path / "b")])
    assert again.exit_code == 1 and "already has code" in again.output
    unknown = runner.invoke(
        app, ["init", "other", "--template", "nope", "--dir", str(tmp_path / "c")]
    )
    assert unknown.exit_code == 1 and "field: template" in unknown.output
    assert alice.client.get("/api/v1/projects/other").status_code == 404


def test_clone_uses_the_saved_login_and_commits_under_the_users_name(
    live_server: LiveServer, people: Callable[..., Person], tmp_path: Path
) -> None:
    """A new hire clones a teammate's project: no password asked or written to disk, and
    commits made in the clone carry their modelyard name although git knows no identity."""
    alice, bob = people("alice"), people("bob")
    runner.invoke(app, ["login", live_server.url, "--token", alice.token])
    assert runner.invoke(app, ["init", "churn", "--dir", str(tmp_path / "a")]).exit_code == 0
    made = alice.client.put("/api/v1/projects/churn/members/bob", json={"role": "editor"})
    assert made.status_code == 200, made.text
    runner.invoke(app, ["login", live_server.url, "--token", bob.token])
    # bob's git keeps passwords it is given (macOS and Git for Windows do so by default)
    stored = tmp_path / "git-credentials"
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f"[credential]\n\thelper = store --file {stored}\n"
    )
    folder = tmp_path / "b" / "churn"
    cloned = runner.invoke(app, ["clone", "churn", "--dir", str(folder)])
    assert cloned.exit_code == 0, cloned.output
    assert "branch main" in cloned.output and (folder / "train.py").is_file()
    assert bob.token not in (folder / ".git" / "config").read_text()
    (folder / "IDEAS.md").write_text("try a tree\n")
    for command in (["add", "IDEAS.md"], ["commit", "-qm", "An idea"], ["push", "-q"]):
        # plain git (no identity in the environment), through the credential helper
        done = subprocess.run(["git", *command], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    head = bob.client.get("/api/v1/projects/churn/code/commits").json()["items"][0]
    assert (head["subject"], head["email"]) == ("An idea", "bob@modelyard")
    assert not stored.exists() or bob.token not in stored.read_text()  # only modelyard has it

    again = runner.invoke(app, ["clone", "churn", "--dir", str(folder)])
    assert again.exit_code == 1 and "not empty" in " ".join(again.output.split())
    stranger = runner.invoke(app, ["clone", "nope", "--dir", str(tmp_path / "c")])
    assert stranger.exit_code == 1 and "error:" in stranger.output


def test_git_credentials_come_from_the_environment_like_the_sdks(
    live_server: LiveServer,
    people: Callable[..., Person],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI logs in with MODELYARD_URL and MODELYARD_TOKEN, saving nothing: git gets the same
    token, with its owner's name (the server checks they belong together); another host
    gets nothing."""
    bob = people("bob")
    monkeypatch.setenv("MODELYARD_URL", live_server.url)
    monkeypatch.setenv("MODELYARD_TOKEN", bob.token)
    host = live_server.url.removeprefix("http://")
    asked = runner.invoke(app, ["git-credential", "get"], input=f"protocol=http\nhost={host}\n")
    assert asked.exit_code == 0
    assert asked.stdout == f"username=bob\npassword={bob.token}\n"
    other = runner.invoke(app, ["git-credential", "get"], input="protocol=http\nhost=evil:80\n")
    assert other.exit_code == 0 and other.stdout == ""
