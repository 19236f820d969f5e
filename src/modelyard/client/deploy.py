"""`deploy`: a registered model version onto an endpoint, creating and starting the endpoint
when it is new, without ever moving traffic the caller did not ask to move."""

from __future__ import annotations

from typing import Any

from modelyard.client.endpoint_types import Endpoint
from modelyard.client.models import ModelVersion, parse_ref
from modelyard.client.transport import Transport
from modelyard.errors import ConflictError, InvalidInputError, ModelyardError, NotFoundError

MAX_VARIANT_NAME = 64


def _version(transport: Transport, project: str, model: str, ref: str) -> ModelVersion:
    """The version `ref` names, checked before anything is created."""
    base = f"/api/v1/projects/{project}/models/{model}/versions"
    if ref == "latest":
        items = transport.request("GET", base)["items"]
        if not items:
            raise NotFoundError(f"model {model!r} has no versions yet", field="model")
        return ModelVersion.from_json(items[0])
    return ModelVersion.from_json(transport.request("GET", f"{base}/{ref}"))


def _find(transport: Transport, project: str, name: str) -> Endpoint | None:
    try:
        return Endpoint.from_json(
            transport.request("GET", f"/api/v1/projects/{project}/endpoints/{name}")
        )
    except NotFoundError:
        return None


def variant_name(endpoint: Endpoint | None, model: str, ref: str) -> str:
    """The alias (`champion`) or `v3`; `champion-2`, `champion-3`… when taken. Raises
    ConflictError when the endpoint already serves that very model@ref under that name."""
    base = (ref if not ref.isdigit() else f"v{ref}")[: MAX_VARIANT_NAME - 4]
    if endpoint is None:
        return base
    taken = {v.name: v for v in endpoint.variants}
    same = taken.get(base)
    if same is not None and same.model == model and (same.alias or str(same.version)) == ref:
        raise ConflictError(
            f"endpoint {endpoint.name!r} already serves {model}@{ref} as variant {base!r}; "
            "name another variant to add a second copy",
            field="variant",
        )
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


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
) -> tuple[Endpoint, bool]:
    """(the endpoint as it is now, whether this call started it). See `Endpoints.deploy`."""
    project, model, ref = parse_ref(model_ref, project)
    if mode not in ("live", "shadow"):
        raise InvalidInputError(f"mode {mode!r}: live or shadow", field="mode")
    version = _version(transport, project, model, ref)
    if ref == "latest":
        ref = str(version.version)  # pinned: a later registration must not change what serves
    name = endpoint or model
    path = f"/api/v1/projects/{project}/endpoints"
    found = _find(transport, project, name)
    created = found is None
    if found is None:
        if mode == "shadow":
            raise InvalidInputError(
                f"a shadow variant gets a copy of live traffic, and {project}/{name} has none: "
                "deploy a live variant first",
                field="mode",
            )
        try:
            found = Endpoint.from_json(transport.request("POST", path, json={"name": name}))
        except ConflictError:  # created meanwhile by someone else: join it like any other
            found, created = _find(transport, project, name), False
            if found is None:
                raise
    had_traffic = any(v.mode == "live" and v.weight > 0 for v in found.variants)
    if weight is None:
        weight = 0.0 if had_traffic or mode == "shadow" else 100.0
    body: dict[str, Any] = {
        "name": variant or variant_name(found, model, ref),
        "model": model,
        "version": ref,
        "weight": weight,
        "mode": mode,
    }
    if code is not None:
        body["code"] = code
    try:
        data = transport.request("POST", f"{path}/{name}/variants", json=body)
    except ModelyardError:
        if created:  # leave nothing half-made behind: the endpoint held only this variant
            transport.request("DELETE", f"{path}/{name}")
        raise
    deployed = Endpoint.from_json(data)
    if had_traffic or weight <= 0 or mode != "live" or deployed.state == "running":
        return deployed, False
    return Endpoint.from_json(transport.request("POST", f"{path}/{name}/start")), True
