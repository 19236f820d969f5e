from __future__ import annotations

from typing import Any

from modelyard.client.transport import Transport


class Code:
    """`client.code`: repositories, templates and code search.

    Example:
        >>> hits = client.code.search("def train_model")  # doctest: +SKIP
        >>> [(h["project"], h["path"], h["line"]) for h in hits]  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def templates(self) -> list[str]:
        return list(self._t.request("GET", "/api/v1/code/templates")["items"])

    def template(self, name: str, *, project: str, display_name: str = "") -> dict[str, str]:
        params = {"project": project, "display_name": display_name}
        return dict(
            self._t.request("GET", f"/api/v1/code/templates/{name}", params=params)["files"]
        )

    def refs(self, project: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.request("GET", f"/api/v1/projects/{project}/code/refs")
        return result

    def search(self, query: str, *, regex: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        params = {"q": query, "regex": regex, "limit": limit}
        return list(self._t.request("GET", "/api/v1/code/search", params=params)["items"])
