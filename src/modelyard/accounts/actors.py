from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelyard.accounts.tables import UserRow


@dataclass(frozen=True)
class Actor:
    """The user a request acts as, detached from any database session."""

    id: int
    username: str
    is_admin: bool
    via: Literal["token", "session", "system"] = "session"
    ip: str = ""

    @classmethod
    def of(cls, user: UserRow, via: Literal["token", "session", "system"], ip: str = "") -> Actor:
        return cls(id=user.id, username=user.username, is_admin=user.is_admin, via=via, ip=ip)
