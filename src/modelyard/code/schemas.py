from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, StrictBool


class RefsPublic(BaseModel):
    default_branch: str
    empty: bool
    branches: list[str]
    tags: list[str]
    clone_url: str


class TreeEntryPublic(BaseModel):
    name: str
    path: str
    kind: str
    size: int | None


class TreePublic(BaseModel):
    rev: str
    commit: str
    path: str
    entries: list[TreeEntryPublic]


class FilePublic(BaseModel):
    rev: str
    commit: str
    path: str
    size: int
    text: str | None
    binary: bool
    too_large: bool
    symlink_target: str | None


class CommitPublic(BaseModel):
    sha: str
    author: str
    email: str
    time: datetime
    subject: str
    body: str
    parents: list[str]


class CommitList(BaseModel):
    items: list[CommitPublic]


class FileDiffPublic(BaseModel):
    path: str
    old_path: str | None
    status: str
    patch: str
    binary: bool


class CommitDetail(BaseModel):
    commit: CommitPublic
    files: list[FileDiffPublic]
    truncated: bool


class SearchHitPublic(BaseModel):
    project: str
    path: str
    line: int
    text: str


class SearchResults(BaseModel):
    query: str
    regex: bool
    projects_searched: int
    items: list[SearchHitPublic]


class CodeRefPublic(BaseModel):
    kind: str
    object_id: str
    label: str
    commit: str
    ref: str
    live: bool
    created_at: datetime


class CodeRefList(BaseModel):
    items: list[CodeRefPublic]


class TemplateList(BaseModel):
    items: list[str]


class TemplateFiles(BaseModel):
    name: str
    files: dict[str, str]


class CodeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_force_push: StrictBool
