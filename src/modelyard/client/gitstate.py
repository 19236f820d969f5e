"""Which commit of the project's repository the current folder holds, for a run's record."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def git_state(project: str, folder: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) when `folder` is inside a clone of the project's modelyard repository."""
    folder = folder or Path.cwd()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    remotes = git("remote", "-v") or ""
    if f"/git/{project}.git" not in remotes and not re.search(
        rf"/git/{re.escape(project)}(\s|$)", remotes
    ):
        return None, None
    commit = git("rev-parse", "HEAD")
    if commit is None or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)
