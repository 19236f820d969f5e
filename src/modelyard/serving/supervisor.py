"""The supervisor: makes the replica processes on this machine match the desired state in
the database, restarts crashed replicas, and applies the autoscaler's decisions.

It is the `local` runtime. It reads only the database, so a restart of the control plane
brings every running endpoint back; a Ray Serve runtime would implement the same methods.
"""

from __future__ import annotations

import hmac
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.projects.service import ProjectRow
from modelyard.serving import pools
from modelyard.serving.autoscaler import ScalePolicy
from modelyard.serving.pools import Pool, Replica
from modelyard.serving.schemas import ReplicaPublic
from modelyard.serving.spec import Telemetry
from modelyard.serving.tables import (
    EndpointEventRow,
    EndpointRow,
    PredictionRow,
    ReplicaSampleRow,
    TelemetryRow,
)

log = logging.getLogger("modelyard.serving")

TICK_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 60.0
CRASH_WINDOW_SECONDS = 60.0
PORT_PATIENCE_SECONDS = 15.0


@dataclass(frozen=True)
class Desired:
    endpoint_id: int
    project: str
    name: str
    min_replicas: int
    max_replicas: int
    target_inflight: float
    port: int | None


class Supervisor:
    def __init__(self, session_factory: Callable[[], Session], settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.python = settings.serving_python or sys.executable
        self.pools: dict[int, Pool] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reapers: list[threading.Thread] = []
        self._last_sample = 0.0
        self._last_prune = 0.0
        # pools being stopped: their replicas may still send a last report with this token
        self._retiring: dict[int, list[str]] = {}
        self._port_wait: dict[int, float] = {}  # endpoint id -> since when its port is busy

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="modelyard-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every replica (they finish their in-flight requests) and the loop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            for pool in list(self.pools.values()):
                self._close(pool, None)
        for reaper in self._reapers:
            reaper.join(timeout=self.settings.serving_stop_grace_seconds + 5)

    def wake(self) -> None:
        """Reconcile now rather than at the next tick (after an API call changed the state)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except Exception:  # the loop must outlive any one failure; it is logged in full
                log.exception("the serving supervisor's pass failed")
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    # --- what the API and the replicas ask -----------------------------------------------

    def check_token(self, endpoint_id: int, token: str) -> bool:
        pool = self.pools.get(endpoint_id)
        tokens = [pool.token] if pool is not None else []
        tokens += self._retiring.get(endpoint_id, [])
        return any(hmac.compare_digest(t.encode(), token.encode()) for t in tokens)

    def labels(self, endpoint_id: int) -> tuple[str, str] | None:
        """(project, endpoint) of a running pool, for the Prometheus labels."""
        pool = self.pools.get(endpoint_id)
        return (pool.project, pool.name) if pool is not None else None

    def report(self, endpoint_id: int, telemetry: Telemetry) -> None:
        pool = self.pools.get(endpoint_id)
        replica = pool.replicas.get(telemetry.replica) if pool is not None else None
        if replica is not None:
            replica.report, replica.reported_at = telemetry, time.monotonic()

    def port(self, endpoint_id: int) -> int | None:
        pool = self.pools.get(endpoint_id)
        return pool.port if pool is not None else None

    def replicas(self, endpoint_id: int) -> list[ReplicaPublic]:
        pool = self.pools.get(endpoint_id)
        if pool is None:
            return []
        return [
            ReplicaPublic(
                id=r.id,
                pid=r.process.pid,
                state="ready" if r.ready else ("starting" if r.alive else "exited"),
                started_at=r.started_at,
                restarts=r.restarts,
                inflight=r.report.inflight if r.report else 0,
                spec_version=r.report.spec_version if r.report else "",
            )
            for r in list(pool.replicas.values())
            if not r.stopping
        ]

    # --- reconciling ---------------------------------------------------------------------

    def _desired(self, session: Session) -> tuple[dict[int, Desired], set[int]]:
        rows = session.execute(
            select(
                EndpointRow.id,
                ProjectRow.slug,
                EndpointRow.name,
                EndpointRow.state,
                EndpointRow.min_replicas,
                EndpointRow.max_replicas,
                EndpointRow.target_inflight,
                EndpointRow.port,
            ).join(ProjectRow, ProjectRow.id == EndpointRow.project_id)
        ).all()
        running = {
            row.id: Desired(
                row.id,
                row.slug,
                row.name,
                row.min_replicas,
                row.max_replicas,
                row.target_inflight,
                row.port,
            )
            for row in rows
            if row.state == "running"
        }
        return running, {row.id for row in rows}

    def reconcile(self) -> None:
        now = time.monotonic()
        with self.session_factory() as session, self._lock:
            if self._stopping.is_set():
                return
            running, existing = self._desired(session)
            for endpoint_id, pool in list(self.pools.items()):
                if endpoint_id not in running:
                    self._close(pool, session if endpoint_id in existing else None)
            for desired in running.values():
                found = self.pools.get(desired.endpoint_id) or self._open(session, desired)
                if found is not None:
                    self._tend(session, found, desired, now)
            if now - self._last_sample >= 1.0:
                self._last_sample = now
                self._sample(session, now)
            if now - self._last_prune >= PRUNE_EVERY_SECONDS:
                self._last_prune = now
                self._prune(session)
            session.commit()

    def _open(self, session: Session, desired: Desired) -> Pool | None:
        # The endpoint's own port first, for a while: replicas of a pool that was just stopped
        # may still hold it while they finish; only then any free port (the URL changes).
        now = time.monotonic()
        since = self._port_wait.setdefault(desired.endpoint_id, now)
        patient = desired.port is not None and now - since < PORT_PATIENCE_SECONDS
        try:
            sock = pools.bind(self.settings.serving_host, desired.port, fall_back=not patient)
        except OSError as error:
            if not patient:
                log.error("endpoint %s/%s: cannot listen: %s", desired.project, desired.name, error)
            return None
        self._port_wait.pop(desired.endpoint_id, None)
        pool = pools.new_pool(
            desired.endpoint_id, desired.project, desired.name, sock, self.settings.serving_logs_dir
        )
        pool.target = desired.min_replicas
        self.pools[desired.endpoint_id] = pool
        row = session.get(EndpointRow, desired.endpoint_id)
        if row is not None and row.port != pool.port:
            row.port = pool.port
        self._event(session, pool, "start", 0, pool.target, f"listening on port {pool.port}")
        return pool

    def _close(self, pool: Pool, session: Session | None) -> None:
        """Stop a pool's replicas; `session` records the event (None: the endpoint is gone)."""
        self.pools.pop(pool.endpoint_id, None)
        replicas = [r for r in pool.replicas.values() if not r.stopping]
        self._reapers = [t for t in self._reapers if t.is_alive()]
        reaper = pools.terminate(replicas, self.settings.serving_stop_grace_seconds)
        self._reapers.append(reaper)
        # our copy of the socket goes now (the port frees once the replicas exit); their
        # token stays valid until then, so their last report still lands
        pool.sock.close()
        retiring = self._retiring.setdefault(pool.endpoint_id, [])
        retiring.append(pool.token)

        def retire_after_reaping() -> None:
            reaper.join()
            retiring.remove(pool.token)

        threading.Thread(target=retire_after_reaping, daemon=True).start()
        if session is not None:
            self._event(session, pool, "stop", len(replicas), 0, "endpoint stopped")

    def _tend(self, session: Session, pool: Pool, desired: Desired, now: float) -> None:
        for replica in list(pool.replicas.values()):
            if replica.alive:
                continue
            del pool.replicas[replica.id]
            if not replica.stopping:
                self._crashed(session, pool, replica, now)
                pool.restarts += 1
        policy = ScalePolicy(
            desired.min_replicas,
            desired.max_replicas,
            desired.target_inflight,
            up_after=self.settings.serving_scale_up_seconds,
            down_after=self.settings.serving_scale_down_seconds,
        )
        decision = pool.scaler.decide(policy, pool.target, pool.concurrency(now), now)
        if decision is not None:
            kind = "scale_up" if decision.replicas > pool.target else "scale_down"
            self._event(session, pool, kind, pool.target, decision.replicas, decision.reason)
            pool.target = decision.replicas
        active = [r for r in pool.replicas.values() if not r.stopping]
        if len(active) < pool.target and now >= pool.restart_after:
            for _ in range(pool.target - len(active)):
                pools.spawn(
                    pool,
                    self.python,
                    self.settings.resolved_control_url,
                    self.settings.serving_poll_seconds,
                )
        elif len(active) > pool.target:
            # the youngest go first: the oldest are warm and certainly ready
            extra = sorted(active, key=lambda r: r.started_at)[pool.target :]
            self._reapers.append(pools.terminate(extra, self.settings.serving_stop_grace_seconds))

    def _crashed(self, session: Session, pool: Pool, replica: Replica, now: float) -> None:
        code = replica.process.returncode
        pool.crash_times = [t for t in pool.crash_times if now - t < CRASH_WINDOW_SECONDS]
        pool.crash_times.append(now)
        crashes = len(pool.crash_times)
        delay = 0.0 if crashes < 3 else min(30.0, 2.0 ** (crashes - 2))
        pool.restart_after = now + delay
        active = len([r for r in pool.replicas.values() if not r.stopping])
        message = f"replica {replica.id} exited with code {code}; " + (
            f"restarting in {delay:g}s ({crashes} exits in a minute)" if delay else "restarting"
        )
        log.warning(
            "endpoint %s/%s: %s (log: %s/%s.log)",
            pool.project,
            pool.name,
            message,
            pool.log_dir,
            replica.id,
        )
        self._event(session, pool, "restart", active + 1, active, message)

    def _event(
        self, session: Session, pool: Pool, kind: str, before: int, after: int, message: str
    ) -> None:
        session.add(
            EndpointEventRow(
                endpoint_id=pool.endpoint_id,
                kind=kind,
                replicas_before=before,
                replicas_after=after,
                message=message,
            )
        )

    def _sample(self, session: Session, now: float) -> None:
        second = int(time.time())
        for pool in self.pools.values():
            active = [r for r in pool.replicas.values() if not r.stopping]
            session.add(
                ReplicaSampleRow(
                    endpoint_id=pool.endpoint_id,
                    ts=second,
                    replicas=len(active),
                    ready=sum(1 for r in active if r.ready),
                    concurrency=pool.concurrency(now),
                )
            )

    def _prune(self, session: Session) -> None:
        """Keep telemetry and prediction logs bounded (retention settings)."""
        horizon = int(time.time() - self.settings.serving_telemetry_retention_hours * 3600)
        session.execute(delete(TelemetryRow).where(TelemetryRow.ts < horizon))
        session.execute(delete(ReplicaSampleRow).where(ReplicaSampleRow.ts < horizon))
        oldest = time.time() - self.settings.serving_prediction_retention_days * 86400
        session.execute(delete(PredictionRow).where(PredictionRow.at < oldest))
