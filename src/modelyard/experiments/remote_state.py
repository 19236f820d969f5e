"""What an executor records about a remote run: its token, its process, and how it ended.

Every function opens its own short session, so executor threads never share one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.schemas import TokenCreate
from modelyard.accounts.tables import TokenRow, UserRow
from modelyard.accounts.tokens import create_token, revoke_token
from modelyard.db import utcnow
from modelyard.errors import PermissionDeniedError
from modelyard.experiments.schemas import FINAL_STATUSES
from modelyard.experiments.service import mark_code
from modelyard.experiments.tables import RunLogRow, RunRow

SessionFactory = sessionmaker[Session]
# A run's token dies with the run; the expiry only bounds a token a crashed server left behind.
TOKEN_LIFETIME = timedelta(days=30)
MAX_ERROR_CHARS = 20_000


def issue_token(factory: SessionFactory, run_id: int, user_id: int) -> tuple[int, str]:
    """A fresh API token `run-<id>` for the run's user, recorded on the run's log row."""
    with factory() as session:
        user = session.get(UserRow, user_id)
        if user is None or not user.is_active:
            raise PermissionDeniedError("the user who submitted the run is gone or deactivated")
        token, secret = create_token(
            session,
            Actor.of(user, "system"),
            TokenCreate(name=f"run-{run_id}", expires_in_days=TOKEN_LIFETIME.days),
        )
        log = session.get(RunLogRow, run_id)
        if log is not None:
            log.token_id = token.id
            session.commit()
        return token.id, secret


def revoke(factory: SessionFactory, token_id: int | None) -> None:
    if token_id is None:
        return
    with factory() as session:
        token = session.get(TokenRow, token_id)
        user = session.get(UserRow, token.user_id) if token is not None else None
        if token is not None and user is not None and token.revoked_at is None:
            revoke_token(session, Actor.of(user, "system"), token_id)


def mark_running(factory: SessionFactory, run_id: int, pid: int) -> None:
    with factory() as session:
        run, log = session.get(RunRow, run_id), session.get(RunLogRow, run_id)
        if run is None or log is None:  # deleted meanwhile
            return
        log.pid = pid
        if run.status == "queued":
            run.status = "running"
            run.started_at = utcnow()
        session.commit()


def finish(
    factory: SessionFactory,
    run_id: int,
    status: str,
    error: str = "",
    *,
    exit_code: int | None = None,
) -> None:
    """Record how a run ended. A status the script set itself (through the SDK) stands; a
    cancel the user asked for turns any other ending into `killed`."""
    with factory() as session:
        run, log = session.get(RunRow, run_id), session.get(RunLogRow, run_id)
        if run is None:
            return
        if log is not None:
            log.exit_code = exit_code
            if log.cancel_requested and status == "failed":
                status, error = "killed", "cancelled"
        if run.status not in FINAL_STATUSES:
            run.status = status
            run.error = error[-MAX_ERROR_CHARS:]
            run.ended_at = utcnow()
        session.commit()
        mark_code(session, run)


def set_detail(factory: SessionFactory, run_id: int, **values: object) -> None:
    with factory() as session:
        log = session.get(RunLogRow, run_id)
        if log is not None:
            log.detail = {**(log.detail or {}), **values}
            session.commit()


@dataclass(frozen=True)
class ActiveRun:
    """A run the database says is queued or running on some executor of this backend."""

    run_id: int
    status: str
    pid: int | None
    token_id: int | None
    log_path: Path
    host: str


def active_runs(factory: SessionFactory, backend: str) -> list[ActiveRun]:
    with factory() as session:
        rows = session.execute(
            select(RunRow.id, RunRow.status, RunLogRow)
            .join(RunLogRow, RunLogRow.run_id == RunRow.id)
            .where(RunRow.status.in_(("queued", "running")), RunLogRow.backend == backend)
            .order_by(RunRow.id)
        )
        return [
            ActiveRun(
                run_id,
                status,
                log.pid,
                log.token_id,
                Path(log.path),
                str((log.detail or {}).get("host", "")),
            )
            for run_id, status, log in rows
        ]
