"""Request and response shapes of models, versions and aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from modelyard.accounts.schemas import Strict
from modelyard.data.schemas import Name
from modelyard.projects.schemas import Description

Flavor = Literal["sklearn", "river", "custom"]
Alias = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_-]{0,63}$"),
    Field(description="1-64 characters, starting with a letter: champion, challenger…"),
]
ModelName = Name
FeatureType = Literal["number", "integer", "boolean", "string", "datetime", "object"]


class Feature(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=250)]
    type: FeatureType


class VersionCreate(Strict):
    """The metadata sent beside a model file."""

    flavor: Flavor
    run_id: StrictInt | None = None
    signature: list[Feature] = Field(default_factory=list, max_length=5000)
    description: Description = ""
    python_class: Annotated[str, StringConstraints(max_length=300)] = ""
    library_versions: dict[
        Annotated[str, StringConstraints(max_length=100)],
        Annotated[str, StringConstraints(max_length=100)],
    ] = Field(default_factory=dict, max_length=50)


class ModelUpdate(Strict):
    description: Description | None = None


class AliasSet(Strict):
    version: Annotated[StrictInt, Field(ge=1)]


class VersionPublic(BaseModel):
    model: str
    project: str
    version: int
    flavor: Flavor
    aliases: list[str]
    run_id: int | None
    run_name: str | None
    commit: str | None
    datasets: list[str]
    signature: list[Feature]
    metrics: dict[str, float | str]
    python_class: str
    library_versions: dict[str, str]
    size_bytes: int
    sha256: str
    description: str
    created_by: str | None
    created_at: datetime


class ModelPublic(BaseModel):
    name: str
    project: str
    description: str
    latest_version: int | None
    aliases: dict[str, int]
    version_count: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class ModelList(BaseModel):
    items: list[ModelPublic]


class VersionList(BaseModel):
    items: list[VersionPublic]


class AliasEvent(BaseModel):
    alias: str
    version: int | None
    previous: int | None
    actor: str
    at: datetime
