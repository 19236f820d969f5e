"""Request and response shapes of connections, datasets, profiles, snapshots and reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from modelyard.accounts.schemas import Strict, Username
from modelyard.projects.schemas import Description, Slug

Kind = Literal["postgresql", "mysql", "sqlite", "duckdb", "files", "s3"]
FileFormat = Literal["", "parquet", "csv", "json"]
RESERVED_NAMES = frozenset({"new"})  # the portal's creation pages live at .../new


def _not_reserved(name: str) -> str:
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is reserved; choose another name")
    return name


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$"),
    AfterValidator(_not_reserved),
    Field(description="1-64 characters: lowercase letters, digits, '.', '_' or '-'; not 'new'"),
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Text = Annotated[str, StringConstraints(max_length=500)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Timeout = Annotated[StrictInt, Field(ge=1, le=3600, description="statement deadline, seconds")]
AbsolutePath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=500, pattern=r"^/"),
    Field(description="an absolute path on the modelyard server"),
]


class PostgresSettings(Strict):
    host: Text
    port: Port = 5432
    database: Text
    user: Text
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        None
    )
    timeout_seconds: Timeout = 60


class MySQLSettings(Strict):
    host: Text
    port: Port = 3306
    database: Text = ""
    user: Text
    timeout_seconds: Timeout = 60


class FileDatabaseSettings(Strict):
    path: AbsolutePath
    timeout_seconds: Timeout = 60


class FolderSettings(Strict):
    root: AbsolutePath
    timeout_seconds: Timeout = 60


class S3Settings(Strict):
    bucket: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$")]
    prefix: Text = ""
    endpoint_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^(https?://.+)?$")] = (
        ""
    )
    region: Text = ""
    timeout_seconds: Timeout = 60


SETTINGS: dict[str, type[Strict]] = {
    "postgresql": PostgresSettings,
    "mysql": MySQLSettings,
    "sqlite": FileDatabaseSettings,
    "duckdb": FileDatabaseSettings,
    "files": FolderSettings,
    "s3": S3Settings,
}
SECRET_KEYS: dict[str, frozenset[str]] = {
    "postgresql": frozenset({"password"}),
    "mysql": frozenset({"password"}),
    "s3": frozenset({"access_key_id", "secret_access_key"}),
}
SecretValue = Annotated[str, StringConstraints(max_length=2000)]


class ConnectionCreate(Strict):
    name: Name
    kind: Kind
    description: Description = ""
    settings: dict[str, Any] = Field(description="kind-specific settings (not secret)")
    secrets: dict[str, SecretValue] = Field(
        default_factory=dict, description="passwords and keys; stored encrypted, never shown"
    )


class ConnectionUpdate(Strict):
    description: Description | None = None
    settings: dict[str, Any] | None = Field(default=None, description="replaces all settings")
    secrets: dict[str, SecretValue] | None = Field(
        default=None, description="replaces the secrets given; an empty value removes one"
    )


class ConnectionPublic(BaseModel):
    name: str
    kind: str
    description: str
    settings: dict[str, Any]
    secrets: dict[str, str] = Field(description="secret names, values always masked")
    datasets: int
    created_at: datetime
    updated_at: datetime


class ConnectionList(BaseModel):
    items: list[ConnectionPublic]


class ConnectionTestResult(BaseModel):
    ok: bool
    message: str
    seconds: float


class ColumnDoc(Strict):
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    pii: StrictBool = False


class DatasetCreate(Strict):
    name: Name
    connection: Name
    table: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    query: Annotated[str, StringConstraints(max_length=20_000)] = ""
    path: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    file_format: FileFormat = ""
    description: Description = ""
    owner: Username | None = Field(default=None, description="defaults to you")
    tags: Annotated[list[Tag], Field(max_length=20)] = Field(default_factory=list)
    columns: dict[str, ColumnDoc] = Field(default_factory=dict)
    grants: Annotated[list[Slug], Field(max_length=200)] = Field(default_factory=list)


class DatasetUpdate(Strict):
    description: Description | None = None
    owner: Username | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    columns: dict[str, ColumnDoc] | None = None
    table: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    query: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    path: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    file_format: FileFormat | None = None


class ColumnPublic(BaseModel):
    name: str
    type: str
    description: str = ""
    pii: bool = False


class DatasetPublic(BaseModel):
    name: str
    connection: str
    kind: str
    table: str
    query: str
    path: str
    file_format: str
    description: str
    owner: str | None
    tags: list[str]
    columns: list[ColumnPublic]
    grants: list[str]
    row_count: int | None
    profiled_at: datetime | None
    can_edit: bool
    created_at: datetime
    updated_at: datetime


class DatasetList(BaseModel):
    items: list[DatasetPublic]


class Histogram(BaseModel):
    edges: list[float]
    counts: list[int]


class TopValue(BaseModel):
    value: str | None
    count: int


class ColumnProfile(BaseModel):
    name: str
    type: str
    nulls: int
    null_fraction: float
    distinct: int
    min: str | None = None
    max: str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None
    top: list[TopValue] = Field(default_factory=list)
    histogram: Histogram | None = None


class ProfilePublic(BaseModel):
    dataset: str
    row_count: int
    columns: list[ColumnProfile]
    method: str
    seconds: float
    computed_by: str | None
    computed_at: datetime


class Sample(BaseModel):
    columns: list[str]
    rows: list[list[Any]]


class SnapshotCreate(Strict):
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class SnapshotPublic(BaseModel):
    id: int
    dataset: str
    sha256: str
    row_count: int
    size_bytes: int
    columns: list[dict[str, str]] = Field(description="the frozen schema: name and type")
    note: str
    created_by: str | None
    created_at: datetime


class SnapshotList(BaseModel):
    items: list[SnapshotPublic]


class ReaderPublic(BaseModel):
    username: str | None
    reads: int
    rows: int
    last_read_at: datetime


class ReadPublic(BaseModel):
    username: str | None
    purpose: str
    snapshot_id: int | None
    row_count: int
    complete: bool
    at: datetime


class Usage(BaseModel):
    readers: list[ReaderPublic]
    projects: list[str] = Field(description="projects granted this dataset")
    recent: list[ReadPublic]


class RunInput(BaseModel):
    """A dataset (or one of its snapshots) a run read through modelyard: its lineage."""

    dataset: str
    snapshot: int | None
    rows: int
    complete: bool
