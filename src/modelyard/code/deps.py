"""FastAPI parameters shared by the code API and the portal's code pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from modelyard.code.repos import RepoStore


def get_repo_store(request: Request) -> RepoStore:
    store: RepoStore = request.app.state.repos
    return store


RepoStoreDep = Annotated[RepoStore, Depends(get_repo_store)]
Rev = Annotated[str, Query(min_length=1, max_length=250, description="branch, tag or commit")]
RepoPath = Annotated[str, Query(max_length=1000, description="path inside the repository")]
FilePath = Annotated[str, Query(min_length=1, max_length=1000, description="a file's path")]
CommitSha = Annotated[str, Path(min_length=4, max_length=64, pattern=r"^[0-9a-fA-F]+$")]
