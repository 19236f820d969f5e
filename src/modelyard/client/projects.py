from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelyard.client.transport import Transport


@dataclass(frozen=True)
class Member:
    username: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Project:
    slug: str
    name: str
    description: str
    owners: list[str]
    members: list[Member]
    my_role: str | None
    counts: dict[str, int]
    created_at: datetime
    archived: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Project:
        return cls(
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            owners=list(data["owners"]),
            members=[Member(**m) for m in data["members"]],
            my_role=data["my_role"],
            counts=dict(data["counts"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            archived=bool(data["archived"]),
        )


class Projects:
    """`client.projects`: the projects the caller can see.

    Example:
        >>> client.projects.create("churn", "Churn prediction")  # doctest: +SKIP
        >>> client.projects.set_member("churn", "newhire", "editor")  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, *, archived: bool = False) -> list[Project]:
        data = self._t.request("GET", "/api/v1/projects", params={"archived": archived})
        return [Project.from_json(p) for p in data["items"]]

    def get(self, slug: str) -> Project:
        return Project.from_json(self._t.request("GET", f"/api/v1/projects/{slug}"))

    def create(self, slug: str, name: str, description: str = "") -> Project:
        body = {"slug": slug, "name": name, "description": description}
        return Project.from_json(self._t.request("POST", "/api/v1/projects", json=body))

    def update(
        self, slug: str, *, name: str | None = None, description: str | None = None
    ) -> Project:
        body = {
            k: v for k, v in {"name": name, "description": description}.items() if v is not None
        }
        return Project.from_json(self._t.request("PATCH", f"/api/v1/projects/{slug}", json=body))

    def archive(self, slug: str) -> Project:
        return Project.from_json(self._t.request("POST", f"/api/v1/projects/{slug}/archive"))

    def unarchive(self, slug: str) -> Project:
        return Project.from_json(self._t.request("POST", f"/api/v1/projects/{slug}/unarchive"))

    def members(self, slug: str) -> builtins.list[Member]:
        data = self._t.request("GET", f"/api/v1/projects/{slug}/members")
        return [Member(**m) for m in data["items"]]

    def set_member(self, slug: str, username: str, role: str) -> Member:
        path = f"/api/v1/projects/{slug}/members/{username}"
        return Member(**self._t.request("PUT", path, json={"role": role}))

    def remove_member(self, slug: str, username: str) -> None:
        self._t.request("DELETE", f"/api/v1/projects/{slug}/members/{username}")
