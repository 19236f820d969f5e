from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from starlette.responses import Response

from modelyard.accounts.deps import CurrentUser, SessionDep, SettingsDep
from modelyard.code import scaffold, service
from modelyard.code.deps import CommitSha, FilePath, RepoPath, RepoStoreDep, Rev
from modelyard.code.repos import DEFAULT_BRANCH
from modelyard.code.schemas import (
    CodeRefList,
    CodeSettings,
    CommitDetail,
    CommitList,
    FilePublic,
    RefsPublic,
    SearchResults,
    TemplateFiles,
    TemplateList,
    TreePublic,
)
from modelyard.http_errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["code"], responses=ERROR_RESPONSES)


@router.get("/projects/{project}/code/refs", response_model=RefsPublic)
def get_refs(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> RefsPublic:
    """Branches and tags, and the URL to `git clone` (username + API token)."""
    return service.refs(session, actor, store, project, settings.base_url)


@router.get("/projects/{project}/code/tree", response_model=TreePublic)
def get_tree(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    rev: Rev = DEFAULT_BRANCH,
    path: RepoPath = "",
) -> TreePublic:
    return service.tree(session, actor, store, project, rev, path)


@router.get("/projects/{project}/code/file", response_model=FilePublic)
def get_file(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    path: FilePath,
    rev: Rev = DEFAULT_BRANCH,
) -> FilePublic:
    """A file's text; binary and very large files come back with `text: null` and a flag."""
    return service.file(session, actor, store, project, rev, path)


@router.get("/projects/{project}/code/raw", response_class=Response)
def get_raw(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    path: FilePath,
    rev: Rev = DEFAULT_BRANCH,
) -> Response:
    data = service.raw_file(session, actor, store, project, rev, path)
    name = path.rsplit("/", 1)[-1]
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        data, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
    )


@router.get("/projects/{project}/code/commits", response_model=CommitList)
def list_commits(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    rev: Rev = DEFAULT_BRANCH,
    path: RepoPath = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    skip: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> CommitList:
    items = service.history(session, actor, store, project, rev, path=path, limit=limit, skip=skip)
    return CommitList(items=items)


@router.get("/projects/{project}/code/commits/{sha}", response_model=CommitDetail)
def get_commit(
    project: str,
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    sha: CommitSha,
) -> CommitDetail:
    return service.commit(session, actor, store, project, sha)


@router.put("/projects/{project}/code/settings", response_model=CodeSettings)
def set_code_settings(
    project: str, body: CodeSettings, store: RepoStoreDep, actor: CurrentUser, session: SessionDep
) -> CodeSettings:
    """Allow or refuse force-pushes to the default branch (owners)."""
    return service.set_code_settings(session, actor, store, project, body)


@router.get("/projects/{project}/code/live", response_model=CodeRefList)
def list_live_code(project: str, actor: CurrentUser, session: SessionDep) -> CodeRefList:
    """Which commit each run, model version and endpoint variant was built from."""
    return CodeRefList(items=service.list_code_refs(session, actor, project))


@router.get("/code/search", response_model=SearchResults)
def search_code(
    store: RepoStoreDep,
    actor: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    regex: bool = False,
    ignore_case: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = service.SEARCH_LIMIT,
) -> SearchResults:
    """Find text (or a regular expression) in every repository you can see."""
    return service.search_code(
        session, actor, store, q, regex=regex, ignore_case=ignore_case, limit=limit
    )


@router.get("/code/templates", response_model=TemplateList)
def list_templates(actor: CurrentUser) -> TemplateList:
    """Starter projects `modelyard init --template NAME` can create."""
    return TemplateList(items=scaffold.list_templates())


@router.get("/code/templates/{name}", response_model=TemplateFiles)
def get_template(
    name: str,
    actor: CurrentUser,
    project: Annotated[
        str, Query(max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    ],
    display_name: Annotated[str, Query(max_length=200)] = "",
) -> TemplateFiles:
    files = scaffold.render_template(name, project=project, display_name=display_name or project)
    return TemplateFiles(name=name, files=files)
