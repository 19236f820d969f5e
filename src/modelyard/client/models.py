"""The model registry from the SDK: register a model file, move aliases, load a version back.

Model files are pickles, and unpickling runs code: load only models from projects you
trust. The server lets only a project's editors upload or download them.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import pickle
import platform
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.client.transport import Transport
from modelyard.errors import InvalidInputError, ModelyardError

if TYPE_CHECKING:
    from modelyard.client.runs import Run

METADATA_HEADER = "X-Modelyard-Version"
_REF = re.compile(
    r"^(?:(?P<project>[a-z0-9-]+)/)?(?P<name>[a-z0-9][a-z0-9_.-]{0,63})(?:@(?P<ref>[A-Za-z0-9_-]{1,64}))?$"
)


@dataclass(frozen=True)
class ModelVersion:
    project: str
    model: str
    version: int
    flavor: str
    aliases: list[str]
    run_id: int | None
    commit: str | None
    datasets: list[str]
    signature: list[dict[str, str]]
    metrics: dict[str, float | str]
    sha256: str
    created_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelVersion:
        return cls(
            project=data["project"],
            model=data["model"],
            version=data["version"],
            flavor=data["flavor"],
            aliases=list(data["aliases"]),
            run_id=data["run_id"],
            commit=data["commit"],
            datasets=list(data["datasets"]),
            signature=list(data["signature"]),
            metrics=dict(data["metrics"]),
            sha256=data["sha256"],
            created_at=datetime.fromisoformat(data["created_at"]),
        )


def flavor_of(model: object) -> str:
    for base in type(model).__mro__:
        module = base.__module__.split(".")[0]
        if module == "sklearn":
            return "sklearn"
        if module == "river":
            return "river"
    return "custom"


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    kind = getattr(value, "dtype", None)
    return _dtype_name(kind) if kind is not None else "object"


def _dtype_name(dtype: object) -> str:
    kind = getattr(dtype, "kind", "O")
    return {
        "b": "boolean",
        "i": "integer",
        "u": "integer",
        "f": "number",
        "M": "datetime",
        "U": "string",
    }.get(kind, "string" if str(dtype) in ("string", "str") else "object")


def infer_signature(model: object, example: object) -> list[dict[str, str]]:
    """Feature names and types from a training example (a DataFrame, a dict, a list of dicts,
    an array with the model's `feature_names_in_`), or [] when nothing tells."""
    columns = getattr(example, "columns", None)
    dtypes = getattr(example, "dtypes", None)
    if columns is not None and dtypes is not None:
        return [
            {"name": str(c), "type": _dtype_name(t)} for c, t in zip(columns, dtypes, strict=False)
        ]
    if isinstance(example, list) and example and isinstance(example[0], dict):
        example = example[0]
    if isinstance(example, dict):
        return [{"name": str(k), "type": _type_name(v)} for k, v in example.items()]
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        kind = _dtype_name(getattr(example, "dtype", None)) if example is not None else "number"
        return [{"name": str(n), "type": kind} for n in names]
    return []


def _library_versions(flavor: str) -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version()}
    for package in {"sklearn": ["scikit-learn", "numpy", "pandas"], "river": ["river"]}.get(
        flavor, []
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def register_model(
    transport: Transport,
    project: str,
    name: str,
    model: object,
    *,
    run: Run | None = None,
    flavor: str | None = None,
    input_example: object = None,
    description: str = "",
) -> ModelVersion:
    flavor = flavor or flavor_of(model)
    metadata = {
        "flavor": flavor,
        "run_id": run.id if run is not None else None,
        "signature": infer_signature(model, input_example),
        "description": description,
        "python_class": f"{type(model).__module__}.{type(model).__qualname__}"[:300],
        "library_versions": _library_versions(flavor),
    }
    with tempfile.TemporaryFile() as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.seek(0)
        data = transport.request(
            "POST",
            f"/api/v1/projects/{project}/models/{name}/versions",
            content=handle,
            headers={
                METADATA_HEADER: json.dumps(metadata),
                "Content-Type": "application/octet-stream",
            },
        )
    return ModelVersion.from_json(data)


def parse_ref(uri: str, project: str | None) -> tuple[str, str, str]:
    """("churn", "churn-clf", "champion") from "churn-clf@champion" (+ project) or
    "churn/churn-clf@3"; without @ the latest version ("latest")."""
    match = _REF.match(uri.strip())
    if match is None:
        raise InvalidInputError(
            f"{uri!r} is not a model reference: write NAME@ALIAS, NAME@VERSION or PROJECT/NAME@...",
            field="model",
        )
    project = match["project"] or project
    if not project:
        raise InvalidInputError(
            f"which project holds {uri!r}? write PROJECT/{uri} or pass project=", field="project"
        )
    return project, match["name"], match["ref"] or "latest"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("MODELYARD_CACHE", Path(base) / "modelyard"))


def download_version(
    transport: Transport, project: str, name: str, ref: str
) -> tuple[ModelVersion, bytes]:
    """The version's metadata and its file, checked against its SHA-256 (cached by hash)."""
    if ref == "latest":
        versions = transport.request("GET", f"/api/v1/projects/{project}/models/{name}/versions")[
            "items"
        ]
        if not versions:
            raise ModelyardError(f"model {name!r} has no versions yet")
        ref = str(versions[0]["version"])
    version = ModelVersion.from_json(
        transport.request("GET", f"/api/v1/projects/{project}/models/{name}/versions/{ref}")
    )
    cached = cache_dir() / "models" / f"{version.sha256}.bin"
    path = f"/api/v1/projects/{project}/models/{name}/versions/{version.version}/file"
    # The server is asked every time, so a cached copy never outlives the caller's access.
    with transport.stream("GET", path) as response:
        if cached.exists() and hashlib.sha256(cached.read_bytes()).hexdigest() == version.sha256:
            return version, cached.read_bytes()
        buffer = io.BytesIO()
        for chunk in response.iter_bytes(1 << 20):
            buffer.write(chunk)
    data = buffer.getvalue()
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise ModelyardError(f"the file of {name} v{version.version} does not match its SHA-256")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(cached)
    return version, data


def unpickle(data: bytes) -> Any:
    return pickle.loads(data)


class Models:
    """`client.models`: the registry of every project the caller can see.

    Example:
        >>> client.models.list("churn")  # doctest: +SKIP
        >>> client.models.set_alias("churn", "churn-clf", "champion", 2)  # doctest: +SKIP
        >>> model = client.models.load("churn/churn-clf@champion")  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, project: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._t.request("GET", f"/api/v1/projects/{project}/models")[
            "items"
        ]
        return items

    def versions(self, project: str, name: str) -> builtins.list[ModelVersion]:
        data = self._t.request("GET", f"/api/v1/projects/{project}/models/{name}/versions")
        return [ModelVersion.from_json(v) for v in data["items"]]

    def get(self, uri: str, *, project: str | None = None) -> ModelVersion:
        project, name, ref = parse_ref(uri, project)
        if ref == "latest":
            versions = self.versions(project, name)
            if not versions:
                raise ModelyardError(f"model {name!r} has no versions yet")
            return versions[0]
        return ModelVersion.from_json(
            self._t.request("GET", f"/api/v1/projects/{project}/models/{name}/versions/{ref}")
        )

    def set_alias(self, project: str, name: str, alias: str, version: int) -> ModelVersion:
        data = self._t.request(
            "PUT",
            f"/api/v1/projects/{project}/models/{name}/aliases/{alias}",
            json={"version": version},
        )
        return ModelVersion.from_json(data)

    def delete_alias(self, project: str, name: str, alias: str) -> None:
        self._t.request("DELETE", f"/api/v1/projects/{project}/models/{name}/aliases/{alias}")

    def register(self, project: str, name: str, model: object, **options: Any) -> ModelVersion:
        """Register a model without a run (prefer `run.log_model`, which records lineage)."""
        return register_model(self._t, project, name, model, **options)

    def load(self, uri: str, *, project: str | None = None) -> Any:
        """Download and unpickle a version (editors only: a pickle is code)."""
        project, name, ref = parse_ref(uri, project)
        _, data = download_version(self._t, project, name, ref)
        return unpickle(data)
