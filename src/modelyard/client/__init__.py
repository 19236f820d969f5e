"""The SDK's HTTP client. Imports nothing from the server side."""

from __future__ import annotations

import os
from contextlib import closing
from typing import Any

import httpx

from modelyard.client.code import Code
from modelyard.client.config_file import load_login
from modelyard.client.datasets import Connections, Dataset, Datasets, Snapshot
from modelyard.client.projects import Member, Project, Projects
from modelyard.client.transport import Transport
from modelyard.errors import InvalidInputError

__all__ = ["Client", "Dataset", "Member", "Project", "Snapshot", "connect", "dataset"]


class Client:
    """A connection to one modelyard server as one user."""

    def __init__(
        self, url: str, token: str | None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._transport = Transport(url, token, transport=transport)
        self.url = self._transport.url
        self.projects = Projects(self._transport)
        self.code = Code(self._transport)
        self.datasets = Datasets(self._transport)
        self.connections = Connections(self._transport)

    def me(self) -> dict[str, Any]:
        """The signed-in user, as the server sees them."""
        result: dict[str, Any] = self._transport.request("GET", "/api/v1/me")
        return result

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._transport.request("GET", "/healthz")
        return result

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<modelyard.Client {self.url}>"


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Client:
    """Connect to a modelyard server.

    Arguments fall back to `MODELYARD_URL` / `MODELYARD_TOKEN`, then to what
    `modelyard login` saved.

    Example:
        >>> client = modelyard.connect("http://127.0.0.1:8000", token="myd_...")  # doctest: +SKIP
        >>> client.projects.list()  # doctest: +SKIP
    """
    url, token = _resolve(url, token)
    return Client(url, token, transport=transport)


def _resolve(url: str | None, token: str | None) -> tuple[str, str | None]:
    saved = load_login()
    url = url or os.environ.get("MODELYARD_URL") or (saved.url if saved else None)
    if not url:
        raise InvalidInputError(
            "no server given: pass url=, set MODELYARD_URL or run `modelyard login URL`",
            field="url",
        )
    if token is None:
        token = os.environ.get("MODELYARD_TOKEN")
    if token is None and saved is not None and saved.url.rstrip("/") == url.rstrip("/"):
        token = saved.token
    return url, token


def dataset(name: str, *, snapshot: int | None = None, client: Client | None = None) -> Dataset:
    """A dataset from the catalog, read through the server with your own login.

    `name@N` (or `snapshot=N`) reads snapshot N. Without `client`, connects as `connect()`
    does: `MODELYARD_URL` / `MODELYARD_TOKEN`, then the saved `modelyard login`.

    Example:
        >>> df = modelyard.dataset("customers").to_pandas()  # doctest: +SKIP
        >>> frozen = modelyard.dataset("customers@3").to_arrow()  # doctest: +SKIP
    """
    if "@" in name and snapshot is None:
        name, _, at = name.partition("@")
        if not at.isdigit():
            raise InvalidInputError(f"{at!r} is not a snapshot number", field="snapshot")
        snapshot = int(at)
    if client is not None:
        return client.datasets.get(name, snapshot=snapshot)
    url, token = _resolve(None, None)
    return Dataset(lambda: closing(Transport(url, token)), name, snapshot=snapshot)
