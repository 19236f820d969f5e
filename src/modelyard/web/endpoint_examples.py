"""The copyable `curl` example on an endpoint's page: a request body built from the model
signature of the variant that serves first, with an example value of each feature's type."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.errors import NotFoundError
from modelyard.projects.service import ProjectRow
from modelyard.registry.service import find_model, version_of
from modelyard.serving.schemas import EndpointPublic, VariantPublic

EXAMPLE_VALUES: dict[str, Any] = {
    "number": 0.5,
    "integer": 1,
    "boolean": True,
    "string": "text",
    "datetime": "2024-01-31T12:00:00Z",
    "object": {},
}
KEY_VARIABLE = "MODELYARD_ENDPOINT_KEY"


def example_inputs(signature: Sequence[dict[str, str]]) -> dict[str, Any]:
    return {f["name"]: EXAMPLE_VALUES.get(f.get("type", "")) for f in signature}


def signature_of(
    session: Session, project: ProjectRow, variants: Sequence[VariantPublic]
) -> list[dict[str, str]]:
    """The input signature of the live variant listed first (else the first shadow)."""
    ordered = sorted(variants, key=lambda v: v.mode != "live")
    for variant in ordered:
        model = find_model(session, project, variant.model)
        if model is None or variant.version is None:
            continue
        try:
            version = version_of(session, model, str(variant.version))
        except NotFoundError:
            continue
        return list(version.signature)
    return []


def direct_url(settings: Settings, endpoint: EndpointPublic) -> str | None:
    """The replica pool's own address: the lowest latency, on the serving host only."""
    if endpoint.port is None:
        return None
    host = settings.serving_host
    if host in ("", "0.0.0.0", "::"):
        host = urlsplit(settings.base_url).hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{endpoint.port}/serve/{endpoint.project}/{endpoint.name}/predict"


def curl_example(url: str, inputs: dict[str, Any], *, public: bool) -> str:
    body = json.dumps({"inputs": inputs}, ensure_ascii=False)
    lines = [f"curl -X POST {shlex.quote(url)}"]
    if not public:
        lines.append(f'-H "Authorization: Bearer ${KEY_VARIABLE}"')
    lines += ["-H 'Content-Type: application/json'", f"-d {shlex.quote(body)}"]
    return " \\\n  ".join(lines)
