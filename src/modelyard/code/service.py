"""Code capability: permission-checked access to each project's repository."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.code import browse, search
from modelyard.code.gitcmd import export_commit, resolve_commit, run_git
from modelyard.code.repos import DEFAULT_BRANCH as DEFAULT_BRANCH  # the branch pages open on
from modelyard.code.repos import RepoStore as RepoStore  # other capabilities pass it back in
from modelyard.code.schemas import (
    CodeRefPublic,
    CodeSettings,
    CommitDetail,
    CommitPublic,
    FileDiffPublic,
    FilePublic,
    RefsPublic,
    SearchHitPublic,
    SearchResults,
    TreeEntryPublic,
    TreePublic,
)
from modelyard.code.tables import CodeRefRow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project, list_projects, require_writable

SEARCH_LIMIT = 200
SEARCH_WORKERS = 4


def open_repo(
    session: Session, actor: Actor, store: RepoStore, slug: str, *, min_role: Role = Role.viewer
) -> Path:
    """The project's repository, if the actor holds `min_role` on the project."""
    project = get_project(session, actor, slug, min_role=min_role)
    return store.ensure(project.slug)


def _require_content(store: RepoStore, slug: str) -> None:
    if store.is_empty(slug):
        raise NotFoundError(
            f"the repository of {slug!r} is empty: push to it, or start it with `modelyard init`",
            field="rev",
        )


def refs(session: Session, actor: Actor, store: RepoStore, slug: str, base_url: str) -> RefsPublic:
    repo = open_repo(session, actor, store, slug)
    listed = browse.list_refs(repo)
    return RefsPublic(
        default_branch=DEFAULT_BRANCH,
        empty=store.is_empty(slug),
        branches=listed["branches"],
        tags=listed["tags"],
        clone_url=f"{base_url.rstrip('/')}/git/{slug}.git",
    )


def tree(
    session: Session, actor: Actor, store: RepoStore, slug: str, rev: str, path: str
) -> TreePublic:
    repo = open_repo(session, actor, store, slug)
    _require_content(store, slug)
    commit, entries = browse.list_tree(repo, rev, path)
    return TreePublic(
        rev=rev,
        commit=commit,
        path=browse.clean_path(path),
        entries=[TreeEntryPublic(**asdict(e)) for e in entries],
    )


def file(
    session: Session, actor: Actor, store: RepoStore, slug: str, rev: str, path: str
) -> FilePublic:
    repo = open_repo(session, actor, store, slug)
    _require_content(store, slug)
    content = browse.read_file(repo, rev, path)
    return FilePublic(rev=rev, **asdict(content))


def raw_file(
    session: Session, actor: Actor, store: RepoStore, slug: str, rev: str, path: str
) -> bytes:
    repo = open_repo(session, actor, store, slug)
    _require_content(store, slug)
    return browse.read_raw(repo, rev, path)


def history(
    session: Session,
    actor: Actor,
    store: RepoStore,
    slug: str,
    rev: str,
    *,
    path: str = "",
    limit: int = 50,
    skip: int = 0,
) -> list[CommitPublic]:
    repo = open_repo(session, actor, store, slug)
    _require_content(store, slug)
    return [
        CommitPublic(**asdict(c)) for c in browse.log(repo, rev, path=path, limit=limit, skip=skip)
    ]


def commit(session: Session, actor: Actor, store: RepoStore, slug: str, sha: str) -> CommitDetail:
    repo = open_repo(session, actor, store, slug)
    _require_content(store, slug)
    found, diffs, truncated = browse.show_commit(repo, sha)
    return CommitDetail(
        commit=CommitPublic(**asdict(found)),
        files=[FileDiffPublic(**asdict(d)) for d in diffs],
        truncated=truncated,
    )


def set_code_settings(
    session: Session, actor: Actor, store: RepoStore, slug: str, data: CodeSettings
) -> CodeSettings:
    """Owners decide whether the default branch may be rewritten (force-pushed)."""
    require_writable(get_project(session, actor, slug, min_role=Role.owner))
    store.set_force_push(slug, data.allow_force_push)
    audit.record(
        session,
        "code.settings",
        actor=actor.username,
        target=slug,
        ip=actor.ip,
        allow_force_push=data.allow_force_push,
    )
    session.commit()
    return data


def commit_count(store: RepoStore, slug: str) -> int:
    """Commits on the default branch (0 for an empty repository); callers check access."""
    repo = store.ensure(slug)
    result = run_git(repo, ["rev-list", "--count", DEFAULT_BRANCH], ok_codes=(0, 128))
    return int(result.stdout) if result.returncode == 0 else 0


def readme(session: Session, actor: Actor, store: RepoStore, slug: str) -> str | None:
    """The README at the default branch, if the repository has one."""
    repo = open_repo(session, actor, store, slug)
    if store.is_empty(slug):
        return None
    for name in ("README.md", "README.markdown", "README.txt", "README"):
        try:
            content = browse.read_file(repo, DEFAULT_BRANCH, name)
        except NotFoundError:
            continue
        return content.text
    return None


def search_code(
    session: Session,
    actor: Actor,
    store: RepoStore,
    query: str,
    *,
    regex: bool = False,
    ignore_case: bool = True,
    limit: int = SEARCH_LIMIT,
) -> SearchResults:
    """Lines matching `query` at the default branch of every project the actor can see."""
    pattern = search.check_pattern(query, regex=regex)
    slugs = [project.slug for project in list_projects(session, actor)]

    def grep_one(slug: str) -> list[search.SearchHit] | None:
        return search.grep(
            store.ensure(slug),
            slug,
            pattern,
            regex=regex,
            ignore_case=ignore_case,
            rev=DEFAULT_BRANCH,
            limit=limit,
        )

    # git grep is a process per repository; a few at once hide its start-up cost.
    with ThreadPoolExecutor(max_workers=SEARCH_WORKERS) as pool:
        found = list(pool.map(grep_one, slugs))
    hits = [hit for per_project in found if per_project for hit in per_project][:limit]
    return SearchResults(
        query=pattern,
        regex=regex,
        projects_searched=sum(1 for per_project in found if per_project is not None),
        items=[SearchHitPublic(**asdict(h)) for h in hits],
    )


def record_code_ref(
    session: Session,
    project_id: int,
    *,
    kind: str,
    object_id: str,
    commit: str,
    label: str = "",
    ref: str = "",
    live: bool = True,
) -> CodeRefRow:
    """Mark that `kind` `object_id` runs the project's code at `commit` (later capabilities call
    this when they create a run, a model version or an endpoint variant)."""
    row = session.scalars(
        select(CodeRefRow).where(CodeRefRow.kind == kind, CodeRefRow.object_id == object_id)
    ).first()
    if row is None:
        row = CodeRefRow(project_id=project_id, kind=kind, object_id=object_id, commit=commit)
        session.add(row)
    row.commit, row.label, row.ref, row.live = commit, label, ref, live
    session.commit()
    return row


def list_code_refs(session: Session, actor: Actor, slug: str) -> list[CodeRefPublic]:
    project = get_project(session, actor, slug)
    rows = session.scalars(
        select(CodeRefRow).where(CodeRefRow.project_id == project.id).order_by(CodeRefRow.id.desc())
    ).all()
    return [
        CodeRefPublic(
            kind=r.kind,
            object_id=r.object_id,
            label=r.label,
            commit=r.commit,
            ref=r.ref,
            live=r.live,
            created_at=r.created_at,
        )
        for r in rows
    ]


def resolve_ref(store: RepoStore, slug: str, ref: str) -> str:
    """The commit `ref` (branch, tag, commit, HEAD) names in the project's repository; callers
    check access. An empty repository is a ConflictError, an unknown ref names `ref`."""
    if store.is_empty(slug):
        raise ConflictError(
            f"the repository of {slug!r} is empty: push code to it first (`modelyard push`)",
            field="ref",
        )
    try:
        return resolve_commit(store.path(slug), ref)
    except NotFoundError:
        raise InvalidInputError(
            f"no branch, tag or commit {ref!r} in the repository of {slug!r}", field="ref"
        ) from None


def file_mode(store: RepoStore, slug: str, commit: str, path: str) -> str | None:
    """The git mode of `path` at `commit` ("100644" file, "100755" executable, "120000" link,
    "040000" folder), or None when there is nothing there. Callers check access."""
    out = run_git(store.path(slug), ["ls-tree", "-z", "--full-tree", commit, "--", path]).stdout
    for entry in out.split(b"\0"):
        meta, _, name = entry.partition(b"\t")
        if name.decode(errors="replace") == path:
            return meta.split(b" ", 1)[0].decode()
    return None


def export_tree(store: RepoStore, slug: str, commit: str, target: Path) -> None:
    """Write the project's files at `commit` into the folder `target`. Callers check access."""
    export_commit(store.path(slug), commit, target)
