"""Running the real `git` on a hosted repository, with foreign failures translated once."""

from __future__ import annotations

import logging
import os
import subprocess
import tarfile
import threading
from collections.abc import Sequence
from pathlib import Path

from modelyard.errors import ModelyardError, NotFoundError, ServiceUnavailableError

log = logging.getLogger("modelyard.git")

# No user or system config, no prompts, no pager: a server's git must behave the same everywhere.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    # A path is a path: no `:(glob)` or other pathspec magic from user input.
    "GIT_LITERAL_PATHSPECS": "1",
}


class GitError(ModelyardError):
    """git itself failed in a way the caller did not expect (its stderr goes to the log only)."""


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
    try:
        result = subprocess.run(
            ["git", f"--git-dir={repo}", *args],
            input=input_bytes,
            capture_output=True,
            env=git_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceUnavailableError(
            f"git {args[0]} took longer than {timeout:.0f} s; narrow the request"
        ) from None
    if result.returncode not in ok_codes:
        log.warning(
            "git %s failed (%s): %s",
            args[0],
            result.returncode,
            result.stderr.decode(errors="replace").strip()[-500:],
        )
        raise GitError(f"git {args[0]} failed")
    return result


def run_git_capped(
    repo: Path, args: Sequence[str], *, limit: int, timeout: float = 60
) -> tuple[bytes, bool]:
    """At most `limit` bytes of git's output, and whether there was more (then git is stopped),
    so a huge diff or grep never has to fit in the server's memory."""
    process = subprocess.Popen(
        ["git", f"--git-dir={repo}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    assert process.stdout is not None
    deadline = threading.Timer(timeout, process.kill)  # a slow git is cut off, not waited for
    deadline.start()
    try:
        data = process.stdout.read(limit + 1)
    finally:
        deadline.cancel()
        process.stdout.close()
        process.kill()
        process.wait()
    return data[:limit], len(data) > limit


def resolve_commit(repo: Path, rev: str) -> str:
    """The full commit id `rev` names, or NotFoundError. Never lets `rev` act as an option."""
    # `@{` would reach the reflog, where history an owner force-pushed away still lives.
    if (
        not rev
        or rev.startswith("-")
        or "@{" in rev
        or any(c in rev for c in "\x00\n\r")
        or len(rev) > 250
    ):
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


def export_commit(repo: Path, commit: str, target: Path, *, timeout: float = 600) -> None:
    """Write the tree of `commit` into the folder `target` (no .git), as `git archive` does.

    Extraction uses tarfile's "data" filter, so no entry can land outside `target`.
    """
    process = subprocess.Popen(
        ["git", f"--git-dir={repo}", "archive", "--format=tar", "--end-of-options", commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=git_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    deadline = threading.Timer(timeout, process.kill)
    deadline.start()
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            archive.extractall(target, filter="data")
    except tarfile.TarError as exc:
        raise GitError(f"cannot export commit {commit[:12]}: {exc}") from None
    finally:
        deadline.cancel()
        process.stdout.close()
        stderr = process.stderr.read()
        process.stderr.close()
        code = process.wait()
    if code != 0:
        log.warning("git archive failed (%s): %s", code, stderr.decode(errors="replace")[-500:])
        raise GitError(f"cannot export commit {commit[:12]}")
