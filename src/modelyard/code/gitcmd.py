"""Running the real `git` on a hosted repository, with foreign failures translated once."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from modelyard.errors import ModelyardError, NotFoundError

# No user or system config, no prompts, no pager: a server's git must behave the same everywhere.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
}


class GitError(ModelyardError):
    """git itself failed in a way the caller did not expect."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env.update(extra or {})
    return env


def run_git(
    repo: Path,
    args: Sequence[str],
    *,
    input_bytes: bytes | None = None,
    ok_codes: tuple[int, ...] = (0,),
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        ["git", f"--git-dir={repo}", *args],
        input=input_bytes,
        capture_output=True,
        env=git_env(),
        timeout=timeout,
        check=False,
    )
    if result.returncode not in ok_codes:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {message[-1] if message else result.returncode}")
    return result


def resolve_commit(repo: Path, rev: str) -> str:
    """The full commit id `rev` names, or NotFoundError. Never lets `rev` act as an option."""
    if not rev or rev.startswith("-") or any(c in rev for c in "\x00\n\r") or len(rev) > 250:
        raise NotFoundError(f"no revision {rev!r}", field="rev")
    result = run_git(
        repo,
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        ok_codes=(0, 1, 128),
    )
    sha = result.stdout.decode().strip()
    if result.returncode != 0 or len(sha) != 40:
        raise NotFoundError(f"no revision {rev!r} in this repository", field="rev")
    return sha
