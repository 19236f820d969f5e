"""The code browser: tree, files, history, diffs and search. Plain links with query strings,
so any view can be pasted into a chat."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep, SettingsDep
from modelyard.code import service
from modelyard.code.deps import CommitSha, FilePath, RepoPath, RepoStoreDep, Rev
from modelyard.code.repos import DEFAULT_BRANCH
from modelyard.errors import ModelyardError
from modelyard.projects.service import describe, get_project
from modelyard.web.deps import PortalUser
from modelyard.web.highlight import highlight_file
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = [p for p in path.split("/") if p]
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


def _live_by_commit(session: Session, actor: Actor, slug: str) -> dict[str, list[str]]:
    live: dict[str, list[str]] = {}
    for ref in service.list_code_refs(session, actor, slug):
        if ref.live:
            live.setdefault(ref.commit, []).append(ref.label or f"{ref.kind} {ref.object_id}")
    return live


@router.get("/projects/{slug}/code")
def code_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    store: RepoStoreDep,
    settings: SettingsDep,
    rev: Rev = DEFAULT_BRANCH,
    path: RepoPath = "",
) -> Response:
    project = describe(session, actor, [get_project(session, actor, slug)])[0]
    refs = service.refs(session, actor, store, slug, settings.base_url)
    context: dict[str, object] = {
        "project": project,
        "refs": refs,
        "rev": rev,
        "path": path,
        "crumbs": _crumbs(path),
        "tab": "code",
    }
    if not refs.empty:
        context["tree"] = service.tree(session, actor, store, slug, rev, path)
        context["last_commit"] = service.history(
            session, actor, store, slug, rev, path=path, limit=1
        )
        context["live"] = _live_by_commit(session, actor, slug)
        if not path:
            context["readme"] = service.readme(session, actor, store, slug)
    return render(request, "code_tree.html", context)


@router.get("/projects/{slug}/code/file")
def file_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    store: RepoStoreDep,
    path: FilePath,
    rev: Rev = DEFAULT_BRANCH,
) -> Response:
    project = describe(session, actor, [get_project(session, actor, slug)])[0]
    content = service.file(session, actor, store, slug, rev, path)
    highlighted = highlight_file(content.path, content.text) if content.text is not None else None
    history = service.history(session, actor, store, slug, rev, path=path, limit=1)
    context = {
        "project": project,
        "file": content,
        "rev": rev,
        "crumbs": _crumbs(content.path),
        "highlighted": highlighted,
        "last_commit": history,
        "tab": "code",
    }
    return render(request, "code_file.html", context)


@router.get("/projects/{slug}/code/commits")
def commits_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    store: RepoStoreDep,
    rev: Rev = DEFAULT_BRANCH,
    path: RepoPath = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    project = describe(session, actor, [get_project(session, actor, slug)])[0]
    per_page = 50
    commits = service.history(
        session,
        actor,
        store,
        slug,
        rev,
        path=path,
        limit=per_page + 1,
        skip=(page - 1) * per_page,
    )
    context = {
        "project": project,
        "rev": rev,
        "path": path,
        "commits": commits[:per_page],
        "page": page,
        "more": len(commits) > per_page,
        "tab": "commits",
        "live": _live_by_commit(session, actor, slug),
    }
    return render(request, "code_commits.html", context)


@router.get("/projects/{slug}/code/commit/{sha}")
def commit_page(
    request: Request,
    slug: str,
    sha: CommitSha,
    actor: PortalUser,
    session: SessionDep,
    store: RepoStoreDep,
) -> Response:
    project = describe(session, actor, [get_project(session, actor, slug)])[0]
    detail = service.commit(session, actor, store, slug, sha)
    live = _live_by_commit(session, actor, slug).get(detail.commit.sha, [])
    context = {"project": project, "detail": detail, "live": live, "tab": "commits"}
    return render(request, "code_commit.html", context)


@router.get("/code/search")
def search_page(
    request: Request,
    actor: PortalUser,
    session: SessionDep,
    store: RepoStoreDep,
    q: Annotated[str, Query(max_length=200)] = "",
    regex: bool = False,
) -> Response:
    results, error = None, None
    if q.strip():
        try:
            results = service.search_code(session, actor, store, q, regex=regex)
        except ModelyardError as exc:
            error = exc
    context = {"q": q, "regex": regex, "results": results, "error": error, "nav": "search"}
    return render(request, "code_search.html", context, status=error.status_code if error else 200)
