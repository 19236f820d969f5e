"""Remote runs from the SDK: run a script of the project's repository on the server, follow
its output as it is written, cancel it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.client.transport import Transport

FINAL_STATUSES = frozenset({"finished", "failed", "killed"})
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class LogChunk:
    """A piece of a run's output. `offset` is where the next piece starts; `done` says the
    run has ended and nothing more will come."""

    text: str
    offset: int
    done: bool
    status: str


def submit_run(
    transport: Transport,
    project: str,
    entrypoint: str,
    ref: str = "HEAD",
    arguments: Sequence[str] = (),
    name: str = "",
) -> dict[str, Any]:
    """Run `entrypoint` from the project's repository at `ref` on the server; answers the
    new run (status "queued").

    Example:
        >>> run = submit_run(t, "churn", "train.py", "main", ["--C", "0.5"])  # doctest: +SKIP
        >>> for chunk in follow_logs(t, run["id"]):  # doctest: +SKIP
        ...     print(chunk.text, end="")
    """
    body = {"entrypoint": entrypoint, "ref": ref, "arguments": list(arguments), "name": name}
    result: dict[str, Any] = transport.request(
        "POST", f"/api/v1/projects/{project}/runs/remote", json=body
    )
    return result


def read_logs(transport: Transport, run_id: int, offset: int = 0, wait: float = 0) -> LogChunk:
    """One piece of a run's output from byte `offset`, waiting up to `wait` seconds for some."""
    wait = max(0.0, min(wait, MAX_WAIT_SECONDS))
    data = transport.request(
        "GET",
        f"/api/v1/runs/{run_id}/logs",
        params={"offset": offset, "wait": wait},
        timeout=wait + 30.0,
    )
    return LogChunk(str(data["text"]), int(data["offset"]), bool(data["done"]), str(data["status"]))


def follow_logs(
    transport: Transport,
    run_id: int,
    *,
    offset: int = 0,
    follow: bool = True,
    wait: float = 10.0,
) -> Iterator[LogChunk]:
    """A run's output as it is written, piece by piece. With `follow`, it goes on until the
    run ends (the last piece has `done` set); without, until what is written so far is read.

    Example:
        >>> for chunk in follow_logs(t, 42):  # doctest: +SKIP
        ...     print(chunk.text, end="")
        >>> chunk.status  # doctest: +SKIP
        'finished'
    """
    while True:
        chunk = read_logs(transport, run_id, offset, wait if follow else 0)
        offset = chunk.offset
        if chunk.text or chunk.done:
            yield chunk
        if chunk.done or (not follow and not chunk.text):
            return


def cancel_run(transport: Transport, run_id: int) -> dict[str, Any]:
    """Stop a remote run (SIGTERM, then SIGKILL after the server's grace period); answers the
    run, `killed` once it has ended. Cancelling an ended run changes nothing.

    Example:
        >>> cancel_run(t, 42)["status"]  # doctest: +SKIP
        'killed'
    """
    result: dict[str, Any] = transport.request("POST", f"/api/v1/runs/{run_id}/cancel")
    return result
