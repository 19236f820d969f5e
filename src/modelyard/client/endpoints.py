"""Endpoints from the SDK: deploy registered model versions as live services, split traffic
between them, watch them and call them.

Example:
    >>> client = modelyard.connect()  # doctest: +SKIP
    >>> client.endpoints.deploy("churn/churn-clf@champion", endpoint="churn")  # doctest: +SKIP
    >>> client.endpoints.deploy("churn/churn-clf@challenger", endpoint="churn")  # doctest: +SKIP
    >>> client.endpoints.split("churn", "churn", {"champion": 90, "challenger": 10})  # doctest: +SKIP
    >>> client.endpoints.predict("churn", "churn", {"tenure": 3}, token="mye_...")  # doctest: +SKIP
    >>> client.endpoints.online.feedback("churn", "churn", "0190...", 1)  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from modelyard.client.deploy import Deployed, deploy_version
from modelyard.client.endpoint_keys import Keys
from modelyard.client.endpoint_types import (
    Endpoint,
    Event,
    LoggedPrediction,
    Prediction,
)
from modelyard.client.online import Online
from modelyard.client.transport import Transport
from modelyard.errors import AuthenticationError, InvalidInputError, ServiceUnavailableError

Mode = Literal["live", "shadow"]
RESTARTS_BEFORE_GIVING_UP = 3  # replica exits while waiting: the code or model cannot load


def records_of(inputs: object) -> dict[str, Any] | builtins.list[dict[str, Any]]:
    """The JSON `inputs` of a predict request: one record, or a batch."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    to_dict = getattr(inputs, "to_dict", None)
    if callable(to_dict) and hasattr(inputs, "columns"):  # a pandas DataFrame
        return [dict(r) for r in to_dict(orient="records")]
    if isinstance(inputs, builtins.list | tuple) and all(isinstance(r, Mapping) for r in inputs):
        return [dict(r) for r in inputs]
    raise InvalidInputError(
        "inputs: a dict (one record), a list of dicts or a DataFrame (a batch)", field="inputs"
    )


def _path(project: str, name: str | None = None) -> str:
    base = f"/api/v1/projects/{project}/endpoints"
    return base if name is None else f"{base}/{name}"


class Endpoints:
    """`client.endpoints`: the live services of every project the caller can see.

    Example:
        >>> endpoint = client.endpoints.deploy("churn/churn-clf@champion", endpoint="churn")  # doctest: +SKIP
        >>> endpoint.url  # doctest: +SKIP
        'http://127.0.0.1:8000/serve/churn/churn/predict'
        >>> client.endpoints.stop("churn", "churn")  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self.keys = Keys(transport)
        self.online = Online(transport)  # feedback, learners, quality, drift

    # --- endpoints ------------------------------------------------------------------------

    def list(self, project: str) -> builtins.list[Endpoint]:
        """The project's endpoints, by name."""
        return [Endpoint.from_json(e) for e in self._t.request("GET", _path(project))["items"]]

    def get(self, project: str, name: str) -> Endpoint:
        """One endpoint with its variants and replicas; NotFoundError when there is none."""
        return Endpoint.from_json(self._t.request("GET", _path(project, name)))

    def create(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        public: bool = False,
        min_replicas: int = 1,
        max_replicas: int | None = None,
        target_inflight: float = 4.0,
    ) -> Endpoint:
        """An empty, stopped endpoint (`deploy` creates one for you when needed).

        Replicas autoscale between `min_replicas` and `max_replicas` (default: the
        minimum) to keep about `target_inflight` requests in flight per replica. A
        `public` endpoint answers without an API key.

        Example:
            >>> client.endpoints.create("churn", "scores", max_replicas=4)  # doctest: +SKIP
        """
        body = {
            "name": name,
            "description": description,
            "public": public,
            "min_replicas": min_replicas,
            "max_replicas": max_replicas,
            "target_inflight": target_inflight,
        }
        return Endpoint.from_json(self._t.request("POST", _path(project), json=body))

    def update(self, project: str, name: str, **changes: Any) -> Endpoint:
        """Change `description`, `public`, `min_replicas`, `max_replicas` or `target_inflight`.

        Example:
            >>> client.endpoints.update("churn", "churn", min_replicas=2, max_replicas=6)  # doctest: +SKIP
        """
        body = {k: v for k, v in changes.items() if v is not None}
        return Endpoint.from_json(self._t.request("PATCH", _path(project, name), json=body))

    def set_public(self, project: str, name: str, public: bool = True) -> Endpoint:
        """Let anyone call the endpoint without a key (or, with False, require one again).

        Example:
            >>> client.endpoints.set_public("churn", "demo")  # doctest: +SKIP
        """
        return self.update(project, name, public=public)

    def start(self, project: str, name: str) -> Endpoint:
        """Ask for the endpoint to run; `wait_ready` waits until its replicas answer."""
        return Endpoint.from_json(self._t.request("POST", f"{_path(project, name)}/start"))

    def stop(self, project: str, name: str) -> Endpoint:
        """Stop the replicas; the endpoint then answers 503 until started again."""
        return Endpoint.from_json(self._t.request("POST", f"{_path(project, name)}/stop"))

    def delete(self, project: str, name: str) -> None:
        """Delete the endpoint with its variants, keys and logs; its replicas stop."""
        self._t.request("DELETE", _path(project, name))

    # --- variants and traffic ---------------------------------------------------------------

    def deploy(
        self,
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
        on_status: Callable[[Endpoint], None] | None = None,
    ) -> Deployed:
        """Serve a registered model version from an endpoint, creating the endpoint if needed;
        answers what was done (`.endpoint`, `.variant`, `.created`, `.started`, `.url`).

        `model_ref` is `model@alias`, `model@3` or `project/model@...` (without `@`, the
        latest version, pinned). An alias is followed: move it and the variant serves the
        new version within a second. `endpoint` defaults to the model's name; `variant`
        to the alias or `v3`, made unique on the endpoint.

        Deploying never silently moves traffic: a new endpoint (or one without live
        traffic) gives the variant weight 100 and is started — then, with `wait`, this returns once it is
        ready — but on an endpoint that already serves traffic the variant joins with
        weight 0 unless you pass `weight`; shift traffic to it with `split`. A
        `mode="shadow"` variant gets a copy of live traffic and its answers are only logged.
        `code` is the branch, tag or commit whose `predict.py` serves ('' for the model
        flavor's default predictor; None: the default branch's predict.py if it has one).
        `on_status` sees the endpoint at every poll while waiting (for progress displays).
        Deploying the very model@ref a variant of that default name already serves is
        refused (ConflictError): name the variant to add a second copy on purpose.

        Example:
            >>> client.endpoints.deploy("churn/churn-clf@champion", endpoint="churn").url  # doctest: +SKIP
            'http://127.0.0.1:8000/serve/churn/churn/predict'
            >>> client.endpoints.deploy("churn/churn-clf@challenger", endpoint="churn").variant  # doctest: +SKIP
            'challenger'
            >>> client.endpoints.split("churn", "churn", {"champion": 90, "challenger": 10})  # doctest: +SKIP
        """
        done = deploy_version(
            self._t,
            model_ref,
            endpoint=endpoint,
            project=project,
            variant=variant,
            weight=weight,
            mode=mode,
            code=code,
        )
        if done.started and wait:
            ready = self.wait_ready(
                done.endpoint.project, done.endpoint.name, timeout=timeout, on_status=on_status
            )
            return replace(done, endpoint=ready)
        return done

    def add_variant(
        self,
        project: str,
        name: str,
        variant: str,
        model: str,
        version: str | int,
        **options: Any,
    ) -> Endpoint:
        """Add a variant as it is, without `deploy`'s defaults. `options`: `weight`, `mode`,
        `code`, `batching`, `max_wait_ms`, `max_batch_size`.

        Example:
            >>> client.endpoints.add_variant("churn", "churn", "v4", "churn-clf", 4, mode="shadow")  # doctest: +SKIP
        """
        body = {"name": variant, "model": model, "version": str(version), **options}
        data = self._t.request("POST", f"{_path(project, name)}/variants", json=body)
        return Endpoint.from_json(data)

    def update_variant(self, project: str, name: str, variant: str, **changes: Any) -> Endpoint:
        """Change a variant's `version` (a number or an alias), `weight`, `mode`, `batching`,
        `max_wait_ms` or `max_batch_size`.

        Example:
            >>> client.endpoints.update_variant("churn", "churn", "champion", version="5")  # doctest: +SKIP
        """
        body = {k: (str(v) if k == "version" else v) for k, v in changes.items() if v is not None}
        path = f"{_path(project, name)}/variants/{variant}"
        return Endpoint.from_json(self._t.request("PATCH", path, json=body))

    def remove_variant(self, project: str, name: str, variant: str) -> Endpoint:
        """Remove a variant (not the last one with traffic while the endpoint runs)."""
        path = f"{_path(project, name)}/variants/{variant}"
        return Endpoint.from_json(self._t.request("DELETE", path))

    def split(self, project: str, name: str, weights: Mapping[str, float]) -> Endpoint:
        """Set every live variant's weight at once; live variants not named get 0. Replicas
        take the new split within a second, without a restart or a failed request.

        Example:
            >>> client.endpoints.split("churn", "churn", {"champion": 90, "challenger": 10})  # doctest: +SKIP
        """
        body = {"weights": dict(weights)}
        return Endpoint.from_json(
            self._t.request("PUT", f"{_path(project, name)}/traffic", json=body)
        )

    def rollback(self, project: str, name: str) -> Endpoint:
        """Put back the traffic split the endpoint had before the current one.

        Example:
            >>> client.endpoints.rollback("churn", "churn").weights  # doctest: +SKIP
            {'champion': 100.0, 'challenger': 0.0}
        """
        return Endpoint.from_json(self._t.request("POST", f"{_path(project, name)}/rollback"))

    # --- watching ---------------------------------------------------------------------------

    def wait_ready(
        self,
        project: str,
        name: str,
        timeout: float = 120.0,
        *,
        on_status: Callable[[Endpoint], None] | None = None,
    ) -> Endpoint:
        """Poll until the endpoint's status is running and answer it. Raises
        ServiceUnavailableError when it is stopped, when its replicas keep exiting (the model
        or its predict.py cannot load: see `events`), or after `timeout` seconds.
        `on_status` is called with every state seen (for progress displays).

        Example:
            >>> client.endpoints.start("churn", "churn")  # doctest: +SKIP
            >>> client.endpoints.wait_ready("churn", "churn", timeout=30).status  # doctest: +SKIP
            'running'
        """
        deadline = time.monotonic() + timeout
        seen = self.events(project, name)
        since = seen[0].at if seen else None
        pause = 0.1
        while True:
            endpoint = self.get(project, name)
            if on_status is not None:
                on_status(endpoint)
            if endpoint.status == "running":
                return endpoint
            if endpoint.state == "stopped":
                raise ServiceUnavailableError(
                    f"endpoint {project}/{name} is stopped: start it first "
                    f"(`modelyard endpoints start {name} --project {project}`)"
                )
            restarts = [
                e
                for e in self.events(project, name)
                if e.kind == "restart" and (since is None or e.at > since)
            ]
            if len(restarts) >= RESTARTS_BEFORE_GIVING_UP and not any(
                r.state == "ready" for r in endpoint.replicas
            ):
                raise ServiceUnavailableError(
                    f"endpoint {project}/{name} is not coming up: its replicas keep exiting "
                    f"({restarts[0].message}); check the model and predict.py, and the "
                    "replica logs on the server"
                )
            if time.monotonic() > deadline:
                ready = sum(1 for r in endpoint.replicas if r.state == "ready")
                raise ServiceUnavailableError(
                    f"endpoint {project}/{name} is not ready after {timeout:g} s "
                    f"(status {endpoint.status}, {ready}/{endpoint.min_replicas} replicas ready)"
                )
            time.sleep(pause)
            pause = min(pause * 1.5, 1.0)

    def metrics(
        self, project: str, name: str, *, window: int = 900, step: int | None = None
    ) -> dict[str, Any]:
        """Requests/s, error rate, p50/p95/p99 latency, replicas and each variant's share over
        the last `window` seconds (at least 60): `{"summary": {...}, "series": {...}}`.

        Example:
            >>> client.endpoints.metrics("churn", "churn", window=60)["summary"]["p99_ms"]  # doctest: +SKIP
            4.1
        """
        params: dict[str, int] = {"window": window}
        if step is not None:
            params["step"] = step
        result: dict[str, Any] = self._t.request(
            "GET", f"{_path(project, name)}/metrics", params=params
        )
        return result

    def events(self, project: str, name: str) -> builtins.list[Event]:
        """What the supervisor did lately (starts, stops, restarts, scaling), newest first."""
        data = self._t.request("GET", f"{_path(project, name)}/events")
        return [Event.from_json(e) for e in data["items"]]

    def predictions(
        self, project: str, name: str, *, limit: int = 100, shadow: bool | None = None
    ) -> builtins.list[LoggedPrediction]:
        """The latest logged predictions, newest first (editors only: they hold inputs).

        Example:
            >>> [p.variant for p in client.endpoints.predictions("churn", "churn", shadow=True)]  # doctest: +SKIP
        """
        params: dict[str, Any] = {"limit": limit}
        if shadow is not None:
            params["shadow"] = shadow
        data = self._t.request("GET", f"{_path(project, name)}/predictions", params=params)
        return [LoggedPrediction.from_json(p) for p in data["items"]]

    # --- calling ----------------------------------------------------------------------------

    def predict(
        self,
        project: str,
        name: str,
        inputs: Mapping[str, Any] | builtins.list[Mapping[str, Any]] | Any,
        *,
        key: str | None = None,
        token: str | None = None,
    ) -> Prediction:
        """Ask the endpoint for a prediction of one record (a dict) or a batch (a list of
        dicts, or a pandas DataFrame).

        `token` is an endpoint API key (`keys.create`), not your login: endpoints check
        their own keys, so it is needed unless the endpoint is public. `key` routes
        sticky: the same key always reaches the same variant (for A/B tests by user).

        Example:
            >>> answer = client.endpoints.predict(
            ...     "churn", "churn", {"tenure_months": 3}, key="customer-42", token="mye_..."
            ... )  # doctest: +SKIP
            >>> answer.outputs, answer.variant, answer.prediction_id  # doctest: +SKIP
            (1, 'champion', '01J...')
        """
        body: dict[str, Any] = {"inputs": records_of(inputs)}
        if key is not None:
            body["key"] = key
        try:
            data = self._t.request_as(token, "POST", f"/serve/{project}/{name}/predict", json=body)
        except AuthenticationError as exc:
            hint = (
                "pass token= an endpoint API key (client.endpoints.keys.create)"
                if token is None
                else "that endpoint key is not valid for this endpoint (revoked, or another's)"
            )
            raise AuthenticationError(f"{exc.message}: {hint}", field="token") from None
        return Prediction.from_json(data)
