from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from modelyard.accounts.schemas import Strict

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"),
    Field(description="1-63 characters: lowercase letters, digits and inner '-'; used in URLs"),
]
ProjectName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=20_000), Field(description="Markdown")]


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    owner = "owner"

    @property
    def rank(self) -> int:
        return {"viewer": 1, "editor": 2, "owner": 3}[self.value]


class ProjectCreate(Strict):
    slug: Slug
    name: ProjectName
    description: Description = ""


class ProjectUpdate(Strict):
    name: ProjectName | None = None
    description: Description | None = None


class MemberSet(Strict):
    role: Role


class MemberPublic(BaseModel):
    username: str
    display_name: str
    role: Role


class MemberList(BaseModel):
    items: list[MemberPublic]


class ProjectPublic(BaseModel):
    slug: str
    name: str
    description: str
    owners: list[str]
    members: list[MemberPublic]
    my_role: Role | None = Field(
        description="the caller's role; null for an admin who is no member"
    )
    counts: dict[str, int] = Field(description="what the project holds, by kind")
    created_at: datetime
    archived: bool
    archived_at: datetime | None


class ProjectList(BaseModel):
    items: list[ProjectPublic]
