"""Reading a repository at a revision: refs, trees, files, history and diffs.

Everything is read from git objects, never from a checkout, so a path can only name an entry
of the repository's tree: `..`, absolute paths and symlinks cannot reach the file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from modelyard.code.gitcmd import resolve_commit, run_git, run_git_capped
from modelyard.errors import InvalidInputError, NotFoundError

MAX_SHOWN_BYTES = 512 * 1024
MAX_DIFF_BYTES = 1024 * 1024
MAX_RAW_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class TreeEntry:
    name: str
    path: str
    kind: str  # "dir", "file", "symlink" or "submodule"
    size: int | None


@dataclass(frozen=True)
class FileContent:
    commit: str
    path: str
    size: int
    text: str | None  # None when binary or too large to show
    binary: bool
    too_large: bool
    symlink_target: str | None = None


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    time: datetime
    subject: str
    body: str = ""
    parents: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None
    status: str  # added, deleted, modified, renamed
    patch: str
    binary: bool


def clean_path(path: str) -> str:
    """A repository-relative path; InvalidInputError for '..', '.', NUL or backslashes.

    A leading '/' means the repository's root, never the file system's.
    """
    if "\x00" in path or "\\" in path:
        raise InvalidInputError("paths may not contain NUL or backslashes", field="path")
    parts = [part for part in path.split("/") if part]
    if any(part in ("..", ".") for part in parts):
        raise InvalidInputError("paths may not use '.' or '..'", field="path")
    return "/".join(parts)


def list_refs(repo: Path) -> dict[str, list[str]]:
    out = run_git(repo, ["for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"]).stdout
    refs: dict[str, list[str]] = {"branches": [], "tags": []}
    for line in out.decode().splitlines():
        if line.startswith("refs/heads/"):
            refs["branches"].append(line.removeprefix("refs/heads/"))
        elif line.startswith("refs/tags/"):
            refs["tags"].append(line.removeprefix("refs/tags/"))
    return refs


def list_tree(repo: Path, rev: str, path: str = "") -> tuple[str, list[TreeEntry]]:
    """The commit `rev` names and the entries of `path` in it, folders first."""
    sha = resolve_commit(repo, rev)
    path = clean_path(path)
    target = f"{sha}:{path}" if path else f"{sha}^{{tree}}"
    kind = run_git(repo, ["cat-file", "-t", target], ok_codes=(0, 128)).stdout.decode().strip()
    if kind != "tree":
        raise NotFoundError(f"no folder {path!r} at {rev}", field="path")
    out = run_git(repo, ["ls-tree", "-l", "-z", target]).stdout.decode(errors="replace")
    entries = []
    for record in filter(None, out.split("\x00")):
        meta, name = record.split("\t", 1)
        mode, objtype, _obj, size = meta.split()
        entry_kind = {"tree": "dir", "commit": "submodule"}.get(objtype, "file")
        if mode == "120000":
            entry_kind = "symlink"
        entries.append(
            TreeEntry(
                name,
                f"{path}/{name}" if path else name,
                entry_kind,
                int(size) if size.isdigit() else None,
            )
        )
    entries.sort(key=lambda e: (e.kind != "dir", e.name.lower()))
    return sha, entries


def read_file(repo: Path, rev: str, path: str, *, limit: int = MAX_SHOWN_BYTES) -> FileContent:
    sha = resolve_commit(repo, rev)
    path = clean_path(path)
    if not path:
        raise InvalidInputError("name a file", field="path")
    listing = run_git(repo, ["ls-tree", "-z", sha, "--", path]).stdout.decode(errors="replace")
    record = listing.split("\x00")[0]
    if not record or record.split("\t", 1)[1] != path:
        raise NotFoundError(f"no file {path!r} at {rev}", field="path")
    mode, objtype, obj = record.split("\t", 1)[0].split()
    if objtype != "blob":
        raise NotFoundError(f"{path!r} is a folder, not a file", field="path")
    size = int(run_git(repo, ["cat-file", "-s", obj]).stdout)
    if mode == "120000":
        target = run_git(repo, ["cat-file", "blob", obj]).stdout.decode(errors="replace")
        return FileContent(sha, path, size, None, False, False, symlink_target=target)
    if size > limit:
        return FileContent(sha, path, size, None, binary=False, too_large=True)
    data = run_git(repo, ["cat-file", "blob", obj]).stdout
    if b"\x00" in data[:8000]:
        return FileContent(sha, path, size, None, binary=True, too_large=False)
    try:
        return FileContent(sha, path, size, data.decode("utf-8"), binary=False, too_large=False)
    except UnicodeDecodeError:
        return FileContent(sha, path, size, None, binary=True, too_large=False)


def read_raw(repo: Path, rev: str, path: str) -> bytes:
    """A file's bytes for download; refused past MAX_RAW_BYTES (a tiny push can unpack huge)."""
    spec = f"{resolve_commit(repo, rev)}:{clean_path(path)}"
    size = run_git(repo, ["cat-file", "-s", spec], ok_codes=(0, 128))
    if size.returncode:
        raise NotFoundError(f"no file {path!r} at {rev}", field="path")
    if int(size.stdout) > MAX_RAW_BYTES:
        raise InvalidInputError(
            f"{path!r} is larger than {MAX_RAW_BYTES // 1024 // 1024} MB; clone the repository to get it",
            field="path",
        )
    return run_git(repo, ["cat-file", "blob", spec]).stdout


# NUL separates fields: it is the one byte a commit message cannot contain.
_LOG_FORMAT = "%H%x00%an%x00%ae%x00%at%x00%P%x00%s%x00%b%x00"
_FIELDS = 7


def _parse_commits(out: bytes) -> list[Commit]:
    fields = out.decode(errors="replace").split("\x00")
    commits = []
    for start in range(0, len(fields) - _FIELDS + 1, _FIELDS):
        sha, author, email, stamp, parents, subject, body = fields[start : start + _FIELDS]
        commits.append(
            Commit(
                sha.strip(),
                author,
                email,
                datetime.fromtimestamp(int(stamp), UTC),
                subject,
                body.strip(),
                parents.split(),
            )
        )
    return commits


def log(repo: Path, rev: str, *, path: str = "", limit: int = 50, skip: int = 0) -> list[Commit]:
    sha = resolve_commit(repo, rev)
    args = ["log", f"--format={_LOG_FORMAT}", f"--max-count={limit}", f"--skip={skip}", sha]
    if cleaned := clean_path(path):
        args += ["--", cleaned]
    return _parse_commits(run_git(repo, args).stdout)


def show_commit(repo: Path, rev: str) -> tuple[Commit, list[FileDiff], bool]:
    """A commit, its per-file diffs against its first parent, and whether they were cut short."""
    sha = resolve_commit(repo, rev)
    commit = _parse_commits(run_git(repo, ["show", "-s", f"--format={_LOG_FORMAT}", sha]).stdout)[0]
    base = commit.parents[0] if commit.parents else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    raw, truncated = run_git_capped(
        repo,
        ["diff", "--no-color", "--find-renames", "--no-ext-diff", base, sha],
        limit=MAX_DIFF_BYTES,
    )
    text = raw.decode(errors="replace")
    return commit, _split_diff(text), truncated


def _split_diff(text: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    for chunk in text.split("\ndiff --git "):
        if not chunk.strip():
            continue
        chunk = chunk.removeprefix("diff --git ")
        lines = chunk.splitlines()
        header = lines[0]
        old_path = new_path = header.split(" b/", 1)[-1]
        if header.startswith("a/"):
            old_path = header[2:].split(" b/", 1)[0]
        status = "modified"
        for line in lines[1:6]:
            if line.startswith("new file"):
                status = "added"
            elif line.startswith("deleted file"):
                status = "deleted"
            elif line.startswith("rename from"):
                status = "renamed"
        binary = any(line.startswith("Binary files") for line in lines[1:8])
        body_start = next((i for i, line in enumerate(lines) if line.startswith("@@")), len(lines))
        files.append(
            FileDiff(
                new_path,
                old_path if status == "renamed" else None,
                status,
                "\n".join(lines[body_start:]),
                binary,
            )
        )
    return files
