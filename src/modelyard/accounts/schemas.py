from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$"),
    Field(description="2-64 characters: lowercase letters, digits, '.', '_' or '-'"),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class Strict(BaseModel):
    """Request bodies refuse fields they do not know, so a typo is an error, not a no-op,
    and refuse text no database can store (NUL characters, lone surrogates). Booleans and
    integers are StrictBool / StrictInt: "yes" or 1 for a flag is a mistake, not a True."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text") from None
        return value


class LoginRequest(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenLoginRequest(LoginRequest):
    name: TokenName = "cli"


class UserCreate(Strict):
    username: Username
    password: Password
    display_name: DisplayName = ""
    is_admin: StrictBool = False


class UserUpdate(Strict):
    display_name: DisplayName | None = None
    password: Password | None = None
    current_password: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="required to change your own password (admins may reset others')"
    )
    is_admin: StrictBool | None = None
    is_active: StrictBool | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    display_name: str
    is_admin: bool
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    items: list[UserPublic]


class LoginResponse(BaseModel):
    user: UserPublic
    csrf_token: str


class TokenCreate(Strict):
    name: TokenName
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret itself. Shown only in this answer; store it now.")


class TokenList(BaseModel):
    items: list[TokenPublic]


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, object]
    ip: str


class AuditEventList(BaseModel):
    items: list[AuditEventPublic]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
