"""`modelyard.start_run`: a run that records params, metrics, tags, artifacts and models.

Metrics are buffered and sent in batches by one background thread, so `log_metric` costs a
list append; `flush()`, leaving the `with` block and interpreter exit send what is left.
"""

from __future__ import annotations

import atexit
import math
import os
import re
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from modelyard.client.gitstate import git_state
from modelyard.client.metric_sender import MetricSender
from modelyard.client.remote import LogChunk, cancel_run, follow_logs, submit_run
from modelyard.client.transport import Transport
from modelyard.errors import InvalidInputError, ModelyardError

if TYPE_CHECKING:
    from modelyard.client.models import ModelVersion

_KEY = re.compile(r"^[A-Za-z0-9_\-. /:]{1,250}$")
_stack: list[Run] = []
_stack_lock = threading.Lock()


def active_run() -> Run | None:
    """The innermost run started with `start_run` that has not ended, or None."""
    with _stack_lock:
        return _stack[-1] if _stack else None


def check_key(key: str, what: str = "metric") -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInputError(
            f"{what} key {key!r}: 1-250 letters, digits, '_', '-', '.', ' ', '/' or ':'",
            field="key",
        )
    return key


def _encode(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


class Run(AbstractContextManager["Run"]):
    """A run on the server. Use it as a context manager (see `modelyard.start_run`)."""

    def __init__(
        self, transport: Transport, data: Mapping[str, Any], *, owns_transport: bool
    ) -> None:
        self._t = transport
        self._owns_transport = owns_transport
        self.id: int = data["id"]
        self.project: str = data["project"]
        self.name: str = data["name"]
        self.url = f"{transport.url}/runs/{self.id}"
        self._sender = MetricSender(transport, self.id)
        self._ended = False
        self._steps: dict[str, int] = {}
        self.training_input: Any = None  # set by autolog: what the last fit saw, for signatures

    def __repr__(self) -> str:
        return f"<modelyard.Run {self.id} {self.name!r} in {self.project}>"

    # --- logging ------------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Params are write-once: logging a key again with another value raises ConflictError."""
        body = {check_key(k, "param"): _text(v) for k, v in params.items()}
        self._t.request("POST", f"/api/v1/runs/{self.id}/params", json={"params": body})

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        body = {check_key(k, "tag"): _text(v) for k, v in tags.items()}
        self._t.request("POST", f"/api/v1/runs/{self.id}/tags", json={"tags": body})

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Buffer one point; without `step` it is this key's previous step + 1 (0 first)."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now = int(time.time() * 1000)
        points = []
        for key, value in metrics.items():
            check_key(key)
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"metric {key!r}: {value!r} is not a number", field="value"
                ) from None
            if isinstance(value, bool):
                raise InvalidInputError(f"metric {key!r}: a boolean is not a number", field="value")
            at = step if step is not None else self._steps.get(key, -1) + 1
            if not isinstance(at, int) or at < 0:
                raise InvalidInputError(f"step {at!r}: a whole number >= 0", field="step")
            self._steps[key] = at
            points.append({"key": key, "value": _encode(number), "step": at, "timestamp": now})
        if self._sender.error is not None:
            self._sender.flush()
        self._sender.add(points)

    def flush(self) -> None:
        """Send every buffered metric point now."""
        self._sender.flush()

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> dict[str, Any]:
        """Upload a file (streamed); `artifact_path` is its path inside the run (default: name)."""
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInputError(f"{path} is not a file", field="local_path")
        target = artifact_path or path.name
        with path.open("rb") as handle:
            result: dict[str, Any] = self._t.request(
                "PUT",
                f"/api/v1/runs/{self.id}/artifacts/{target}",
                content=handle,
                headers={"Content-Type": "application/octet-stream"},
            )
        return result

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str = "") -> int:
        """Upload every file under a folder, keeping the folder layout. Answers the count."""
        root = Path(local_dir)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(root).as_posix()
            self.log_artifact(file, f"{artifact_path.strip('/')}/{relative}".lstrip("/"))
        return len(files)

    def log_model(
        self,
        model: object,
        name: str,
        *,
        flavor: Literal["sklearn", "river", "custom"] | None = None,
        input_example: object = None,
        description: str = "",
    ) -> ModelVersion:
        """Register `model` as the next version of `name` in this run's project.

        The version records this run (and so its commit, params, metrics and datasets), the
        flavor, and the input signature (from `input_example`, the model's `feature_names_in_`,
        or what `modelyard.autolog()` saw the model trained on).
        """
        from modelyard.client.models import register_model

        self.flush()
        return register_model(
            self._t,
            self.project,
            name,
            model,
            run=self,
            flavor=flavor,
            input_example=input_example if input_example is not None else self.training_input,
            description=description,
        )

    # --- lifecycle -----------------------------------------------------------------------
    def end(
        self, status: Literal["finished", "failed", "killed"] = "finished", error: str = ""
    ) -> None:
        """Send what is buffered and record how the run ended (once; later calls do nothing)."""
        if self._ended:
            return
        self._ended = True
        _unregister(self)
        try:
            self._sender.close()
        finally:
            body: dict[str, Any] = {"status": status}
            if error:
                body["error"] = error[-20_000:]
            try:
                self._t.request("PATCH", f"/api/v1/runs/{self.id}", json=body)
            finally:
                if self._owns_transport:
                    self._t.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is None:
            self.end("finished")
        elif isinstance(error, KeyboardInterrupt):
            self.end("killed", "interrupted (KeyboardInterrupt)")
        else:
            self.end("failed", "".join(traceback.format_exception(kind, error, tb)))


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _register(run: Run) -> None:
    with _stack_lock:
        _stack.append(run)


def _unregister(run: Run) -> None:
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)


@atexit.register
def _end_open_runs() -> None:
    """Runs still open at interpreter exit are ended as finished, with their metrics sent."""
    while (run := active_run()) is not None:
        try:
            run.end("finished")
        except ModelyardError:
            _unregister(run)


def open_run(
    transport: Transport,
    project: str | None,
    name: str,
    *,
    params: Mapping[str, object] | None,
    tags: Mapping[str, object] | None,
    owns_transport: bool,
) -> Run:
    """Create a run, or inside `modelyard run` (MODELYARD_RUN_ID set) attach to the remote one."""
    attached = os.environ.get("MODELYARD_RUN_ID")
    if attached and attached.isdigit() and not _stack:
        data = transport.request("GET", f"/api/v1/runs/{attached}")
        if project and project != data["project"]:
            raise InvalidInputError(
                f"this remote run belongs to project {data['project']!r}, not {project!r}",
                field="project",
            )
        run = Run(transport, data, owns_transport=owns_transport)
        if name and name != data["name"]:
            transport.request("PATCH", f"/api/v1/runs/{run.id}", json={"name": name})
            run.name = name
        if params:
            run.log_params(params)
        if tags:
            run.set_tags(tags)
        _register(run)
        return run
    project = project or os.environ.get("MODELYARD_PROJECT")
    if not project:
        raise InvalidInputError(
            "say which project the run belongs to: start_run(project=...)", field="project"
        )
    commit, dirty = git_state(project)
    body: dict[str, Any] = {
        "name": name,
        "params": {check_key(k, "param"): _text(v) for k, v in (params or {}).items()},
        "tags": {check_key(k, "tag"): _text(v) for k, v in (tags or {}).items()},
        "commit": commit,
        "dirty": dirty,
        "entrypoint": _entrypoint(),
    }
    data = transport.request("POST", f"/api/v1/projects/{project}/runs", json=body)
    run = Run(transport, data, owns_transport=owns_transport)
    _register(run)
    return run


def _entrypoint() -> str:
    import sys

    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    return Path(script).name[:500] if script else ""


def run_header() -> dict[str, str]:
    """The header that records a dataset read as an input of the active run."""
    run = active_run()
    return {"X-Modelyard-Run": str(run.id)} if run is not None else {}


class Runs:
    """`client.runs`: start runs and look them up.

    Example:
        >>> with client.runs.start("churn", "lr-baseline") as run:  # doctest: +SKIP
        ...     run.log_metric("auc", 0.91)
        >>> client.runs.list("churn", filter="metrics.auc > 0.9", order="metrics.auc desc")  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def start(
        self,
        project: str | None = None,
        name: str = "",
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> Run:
        return open_run(self._t, project, name, params=params, tags=tags, owns_transport=False)

    def list(
        self,
        project: str,
        *,
        filter: str = "",
        order: str = "started_at desc",
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of runs: {"items", "total", "param_keys", "metric_keys", ...}."""
        params = {"filter": filter, "order": order, "limit": limit, "offset": offset}
        result: dict[str, Any] = self._t.request(
            "GET", f"/api/v1/projects/{project}/runs", params=params
        )
        return result

    def get(self, run_id: int) -> dict[str, Any]:
        """Everything about a run: params, tags, latest metrics, artifacts, inputs, models."""
        result: dict[str, Any] = self._t.request("GET", f"/api/v1/runs/{run_id}")
        return result

    def metric_history(self, run_id: int, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.request("GET", f"/api/v1/runs/{run_id}/metrics/{key}")
        return result

    def download_artifact(self, run_id: int, path: str, target: str | os.PathLike[str]) -> Path:
        destination = Path(target)
        with self._t.stream("GET", f"/api/v1/runs/{run_id}/artifacts/{path}") as response:
            partial = destination.with_name(destination.name + ".part")
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    handle.write(chunk)
            partial.replace(destination)
        return destination

    def submit(
        self,
        project: str,
        entrypoint: str,
        ref: str = "HEAD",
        arguments: Sequence[str] = (),
        name: str = "",
    ) -> dict[str, Any]:
        """Run a script of the project's repository on the server (what `modelyard run` does).

        Example:
            >>> run = client.runs.submit("churn", "train.py", "main", ["--C", "0.5"])  # doctest: +SKIP
            >>> for chunk in client.runs.follow(run["id"]):  # doctest: +SKIP
            ...     print(chunk.text, end="")
        """
        return submit_run(self._t, project, entrypoint, ref, arguments, name)

    def follow(self, run_id: int, *, offset: int = 0, follow: bool = True) -> Iterator[LogChunk]:
        """A remote run's output as it is written; with `follow`, until the run ends."""
        return follow_logs(self._t, run_id, offset=offset, follow=follow)

    def cancel(self, run_id: int) -> dict[str, Any]:
        """Stop a remote run (SIGTERM, then SIGKILL after the server's grace period)."""
        return cancel_run(self._t, run_id)
