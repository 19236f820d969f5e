"""`client.endpoints.keys`: the API keys an endpoint's prediction traffic must carry."""

from __future__ import annotations

import builtins

from modelyard.client.endpoint_types import EndpointKey
from modelyard.client.transport import Transport


def _keys(project: str, endpoint: str) -> str:
    return f"/api/v1/projects/{project}/endpoints/{endpoint}/keys"


class Keys:
    """`client.endpoints.keys`: API keys that guard an endpoint's prediction traffic.

    Example:
        >>> key = client.endpoints.keys.create("churn", "churn", "billing-app")  # doctest: +SKIP
        >>> key.token  # shown once; send it as `Authorization: Bearer <token>`  # doctest: +SKIP
        'mye_...'
        >>> client.endpoints.keys.revoke("churn", "churn", key.id)  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, project: str, endpoint: str, name: str) -> EndpointKey:
        """A new key; its `token` is in this answer only (the server keeps a hash)."""
        data = self._t.request("POST", _keys(project, endpoint), json={"name": name})
        return EndpointKey.from_json(data)

    def list(self, project: str, endpoint: str) -> builtins.list[EndpointKey]:
        """Every key, revoked ones included (with `revoked_at`); never their tokens."""
        data = self._t.request("GET", _keys(project, endpoint))
        return [EndpointKey.from_json(k) for k in data["items"]]

    def revoke(self, project: str, endpoint: str, key_id: int) -> EndpointKey:
        """Revoke a key: replicas refuse it within a second."""
        data = self._t.request("DELETE", f"{_keys(project, endpoint)}/{key_id}")
        return EndpointKey.from_json(data)
