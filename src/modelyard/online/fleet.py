"""The learner fleet: one `python -m modelyard.online.learner` process per online variant of
every running endpoint, unless its learning is paused. Reconciled from the database twice a
second, like the replica supervisor: a learner that crashes is started again (backing off
when it keeps crashing), one whose state was replaced exits and is started again at once,
and one no longer wanted is stopped. Scheduled and requested checkpoints are made here."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.tables import UserRow
from modelyard.config import Settings
from modelyard.db import utcnow
from modelyard.errors import ModelyardError, NotFoundError
from modelyard.online import learners
from modelyard.online.learner import EXIT_REPLACED, TOKEN_ENV
from modelyard.online.protocols import ServingLike
from modelyard.online.states import StateStore
from modelyard.online.tables import (
    FeatureSummaryRow,
    FeedbackRow,
    LearnerRow,
    LearnerSampleRow,
    QualityRow,
)
from modelyard.registry.service import ModelVersionRow
from modelyard.serving.service import EndpointRow, ProjectRow, VariantRow
from modelyard.serving.spec import VariantSpec

log = logging.getLogger("modelyard.online")
TICK_SECONDS = 0.5
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
MAX_BACKOFF_SECONDS = 30.0
PRUNE_EVERY_SECONDS = 60.0
STATE_GRACE_SECONDS = 600.0  # an unreferenced state may still be loading in a replica


@dataclass
class Process:
    learner_id: int
    token: str
    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class Fleet:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        serving: ServingLike,
        states: StateStore,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.serving = serving
        self.states = states
        self.python = settings.serving_python or sys.executable
        self.logs = settings.serving_logs_dir / "learners"
        self.processes: dict[int, Process] = {}
        self._crashes: dict[int, tuple[int, float]] = {}  # learner -> (count, not before)
        self._tokens: dict[int, str] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkpoint_lock = threading.Lock()
        self._next_prune = 0.0
        self._learnable_cache: dict[tuple[str | None, str], bool] = {}

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="modelyard-learners", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for process in list(self.processes.values()):
            self._terminate(process)
        self.processes.clear()

    def wake(self) -> None:
        self._wake.set()

    def after_publication(self, learner_id: int) -> None:
        self._crashes.pop(learner_id, None)  # it works: a later crash starts from scratch

    def token(self, learner_id: int) -> str | None:
        return self._tokens.get(learner_id)

    def alive(self, learner_id: int) -> bool:
        process = self.processes.get(learner_id)
        return process is not None and process.popen.poll() is None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:  # the loop must outlive one bad pass
                log.exception("learner fleet: reconcile failed")
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    # --- one pass -------------------------------------------------------------------------

    def desired(self, session: Session) -> dict[int, LearnerRow]:
        """The learners that should run now, creating rows for new online variants."""
        wanted: dict[int, LearnerRow] = {}
        running = session.scalars(select(EndpointRow).where(EndpointRow.state == "running")).all()
        for endpoint in running:
            try:  # one endpoint's trouble (an alias gone, a model file unreadable) is its own
                wanted.update(self._desired_of(session, endpoint))
            except Exception as error:
                session.rollback()
                log.warning("learners of endpoint %s: %s", endpoint.id, error)
        return wanted

    def _desired_of(self, session: Session, endpoint: EndpointRow) -> dict[int, LearnerRow]:
        wanted: dict[int, LearnerRow] = {}
        spec = self.serving.spec(session, endpoint.id)
        rows = {
            v.name: v
            for v in session.scalars(
                select(VariantRow).where(VariantRow.endpoint_id == endpoint.id)
            )
        }
        for variant in spec.variants:
            row = rows.get(variant.name)
            if row is None or not self._learnable(variant):
                continue
            _, version = learners.base_version(session, row)
            learner = learners.ensure_learner(session, row, version.sha256)
            if not learner.paused:
                wanted[learner.id] = learner
        return wanted

    def _learnable(self, variant: VariantSpec) -> bool:
        # code folders are keyed by commit, so the answer for one never changes
        key = (variant.code_dir, variant.flavor)
        found = self._learnable_cache.get(key)
        if found is None:
            found = self._learnable_cache[key] = learners.is_learnable(variant)
        return found

    def alive_ids(self) -> set[int]:
        """Learners whose process runs now (safe to call from any thread)."""
        return {i for i, p in list(self.processes.items()) if p.popen.poll() is None}

    def reconcile(self) -> None:
        with self.session_factory() as session:
            wanted = self.desired(session)
            for learner in wanted.values():
                try:
                    self._maybe_checkpoint(session, learner)
                except Exception:  # the rest of the pass (spawning, pruning) must still run
                    session.rollback()
                    log.exception("learner %s: checkpoint failed", learner.id)
            session.commit()
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                prune(session, time.time() - self.settings.online_feedback_retention_days * 86400)
                self.states.collect(session, keep_seconds=STATE_GRACE_SECONDS)
        now = time.monotonic()
        for learner_id in [i for i in self.processes if i not in wanted]:
            self._terminate(self.processes.pop(learner_id))
            self._tokens.pop(learner_id, None)
        for learner_id in wanted:
            process = self.processes.get(learner_id)
            if process is not None:
                code = process.popen.poll()
                if code is None:
                    continue
                self._exited(learner_id, code, now)
            _, not_before = self._crashes.get(learner_id, (0, 0.0))
            if now >= not_before:
                self._spawn(learner_id)

    def _exited(self, learner_id: int, code: int, now: float) -> None:
        del self.processes[learner_id]
        if code == EXIT_REPLACED:
            return  # its state was replaced: start again from the new one at once
        count, _ = self._crashes.get(learner_id, (0, 0.0))
        delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**count)
        self._crashes[learner_id] = (count + 1, now + delay)
        last = _last_line(self._log_path(learner_id))
        message = f"the learner exited with code {code}; restarting in {delay:.1f} s" + (
            f" ({last})" if last else ""
        )
        log.warning("learner %s: %s (log: %s)", learner_id, message, self._log_path(learner_id))
        with self.session_factory() as session:
            learner = session.get(LearnerRow, learner_id)
            if learner is not None:
                learner.error = message
                learners.event(session, learner.endpoint_id, "learner_restart", message)
                session.commit()

    def _log_path(self, learner_id: int) -> Path:
        return self.logs / f"{learner_id}.log"

    def _spawn(self, learner_id: int) -> None:
        token = self._tokens.setdefault(learner_id, secrets.token_urlsafe(32))
        env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV or k.startswith("LC_")}
        env[TOKEN_ENV] = token
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            self.python,
            "-m",
            "modelyard.online.learner",
            "--control-url",
            self.settings.resolved_control_url,
            "--learner-id",
            str(learner_id),
            "--publish-seconds",
            str(self.settings.online_publish_seconds),
        ]
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self._log_path(learner_id), "ab") as output:
            popen = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[learner_id] = Process(learner_id, token, popen)
        log.info("learner %s started (pid %s)", learner_id, popen.pid)

    def _terminate(self, process: Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.popen.kill()
            process.popen.wait()

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint_now(self, learner_id: int, actor: Actor | None = None) -> int:
        """Register a learner's state as a new version at once (the API's checkpoint)."""
        with self.session_factory() as session:
            learner = session.get(LearnerRow, learner_id)
            if learner is None:
                raise NotFoundError(f"no learner {learner_id}", field="learner")
            number = self._checkpoint(session, learner, "requested", actor)
            session.commit()
            return number

    def _maybe_checkpoint(self, session: Session, learner: LearnerRow) -> None:
        if not learner.state_sha256:
            return
        if not learner.checkpoint_requested:
            since = learner.checkpointed_at or learner.published_at
            if since is None:
                return
            if (utcnow() - since).total_seconds() < self.settings.online_checkpoint_seconds:
                return
            if self._checkpointed(session, learner):
                return
        try:
            self._checkpoint(
                session, learner, "requested" if learner.checkpoint_requested else "scheduled"
            )
        except ModelyardError as error:
            session.rollback()
            log.warning("learner %s: checkpoint failed: %s", learner.id, error.message)

    def _checkpoint(
        self, session: Session, learner: LearnerRow, why: str, actor: Actor | None = None
    ) -> int:
        """Registered in the name of who asked, or (scheduled) of the endpoint's creator."""
        with self._checkpoint_lock:
            session.refresh(learner)
            if learner.checkpoint_version is not None and self._checkpointed(session, learner):
                learner.checkpoint_requested = False
                return learner.checkpoint_version  # nothing learned since: the same version
            variant = session.get(VariantRow, learner.variant_id)
            endpoint = session.get(EndpointRow, learner.endpoint_id)
            project = session.get(ProjectRow, endpoint.project_id) if endpoint else None
            actor = actor or (self._actor(session, endpoint) if endpoint else None)
            if variant is None or endpoint is None or project is None or actor is None:
                raise NotFoundError("the learner's variant is gone", field="variant")
            number = self.states.checkpoint(
                session,
                learner,
                variant,
                project.slug,
                actor,
                f"Checkpoint ({why}) of the online variant {variant.name} of endpoint "
                f"{endpoint.name}, learned up to label #{learner.cursor}.",
            )
            learners.event(
                session, endpoint.id, "checkpoint", f"{variant.name}: checkpoint saved as v{number}"
            )
            session.commit()
            return number

    def _checkpointed(self, session: Session, learner: LearnerRow) -> bool:
        """The current state is already the newest checkpoint (nothing learned since)."""
        if learner.checkpoint_version is None:
            return False
        variant = session.get(VariantRow, learner.variant_id)
        if variant is None:
            return True
        sha = session.scalar(
            select(ModelVersionRow.sha256).where(
                ModelVersionRow.model_id == variant.model_id,
                ModelVersionRow.version == learner.checkpoint_version,
            )
        )
        return sha == learner.state_sha256

    @staticmethod
    def _actor(session: Session, endpoint: EndpointRow) -> Actor | None:
        """Checkpoints are registered in the name of the endpoint's creator (or an admin)."""
        user = session.get(UserRow, endpoint.created_by_id) if endpoint.created_by_id else None
        if user is None:
            user = session.scalar(select(UserRow).where(UserRow.is_admin.is_(True)).limit(1))
        if user is None:
            return None
        return Actor(id=user.id, username=user.username, is_admin=True, via="system")


def _last_line(path: Path) -> str:
    """The last line of a learner's log: usually the exception that ended it."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 2000))
            lines = handle.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def prune(session: Session, before: float) -> None:
    """Forget labels, quality sums, learner reports and drift summaries older than the
    retention (MODELYARD_ONLINE_FEEDBACK_RETENTION_DAYS); a learner's state keeps what it
    learned from them. Labels a learner has not learned yet (paused, or its endpoint
    stopped) are kept however old they are."""
    cursors = dict(
        session.execute(
            select(LearnerRow.endpoint_id, func.min(LearnerRow.cursor)).group_by(
                LearnerRow.endpoint_id
            )
        ).all()
    )
    for endpoint_id, cursor in cursors.items():
        session.execute(
            delete(FeedbackRow).where(
                FeedbackRow.endpoint_id == endpoint_id,
                FeedbackRow.received_at < before,
                FeedbackRow.id <= cursor,
            )
        )
    session.execute(
        delete(FeedbackRow).where(
            FeedbackRow.received_at < before, FeedbackRow.endpoint_id.not_in(list(cursors))
        )
    )
    session.execute(delete(QualityRow).where(QualityRow.ts < before))
    session.execute(delete(LearnerSampleRow).where(LearnerSampleRow.ts < before))
    session.execute(delete(FeatureSummaryRow).where(FeatureSummaryRow.ts < before))
    session.commit()
