"""An endpoint's replica pool on this machine: one listening socket, N replica processes.

The control plane binds the socket and every replica inherits it, so the kernel spreads
connections over the replicas; while a replica restarts, new connections wait in the
socket's backlog instead of being refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from modelyard.db import utcnow
from modelyard.serving.autoscaler import Autoscaler
from modelyard.serving.spec import TOKEN_ENV, Telemetry

log = logging.getLogger("modelyard.serving")

INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR")
REPORT_STALE_SECONDS = 3.0


@dataclass
class Replica:
    id: str
    process: subprocess.Popen[bytes]
    started_at: datetime
    restarts: int = 0
    report: Telemetry | None = None
    reported_at: float = 0.0
    stopping: bool = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def ready(self) -> bool:
        return self.alive and self.report is not None and self.report.ready

    def fresh_report(self, now: float) -> Telemetry | None:
        if self.report is None or now - self.reported_at > REPORT_STALE_SECONDS:
            return None
        return self.report


@dataclass
class Pool:
    endpoint_id: int
    project: str
    name: str
    sock: socket.socket
    token: str
    log_dir: Path
    replicas: dict[str, Replica] = field(default_factory=dict)
    target: int = 1
    scaler: Autoscaler = field(default_factory=Autoscaler)
    next_index: int = 1
    crash_times: list[float] = field(default_factory=list)
    restarts: int = 0  # replicas restarted after an exit
    restart_after: float = 0.0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def concurrency(self, now: float) -> float:
        return sum(
            report.concurrency
            for replica in self.replicas.values()
            if (report := replica.fresh_report(now)) is not None
        )


def bind(host: str, port: int | None, *, fall_back: bool = True) -> socket.socket:
    """Listen on `port` (kept across restarts so the URL is stable), else, if `fall_back`,
    on a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = ((port, 0) if fall_back else (port,)) if port else (0,)
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError:
            sock.close()
            continue
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock
    raise OSError(f"cannot listen on {host}")


def new_pool(endpoint_id: int, project: str, name: str, sock: socket.socket, logs: Path) -> Pool:
    log_dir = logs / str(endpoint_id)
    log_dir.mkdir(parents=True, exist_ok=True)
    return Pool(endpoint_id, project, name, sock, secrets.token_urlsafe(32), log_dir)


def spawn(pool: Pool, python: str, control_url: str, poll_seconds: float) -> Replica:
    replica_id = f"r{pool.next_index}"
    pool.next_index += 1
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV or k.startswith("LC_")}
    env[TOKEN_ENV] = pool.token
    env["PYTHONUNBUFFERED"] = "1"
    fd = pool.sock.fileno()
    command = [
        python,
        "-m",
        "modelyard.serving.replica",
        "--fd",
        str(fd),
        "--control-url",
        control_url,
        "--endpoint-id",
        str(pool.endpoint_id),
        "--replica-id",
        replica_id,
        "--poll-seconds",
        str(poll_seconds),
    ]
    with open(pool.log_dir / f"{replica_id}.log", "ab") as output:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
            start_new_session=True,  # a Ctrl-C meant for the control plane is not theirs
        )
    replica = Replica(replica_id, process, utcnow(), restarts=pool.restarts)
    pool.replicas[replica_id] = replica
    log.info(
        "endpoint %s/%s: replica %s started (pid %s)",
        pool.project,
        pool.name,
        replica_id,
        process.pid,
    )
    return replica


def terminate(replicas: list[Replica], grace: float) -> threading.Thread:
    """SIGTERM (uvicorn finishes in-flight requests), SIGKILL after `grace`; in the background
    so the supervisor's loop never waits on a slow shutdown."""
    for replica in replicas:
        replica.stopping = True
        with contextlib.suppress(ProcessLookupError):
            replica.process.send_signal(signal.SIGTERM)

    def reap() -> None:
        deadline = time.monotonic() + grace
        for replica in replicas:
            try:
                replica.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    replica.process.kill()
                replica.process.wait()

    thread = threading.Thread(target=reap, name="modelyard-replica-reaper", daemon=True)
    thread.start()
    return thread
