"""Code search: `git grep` over each visible repository's default branch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from modelyard.code.gitcmd import run_git, run_git_capped
from modelyard.errors import InvalidInputError

MAX_PATTERN = 200
MAX_OUTPUT_BYTES = 2 * 1024 * 1024
GREP_TIMEOUT = 10


@dataclass(frozen=True)
class SearchHit:
    project: str
    path: str
    line: int
    text: str


def check_pattern(query: str, *, regex: bool) -> str:
    query = query.strip()
    if not query:
        raise InvalidInputError("type something to search for", field="q")
    if len(query) > MAX_PATTERN or "\x00" in query or "\n" in query:
        raise InvalidInputError(
            f"search for at most {MAX_PATTERN} characters on one line", field="q"
        )
    if regex:
        try:
            re.compile(query)
        except re.error as exc:
            raise InvalidInputError(f"not a valid regular expression: {exc}", field="q") from None
    return query


def grep(
    repo: Path, project: str, query: str, *, regex: bool, ignore_case: bool, rev: str, limit: int
) -> list[SearchHit] | None:
    """Lines matching `query` in text files at `rev` (binary files are skipped); None when the
    repository has no `rev` yet (nothing was pushed)."""
    args = ["grep", "-I", "-n", "--no-color", "-z", f"--max-count={limit}"]
    # POSIX extended regexes: no backtracking blow-ups from a pattern like (a|aa)+$.
    args.append("-E" if regex else "-F")
    if ignore_case:
        args.append("-i")
    args += ["-e", query, rev, "--"]
    if run_git(repo, ["rev-parse", "--verify", "--quiet", rev], ok_codes=(0, 1)).returncode:
        return None  # nothing pushed yet
    out, _ = run_git_capped(repo, args, limit=MAX_OUTPUT_BYTES, timeout=GREP_TIMEOUT)
    hits = []
    for line in out.decode(errors="replace").splitlines():
        parts = line.split("\x00", 2)
        if len(parts) != 3:
            continue
        location, number, text = parts
        path = location.split(":", 1)[1] if ":" in location else location
        hits.append(SearchHit(project, path, int(number), text[:300]))
        if len(hits) >= limit:
            break
    return hits
