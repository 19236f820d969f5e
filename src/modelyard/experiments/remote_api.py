"""Remote runs over HTTP: submit a script to run on the server, cancel it, follow its output."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import CurrentUser, SessionDep, SettingsDep
from modelyard.config import Settings
from modelyard.experiments import remote, service
from modelyard.experiments.api import RunId
from modelyard.experiments.executor import Executor
from modelyard.experiments.schemas import FINAL_STATUSES, LogChunk, RemoteRunCreate, RunPublic
from modelyard.http_errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)
MAX_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.25


def get_executor(request: Request) -> Executor:
    executor: Executor = request.app.state.executor
    return executor


ExecutorDep = Annotated[Executor, Depends(get_executor)]


def server_url(request: Request, settings: Settings) -> str:
    """Where a run's SDK reaches this server: `run_server_url` if set, else the local address
    that took this request (so a proxy or a port other than base_url's is no problem), else
    `base_url`. `modelyard up` serves plain HTTP, so that is the scheme for the local address."""
    if settings.run_server_url:
        return settings.run_server_url.rstrip("/")
    host, port = (request.scope.get("server") or ("", None))[:2]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return settings.base_url.rstrip("/")
    if port is None:
        return settings.base_url.rstrip("/")
    if address.is_unspecified:
        return f"http://127.0.0.1:{port}"
    return f"http://[{host}]:{port}" if address.version == 6 else f"http://{host}:{port}"


@router.post(
    "/projects/{project}/runs/remote",
    response_model=RunPublic,
    status_code=status.HTTP_201_CREATED,
    responses={503: {"model": ErrorBody, "description": "The run executor is not running"}},
)
def submit_run(
    project: str,
    body: RemoteRunCreate,
    request: Request,
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    executor: ExecutorDep,
) -> RunPublic:
    """Run `entrypoint` from the project's repository at `ref` on the server, as a new run.
    Follow its output with GET /runs/{id}/logs."""
    row = remote.submit_remote_run(
        session,
        actor,
        request.app.state.repos,
        executor,
        project,
        body,
        server_url=server_url(request, settings),
    )
    return service.describe(session, [row])[0]


@router.post("/runs/{run_id}/cancel", response_model=RunPublic)
def cancel_run(
    run_id: RunId, actor: CurrentUser, session: SessionDep, executor: ExecutorDep
) -> RunPublic:
    """Stop a remote run: SIGTERM to its processes, SIGKILL after the grace period. Answers
    the run after waiting up to a few seconds for it to end (status `killed`)."""
    row = remote.cancel_remote_run(session, actor, executor, run_id)
    return service.describe(session, [row])[0]


@router.get("/runs/{run_id}/logs", response_model=LogChunk)
async def run_logs(
    run_id: RunId,
    request: Request,
    actor: CurrentUser,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=2**53, description="byte offset to read from")] = 0,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for new output (long poll)"),
    ] = 0,
) -> LogChunk:
    """A run's output from byte `offset` (at most 1 MiB). Pass the answer's `offset` to the
    next call; `done` says the run has ended and all of its output was read."""
    source = await run_in_threadpool(_open, session, actor, run_id)
    factory: sessionmaker[Session] = request.app.state.session_factory
    current = source.status
    deadline = time.monotonic() + wait
    while True:
        ended = current in FINAL_STATUSES
        read = await run_in_threadpool(remote.read_log, source.path, offset, ended=ended)
        if (
            read.text
            or (ended and read.at_end)
            or time.monotonic() >= deadline
            or await request.is_disconnected()
        ):
            return LogChunk(
                text=read.text,
                offset=read.offset,
                done=ended and read.at_end,
                status=current,  # type: ignore[arg-type]
            )
        await asyncio.sleep(POLL_SECONDS)
        current = await run_in_threadpool(_status, factory, run_id)


def _open(session: Session, actor: Actor, run_id: int) -> remote.LogSource:
    try:
        return remote.log_source(session, actor, run_id)
    finally:
        session.close()  # a long poll holds no database connection while it waits


def _status(factory: sessionmaker[Session], run_id: int) -> str:
    with factory() as session:
        return remote.run_status(session, run_id)
