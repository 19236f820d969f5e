"""The real git client against modelyard's git hosting on a loopback port."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.code.conftest import git, remote_url
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.slow


def commit_file(clone: Path, name: str, text: str, message: str) -> None:
    (clone / name).write_text(text)
    git(clone, "add", name)
    git(clone, "commit", "-q", "-m", message)


def test_editor_clones_commits_pushes_and_a_viewer_pulls(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    editor, viewer = project_team["editor"], project_team["viewer"]
    work = tmp_path / "editor"
    git(tmp_path, "clone", "-q", remote_url(live_server, editor, "churn"), str(work))
    commit_file(work, "train.py", "print('hello')\n", "first commit")
    git(work, "push", "-q", "origin", "HEAD:main")

    mirror = tmp_path / "viewer"
    git(tmp_path, "clone", "-q", remote_url(live_server, viewer, "churn"), str(mirror))
    assert (mirror / "train.py").read_text() == "print('hello')\n"

    commit_file(work, "predict.py", "class Predictor: ...\n", "second commit")
    git(work, "checkout", "-q", "-b", "feature")
    git(work, "push", "-q", "origin", "main", "feature")
    git(work, "tag", "v1")
    git(work, "push", "-q", "origin", "v1")
    git(mirror, "pull", "-q", "origin", "main")
    assert (mirror / "predict.py").exists()
    remote_refs = git(mirror, "ls-remote", "origin").stdout
    assert "refs/heads/feature" in remote_refs and "refs/tags/v1" in remote_refs


def test_viewer_cannot_push_and_strangers_cannot_clone(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    viewer, outsider, editor = (
        project_team["viewer"],
        project_team["outsider"],
        project_team["editor"],
    )
    work = tmp_path / "viewer"
    git(tmp_path, "clone", "-q", remote_url(live_server, viewer, "churn"), str(work))
    commit_file(work, "evil.py", "x = 1\n", "viewer tries")
    refused = git(work, "push", "origin", "HEAD:main", check=False)
    assert refused.returncode != 0 and "403" in refused.stderr

    stranger = git(
        tmp_path,
        "clone",
        remote_url(live_server, outsider, "churn"),
        str(tmp_path / "x"),
        check=False,
    )
    assert stranger.returncode != 0 and "not found" in stranger.stderr.lower()
    assert not (tmp_path / "x" / ".git").exists() or not list((tmp_path / "x").glob("*.py"))

    host = live_server.url.removeprefix("http://")
    wrong_token = f"http://{editor.username}:myd_wrong@{host}/git/churn.git"
    anonymous = git(tmp_path, "clone", wrong_token, str(tmp_path / "y"), check=False)
    assert anonymous.returncode != 0 and "Authentication failed" in anonymous.stderr


def test_force_push_to_the_default_branch_is_refused_and_changes_nothing(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    editor = project_team["editor"]
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(live_server, editor, "churn"), str(work))
    commit_file(work, "a.py", "a = 1\n", "one")
    commit_file(work, "b.py", "b = 2\n", "two")
    git(work, "push", "-q", "origin", "HEAD:main")
    before = git(work, "ls-remote", "origin", "refs/heads/main").stdout

    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_file(work, "c.py", "c = 3\n", "rewritten history")
    forced = git(work, "push", "--force", "origin", "HEAD:main", check=False)
    assert forced.returncode != 0 and "force-push to main is refused" in forced.stderr
    assert git(work, "ls-remote", "origin", "refs/heads/main").stdout == before

    git(
        work, "push", "-q", "--force", "origin", "HEAD:experiment"
    )  # other branches may be rewritten


def test_a_push_over_the_size_limit_is_refused_cleanly(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    live_server.app.state.repos.max_push_bytes = 64 * 1024
    editor = project_team["editor"]
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(live_server, editor, "churn"), str(work))
    (work / "blob.bin").write_bytes(os.urandom(2 * 1024 * 1024))  # over http.postBuffer: chunked
    git(work, "add", "blob.bin")
    git(work, "commit", "-q", "-m", "too big")
    refused = git(work, "push", "origin", "HEAD:main", check=False)
    assert refused.returncode != 0
    assert "larger than the 0.1 MB limit" in refused.stderr
    assert git(work, "ls-remote", "origin").stdout.strip() == ""


def test_owners_may_allow_force_push(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    editor, owner = project_team["editor"], project_team["owner"]
    body = {"allow_force_push": True}
    assert editor.client.put("/api/v1/projects/churn/code/settings", json=body).status_code == 403
    assert owner.client.put("/api/v1/projects/churn/code/settings", json=body).status_code == 200
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(live_server, editor, "churn"), str(work))
    commit_file(work, "a.py", "a = 1\n", "one")
    commit_file(work, "b.py", "b = 2\n", "two")
    git(work, "push", "-q", "origin", "HEAD:main")
    git(work, "reset", "-q", "--hard", "HEAD~1")
    git(work, "push", "-q", "--force", "origin", "HEAD:main")
    assert git(work, "ls-remote", "origin", "refs/heads/main").stdout.startswith(
        git(work, "rev-parse", "HEAD").stdout.strip()
    )


def test_an_interrupted_push_leaves_the_repository_as_it_was(
    live_server: LiveServer, project_team: dict[str, Person], tmp_path: Path
) -> None:
    editor = project_team["editor"]
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    commit_file(work, "a.py", "a = 1\n" * 2000, "one")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "--revs"],
        cwd=work,
        input=f"{sha}\n".encode(),
        capture_output=True,
        check=True,
    ).stdout
    command = f"{'0' * 40} {sha} refs/heads/main\x00 report-status\n".encode()
    body = f"{len(command) + 4:04x}".encode() + command + b"0000" + pack[: len(pack) // 2]
    response = httpx.post(
        f"{live_server.url}/git/churn.git/git-receive-pack",
        content=body,
        auth=(editor.username, editor.token),
        headers={"Content-Type": "application/x-git-receive-pack-request"},
    )
    assert response.status_code == 200
    bare = live_server.app.state.repos.ensure("churn")
    assert git(bare, "for-each-ref").stdout == ""
    assert git(bare, "count-objects").stdout.startswith("0 objects")
