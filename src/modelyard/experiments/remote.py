"""Remote runs: run a script from the project's repository on the server, cancel it, and read
its output while it runs and after."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.code import service as code_service
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, ModelyardError, NotFoundError
from modelyard.experiments import service
from modelyard.experiments.executor import Executor, RunJob
from modelyard.experiments.schemas import FINAL_STATUSES, RemoteRunCreate, RunCreate
from modelyard.experiments.tables import RunLogRow, RunRow
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project, require_writable

MAX_LOG_CHUNK = 1 << 20
CANCEL_SETTLE_SECONDS = 3.0
REGULAR_FILE_MODES = ("100644", "100755")


def check_entrypoint(path: str) -> str:
    """A Python file's path relative to the repository's root ("./" dropped), or 422."""
    if path.startswith("/") or "\\" in path or any(ord(c) < 32 for c in path):
        raise InvalidInputError(
            f"{path!r}: the entrypoint is a path inside the repository, e.g. train.py",
            field="entrypoint",
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        raise InvalidInputError(
            f"{path!r}: the entrypoint must stay inside the repository (no '..')",
            field="entrypoint",
        )
    clean = "/".join(parts)
    if not clean.endswith(".py") or clean.startswith("-"):
        raise InvalidInputError(
            f"{path!r} is not a Python script: the entrypoint must be a .py file",
            field="entrypoint",
        )
    return clean


def submit_remote_run(
    session: Session,
    actor: Actor,
    store: code_service.RepoStore,
    executor: Executor,
    slug: str,
    data: RemoteRunCreate,
    *,
    server_url: str,
) -> RunRow:
    """Record a queued run of `data.entrypoint` at the commit `data.ref` names, and hand it to
    the executor. Editors only."""
    project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
    entrypoint = check_entrypoint(data.entrypoint)
    commit = code_service.resolve_ref(store, project.slug, data.ref)
    mode = code_service.file_mode(store, project.slug, commit, entrypoint)
    if mode not in REGULAR_FILE_MODES:
        what = "no file" if mode is None else "a folder or link, not a file,"
        raise InvalidInputError(
            f"there is {what} {entrypoint!r} at {data.ref} ({commit[:12]})", field="entrypoint"
        )
    run = service.create_run(
        session,
        actor,
        project.slug,
        RunCreate(name=data.name, commit=commit, dirty=False, entrypoint=entrypoint),
        source="remote",
        status="queued",
        arguments=data.arguments,
    )
    session.add(
        RunLogRow(
            run_id=run.id,
            path=str(executor.log_path(run.id)),
            backend=executor.backend,
            detail={"ref": data.ref},
        )
    )
    session.commit()
    job = RunJob(
        run_id=run.id,
        project=project.slug,
        commit=commit,
        entrypoint=entrypoint,
        arguments=tuple(data.arguments),
        user_id=actor.id,
        server_url=server_url,
    )
    try:
        executor.submit(job)
    except ModelyardError as exc:
        _end(session, run, "failed", str(exc))
        raise
    return run


def cancel_remote_run(session: Session, actor: Actor, executor: Executor, run_id: int) -> RunRow:
    """Ask the run's process to stop (SIGTERM, then SIGKILL after the grace period) and wait a
    little for it to end. Cancelling a run that has ended changes nothing. Editors only."""
    run, _ = service.get_run(session, actor, run_id, min_role=Role.editor)
    if run.status in FINAL_STATUSES:
        return run
    log = session.get(RunLogRow, run.id)
    if log is None:
        raise ConflictError(
            f"run {run_id} does not run on the server (it was started with start_run); "
            "stop it where it runs",
            field="run_id",
        )
    log.cancel_requested = True
    session.commit()
    if not executor.cancel(run.id):
        _end(session, run, "killed", "cancelled")  # nothing runs it any more
        return run
    deadline = time.monotonic() + CANCEL_SETTLE_SECONDS
    while run.status not in FINAL_STATUSES and time.monotonic() < deadline:
        time.sleep(0.1)
        session.commit()  # a new transaction sees what the executor committed meanwhile
        session.refresh(run)
    return run


def _end(session: Session, run: RunRow, status: str, error: str) -> None:
    session.refresh(run)
    if run.status not in FINAL_STATUSES:
        run.status, run.error, run.ended_at = status, error, utcnow()
        session.commit()
        service.mark_code(session, run)


@dataclass(frozen=True)
class LogSource:
    path: Path
    status: str


def log_source(session: Session, actor: Actor, run_id: int) -> LogSource:
    """Where the run's output is, if the actor may read the run (viewers may)."""
    run, _ = service.get_run(session, actor, run_id)
    log = session.get(RunLogRow, run.id)
    if log is None:
        raise NotFoundError(
            f"run {run_id} has no output on the server: it ran elsewhere", field="run_id"
        )
    return LogSource(Path(log.path), run.status)


def run_status(session: Session, run_id: int) -> str:
    status = session.scalar(select(RunRow.status).where(RunRow.id == run_id))
    if status is None:
        raise NotFoundError(f"no run {run_id}", field="run_id")
    return status


@dataclass(frozen=True)
class LogRead:
    text: str
    offset: int  # where the next read starts
    at_end: bool  # nothing more is in the file now


def read_log(path: Path, offset: int, *, ended: bool) -> LogRead:
    """Up to 1 MiB of output from byte `offset`, decoded as UTF-8 (bad bytes replaced). While
    the run goes on, a character cut at the end of the file is left for the next read."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    if offset > size:
        raise InvalidInputError(
            f"offset {offset} is past the end of the output ({size} bytes)", field="offset"
        )
    if offset == size:
        return LogRead("", offset, True)
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(min(size - offset, MAX_LOG_CHUNK))
    last = offset + len(data) == size
    if not (ended and last):
        data = data[: _complete_utf8(data)]
    return LogRead(data.decode("utf-8", errors="replace"), offset + len(data), last)


def _complete_utf8(data: bytes) -> int:
    """The length of `data` without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        needed = 2 if byte >= 0xC0 else 1
        needed = 3 if byte >= 0xE0 else needed
        needed = 4 if byte >= 0xF0 else needed
        return len(data) - back if back < needed else len(data)
    return len(data)
