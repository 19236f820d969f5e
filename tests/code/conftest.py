from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import LiveServer, Person

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**env, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def remote_url(server: LiveServer, person: Person, slug: str) -> str:
    host = server.url.removeprefix("http://")
    return f"http://{person.username}:{person.token}@{host}/git/{slug}.git"


@pytest.fixture
def project_team(people: Callable[..., Person]) -> dict[str, Person]:
    """'churn' owned by owner, with editor and viewer members; outsider is no member."""
    team = {name: people(name) for name in ("owner", "editor", "viewer", "outsider")}
    response = team["owner"].client.post(
        "/api/v1/projects", json={"slug": "churn", "name": "Churn"}
    )
    assert response.status_code == 201
    for name in ("editor", "viewer"):
        team["owner"].client.put(f"/api/v1/projects/churn/members/{name}", json={"role": name})
    return team


def seed_repo(
    bare: Path,
    files: dict[str, str | bytes],
    message: str,
    *,
    author: str = "Test Author",
    symlinks: dict[str, str] | None = None,
) -> str:
    """Commit `files` onto main of a bare repository (through a scratch clone); answer the sha."""
    scratch = bare.parent / f".scratch-{bare.stem}"
    if not scratch.exists():
        git(bare.parent, "clone", "-q", str(bare), str(scratch))
    for name, content in files.items():
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    for name, pointee in (symlinks or {}).items():
        (scratch / name).symlink_to(pointee)
    git(scratch, "add", "-A")
    git(
        scratch,
        "-c",
        f"user.name={author}",
        "commit",
        "-q",
        "--author",
        f"{author} <a@example.com>",
        "-m",
        message,
    )
    git(scratch, "push", "-q", "origin", "HEAD:main")
    return git(scratch, "rev-parse", "HEAD").stdout.strip()
