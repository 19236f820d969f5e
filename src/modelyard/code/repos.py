"""Where each project's bare git repository lives, and how it is set up."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

from modelyard.code.gitcmd import git_env, run_git

DEFAULT_BRANCH = "main"
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Refuses rewriting or deleting the default branch unless the repository allows force-push.
# git keeps a push's objects in quarantine until this hook accepts, so a refused or interrupted
# push leaves the repository exactly as it was.
PRE_RECEIVE_HOOK = """#!/bin/sh
zero=0000000000000000000000000000000000000000
allow=$(git config --bool modelyard.allowForcePush || echo false)
while read old new ref; do
  [ "$ref" = "refs/heads/{branch}" ] || continue
  if [ "$new" = "$zero" ]; then
    echo "modelyard: the default branch {branch} cannot be deleted" >&2; exit 1
  fi
  if [ "$old" != "$zero" ] && [ "$allow" != "true" ] && ! git merge-base --is-ancestor "$old" "$new"; then
    echo "modelyard: force-push to {branch} is refused; pull and merge, or ask an owner to allow it" >&2
    exit 1
  fi
done
exit 0
"""


class RepoStore:
    """The bare repositories under `<home>/repos`, one per project slug."""

    def __init__(self, root: Path, *, max_push_bytes: int) -> None:
        self.root = root
        self.max_push_bytes = max_push_bytes

    def path(self, slug: str) -> Path:
        if not _SLUG.match(slug):
            raise ValueError(f"not a project slug: {slug!r}")
        return self.root / f"{slug}.git"

    def ensure(self, slug: str) -> Path:
        """The project's repository, created on first use."""
        path = self.path(slug)
        if not (path / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    "git",
                    "init",
                    "--quiet",
                    "--bare",
                    f"--initial-branch={DEFAULT_BRANCH}",
                    str(path),
                ],
                check=True,
                env=git_env(),
                capture_output=True,
            )
            self._configure(path)
        return path

    def _configure(self, path: Path) -> None:
        settings = {
            "http.receivepack": "true",
            "http.uploadpack": "true",
            "receive.denyDeleteCurrent": "true",
            "receive.fsckObjects": "true",
            "core.logAllRefUpdates": "true",
            "uploadpack.allowFilter": "true",
        }
        for key, value in settings.items():
            run_git(path, ["config", key, value])
        hook = path / "hooks" / "pre-receive"
        hook.write_text(PRE_RECEIVE_HOOK.replace("{branch}", DEFAULT_BRANCH))
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def set_force_push(self, slug: str, allowed: bool) -> None:
        run_git(
            self.ensure(slug),
            ["config", "--bool", "modelyard.allowForcePush", str(allowed).lower()],
        )

    def is_empty(self, slug: str) -> bool:
        result = run_git(
            self.ensure(slug), ["rev-parse", "--verify", "--quiet", "HEAD"], ok_codes=(0, 1)
        )
        return result.returncode != 0
