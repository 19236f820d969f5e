"""Committing files into a hosted repository from the server itself (demo data, templates)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from modelyard.code.gitcmd import git_env
from modelyard.code.repos import DEFAULT_BRANCH


def commit_files(
    bare: Path,
    files: dict[str, str],
    *,
    author: str,
    email: str,
    message: str,
    date: str | None = None,
) -> str:
    """Commit `files` (path → text) on the default branch of `bare`; answer the new commit id."""
    identity = {
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": author,
        "GIT_COMMITTER_EMAIL": email,
    }
    if date:
        identity |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    env = git_env(identity)

    def git(*args: str, cwd: Path) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    with tempfile.TemporaryDirectory(prefix="modelyard-seed-") as scratch:
        work = Path(scratch) / "work"
        git("clone", "--quiet", str(bare), str(work), cwd=Path(scratch))
        git("checkout", "--quiet", "-B", DEFAULT_BRANCH, cwd=work)
        for path, text in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "--quiet", "-m", message, cwd=work)
        git("push", "--quiet", "origin", f"HEAD:{DEFAULT_BRANCH}", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)
