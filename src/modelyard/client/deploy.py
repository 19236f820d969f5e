"""`deploy`: a registered model version onto an endpoint in one request. The server
(`POST .../endpoints/{e}/deploy`) creates and starts a new endpoint and never moves traffic
the caller did not ask to move; the SDK only reads the reference and pins "latest"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.client.endpoint_types import Endpoint
from modelyard.client.models import parse_ref
from modelyard.client.transport import Transport
from modelyard.errors import InvalidInputError, NotFoundError


@dataclass(frozen=True)
class Deployed:
    """What a deploy did: the endpoint as it is now, the variant's name, whether the
    endpoint was created and whether this deploy started it.

    Example:
        >>> done = modelyard.deploy("churn/churn-clf@challenger", endpoint="churn")  # doctest: +SKIP
        >>> done.variant, done.endpoint.variant(done.variant).weight  # doctest: +SKIP
        ('challenger', 0.0)
    """

    endpoint: Endpoint
    variant: str
    created: bool
    started: bool

    @property
    def url(self) -> str:
        return self.endpoint.url

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployed:
        return cls(
            endpoint=Endpoint.from_json(data["endpoint"]),
            variant=data["variant"],
            created=bool(data["created"]),
            started=bool(data["started"]),
        )


def _latest(transport: Transport, project: str, model: str) -> str:
    items = transport.request("GET", f"/api/v1/projects/{project}/models/{model}/versions")
    if not items["items"]:
        raise NotFoundError(f"model {model!r} has no versions yet", field="model")
    return str(items["items"][0]["version"])


def deploy_version(
    transport: Transport,
    model_ref: str,
    *,
    endpoint: str | None,
    project: str | None,
    variant: str | None,
    weight: float | None,
    mode: str,
    code: str | None,
) -> Deployed:
    """See `Endpoints.deploy`."""
    project, model, ref = parse_ref(model_ref, project)
    if mode not in ("live", "shadow"):
        raise InvalidInputError(f"mode {mode!r}: live or shadow", field="mode")
    if ref == "latest":
        ref = _latest(transport, project, model)  # pinned: a later version must not slip in
    body: dict[str, Any] = {"model": model, "version": ref, "mode": mode}
    for key, value in (("variant", variant), ("weight", weight), ("code", code)):
        if value is not None:
            body[key] = value
    path = f"/api/v1/projects/{project}/endpoints/{endpoint or model}/deploy"
    return Deployed.from_json(transport.request("POST", path, json=body))
