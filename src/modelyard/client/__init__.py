"""The SDK's HTTP client. Imports nothing from the server side."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import closing
from typing import Any

import httpx

from modelyard.client.alerts import Alerts
from modelyard.client.autolog import autolog
from modelyard.client.code import Code
from modelyard.client.config_file import load_login
from modelyard.client.datasets import Connections, Dataset, Datasets, Snapshot
from modelyard.client.deploy import Deployed
from modelyard.client.endpoint_types import Endpoint, Prediction
from modelyard.client.endpoints import Endpoints, Mode
from modelyard.client.models import Models, ModelVersion, parse_ref
from modelyard.client.projects import Member, Project, Projects
from modelyard.client.runs import Run, Runs, active_run, open_run
from modelyard.client.transport import Transport
from modelyard.errors import InvalidInputError

__all__ = [
    "Client",
    "Dataset",
    "Deployed",
    "Endpoint",
    "Member",
    "ModelVersion",
    "Prediction",
    "Project",
    "Run",
    "Snapshot",
    "active_run",
    "autolog",
    "connect",
    "dataset",
    "deploy",
    "load_model",
    "resolve_login",
    "start_run",
]


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
        self.runs = Runs(self._transport)
        self.models = Models(self._transport)
        self.endpoints = Endpoints(self._transport)
        self.alerts = Alerts(self._transport)

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


def resolve_login(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    """The server and token `connect()` would use: the arguments, `MODELYARD_URL` /
    `MODELYARD_TOKEN`, then what `modelyard login` saved."""
    return _resolve(url, token)


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


def start_run(
    project: str | None = None,
    name: str = "",
    *,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    client: Client | None = None,
) -> Run:
    """Start a run in `project`; use it as a context manager.

    Leaving the block ends the run as finished, or as failed with the error when an
    exception escapes it. Datasets read with `modelyard.dataset` meanwhile are recorded
    as the run's inputs, and the git commit is recorded when you run inside a clone of
    the project's repository. Inside `modelyard run` it attaches to that remote run.

    Example:
        >>> with modelyard.start_run(project="churn", name="lr-baseline") as run:  # doctest: +SKIP
        ...     run.log_params({"C": 1.0})
        ...     run.log_metric("auc", 0.91, step=3)
        ...     run.log_model(model, name="churn-clf")
    """
    if client is not None:
        return client.runs.start(project, name, params=params, tags=tags)
    url, token = _resolve(None, None)
    return open_run(
        Transport(url, token), project, name, params=params, tags=tags, owns_transport=True
    )


def load_model(uri: str, *, project: str | None = None, client: Client | None = None) -> Any:
    """Load a registered model version: "churn-clf@champion", "churn-clf@3", or
    "churn/churn-clf@champion". The project defaults to the active run's, then to
    `MODELYARD_PROJECT`. Model files are pickles (code): load only what you trust.

    Example:
        >>> model = modelyard.load_model("churn/churn-clf@champion")  # doctest: +SKIP
        >>> model.predict(frame)  # doctest: +SKIP
    """
    run = active_run()
    project = project or (run.project if run else None) or os.environ.get("MODELYARD_PROJECT")
    if client is not None:
        return client.models.load(uri, project=project)
    parse_ref(uri, project)  # a bad reference fails before connecting
    with Client(*_resolve(None, None)) as own:
        return own.models.load(uri, project=project)


def deploy(
    model_ref: str,
    *,
    endpoint: str | None = None,
    project: str | None = None,
    variant: str | None = None,
    weight: float | None = None,
    mode: Mode = "live",
    code: str | None = None,
    wait: bool = True,
    timeout: float = 120.0,
    client: Client | None = None,
) -> Deployed:
    """Serve a registered model version ("churn-clf@champion", "churn/churn-clf@3") from an
    endpoint, creating it when it does not exist. The project defaults to the active run's,
    then to `MODELYARD_PROJECT`; the endpoint to the model's name.

    Deploying never silently moves traffic: a new endpoint starts with this version at
    weight 100 (and, with `wait`, this returns once it answers), but on an endpoint that
    already serves traffic the new variant gets weight 0 unless you pass `weight`; shift
    traffic with `client.endpoints.split`. Answers what was done: `.endpoint`, `.variant`,
    `.created`, `.started`, `.url`. See `Endpoints.deploy` for every argument.

    Example:
        >>> modelyard.deploy("churn/churn-clf@champion", endpoint="churn").url  # doctest: +SKIP
        'http://127.0.0.1:8000/serve/churn/churn/predict'
        >>> modelyard.deploy("churn/churn-clf@challenger", endpoint="churn").variant  # doctest: +SKIP
        'challenger'
    """
    run = active_run()
    project = project or (run.project if run else None) or os.environ.get("MODELYARD_PROJECT")
    options: dict[str, Any] = {
        "endpoint": endpoint,
        "project": project,
        "variant": variant,
        "weight": weight,
        "mode": mode,
        "code": code,
        "wait": wait,
        "timeout": timeout,
    }
    if client is not None:
        return client.endpoints.deploy(model_ref, **options)
    parse_ref(model_ref, project)  # a bad reference fails before connecting
    with Client(*_resolve(None, None)) as own:
        return own.endpoints.deploy(model_ref, **options)
