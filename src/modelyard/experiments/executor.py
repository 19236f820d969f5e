"""Where remote runs execute: the `Executor` interface, and `LocalExecutor`, which runs each
run as an OS process on this machine. A Ray Jobs backend implements the same interface.

A local run's output goes through a pipe that a pump thread copies into `output.log`, capped
at `MODELYARD_RUN_MAX_LOG_BYTES` (past it: one note, the rest discarded, the run goes on); a
run adopted after a restart keeps its pipe and is pumped and capped the same way. See
`run_output` for how the pipe outlives a restart. Runs started by a version that let the
process write straight into the log are adopted without a cap."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from modelyard.config import Settings
from modelyard.errors import ServiceUnavailableError
from modelyard.experiments import remote_state
from modelyard.experiments.remote_state import ActiveRun, SessionFactory
from modelyard.experiments.run_output import PIPE_NAME, OutputPump, open_pipe, reopen_pipe

log = logging.getLogger("modelyard.runs")

LOG_NAME = "output.log"
TAIL_LINES = 30
RESTARTED = "the server restarted while the run was active"
STOPPED = "the server stopped while the run was active"
# How long the output may still flow once the run's process is gone (its group is killed
# by then; only a process that left the group can hold the pipe longer).
DRAIN_SECONDS = 5.0
# What a run's process inherits from the server's environment: nothing that could hold a
# secret (database URLs, the secret key, cloud credentials), only what programs need to work.
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP")
INHERITED_PREFIXES = ("LC_",)

# (project slug, commit, target folder): writes the project's files at that commit.
Exporter = Callable[[str, str, Path], None]


@dataclass(frozen=True)
class RunJob:
    """One remote run to execute: the script, the code it comes from, who runs it."""

    run_id: int
    project: str
    commit: str
    entrypoint: str
    arguments: tuple[str, ...]
    user_id: int
    server_url: str  # where the run's SDK reaches the control plane


class Executor(ABC):
    """Runs remote runs. Records status, pid and exit code through `remote_state`."""

    backend: ClassVar[str]

    @abstractmethod
    def start(self) -> None:
        """Begin taking jobs; settle the runs a previous server left queued or running."""

    @abstractmethod
    def stop(self) -> None:
        """Refuse new jobs and end every active run (recorded as failed)."""

    @abstractmethod
    def submit(self, job: RunJob) -> None:
        """Queue a job. ServiceUnavailableError when the executor is not running."""

    @abstractmethod
    def cancel(self, run_id: int) -> bool:
        """Stop a queued or running run; False when this executor does not hold it."""

    @abstractmethod
    def log_path(self, run_id: int) -> Path:
        """The file the run's output is written to (and kept in after it ends)."""


class LocalExecutor(Executor):
    """Each run is `python -u ENTRYPOINT ARGS` in its own process group, in a fresh export of
    the project's code under `<runs_dir>/<id>/src`, at most `max_concurrent_runs` at once."""

    backend = "local"

    def __init__(self, factory: SessionFactory, settings: Settings, export: Exporter) -> None:
        self._factory = factory
        self._export = export
        self._runs_dir = settings.runs_dir
        self._python = settings.run_python or sys.executable
        self._workers = settings.max_concurrent_runs
        self._grace = settings.run_cancel_grace_seconds
        self._log_cap = settings.run_max_log_bytes
        self._host = socket.gethostname()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._queued: dict[int, Future[None]] = {}
        self._active: dict[int, int] = {}  # run id -> pid (and process group id)
        self._cancelled: set[int] = set()
        self._watchers: list[threading.Thread] = []
        self._stopping = False

    def log_path(self, run_id: int) -> Path:
        return self._runs_dir / str(run_id) / LOG_NAME

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            self._stopping = False
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="modelyard-run")
        self._runs_dir.mkdir(parents=True, exist_ok=True)
        for run in remote_state.active_runs(self._factory, self.backend):
            if run.host and run.host != self._host:
                continue  # another machine's run, sharing this database
            if run.pid is not None and _is_run_process(run.pid, run.log_path.parent / "src"):
                self._adopt(run)
            else:
                remote_state.finish(self._factory, run.run_id, "failed", RESTARTED)
                remote_state.revoke(self._factory, run.token_id)

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._stopping = True
            queued = list(self._queued.items())
            self._queued.clear()
            active = list(self._active.items())
            watchers = list(self._watchers)
        if pool is None:
            return
        for run_id, future in queued:
            if future.cancel():
                remote_state.finish(self._factory, run_id, "failed", STOPPED)
        for run_id, pid in active:
            self._terminate(run_id, pid)
        pool.shutdown(wait=True)
        for watcher in watchers:
            watcher.join()

    def submit(self, job: RunJob) -> None:
        with self._lock:
            if self._pool is None:
                raise ServiceUnavailableError("the run executor is not running; restart the server")
            self._queued[job.run_id] = self._pool.submit(self._execute, job)

    def cancel(self, run_id: int) -> bool:
        with self._lock:
            future = self._queued.pop(run_id, None)
            pid = self._active.get(run_id)
            if future is None and pid is None:
                return False
            self._cancelled.add(run_id)
        if future is not None and future.cancel():
            remote_state.finish(self._factory, run_id, "killed", "cancelled before it started")
            with self._lock:
                self._cancelled.discard(run_id)
        elif pid is not None:
            self._terminate(run_id, pid)
        return True  # a job leaving the queue right now sees the cancel before it starts

    # --- one run -----------------------------------------------------------------------
    def _execute(self, job: RunJob) -> None:
        run_id = job.run_id
        with self._lock:
            self._queued.pop(run_id, None)
            cancelled, stopping = run_id in self._cancelled, self._stopping
        if cancelled or stopping:
            status, reason = ("killed", "cancelled") if cancelled else ("failed", STOPPED)
            remote_state.finish(self._factory, run_id, status, reason)
            return
        output = self.log_path(run_id)
        source = output.parent / "src"
        token_id: int | None = None
        try:
            try:
                shutil.rmtree(source, ignore_errors=True)
                source.mkdir(parents=True)
                self._export(job.project, job.commit, source)
                remote_state.set_detail(
                    self._factory, run_id, host=self._host, python=self._python, url=job.server_url
                )
                token_id, secret = remote_state.issue_token(self._factory, run_id, job.user_id)
                process, pump = self._spawn(job, source, output, secret)
            except Exception as exc:  # recorded on the run, never lost in a pool thread
                log.exception("run %s could not start", run_id)
                message = f"the run could not start: {exc}"
                _append(output, f"modelyard: {message}\n")
                remote_state.finish(self._factory, run_id, "failed", message)
                return
            self._supervise(job, process, pump, output)
        finally:
            remote_state.revoke(self._factory, token_id)
            shutil.rmtree(source, ignore_errors=True)
            with self._lock:
                self._cancelled.discard(run_id)

    def _spawn(
        self, job: RunJob, source: Path, output: Path, token: str
    ) -> tuple[subprocess.Popen[bytes], OutputPump]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key in INHERITED_ENV or key.startswith(INHERITED_PREFIXES)
        }
        env |= {
            "MODELYARD_URL": job.server_url,
            "MODELYARD_TOKEN": token,
            "MODELYARD_RUN_ID": str(job.run_id),
            "MODELYARD_PROJECT": job.project,
            "PYTHONUNBUFFERED": "1",
        }
        reader, writer = open_pipe(output)
        try:
            process = subprocess.Popen(
                [self._python, "-u", job.entrypoint, *job.arguments],
                cwd=source,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=writer,
                stderr=subprocess.STDOUT,
                pass_fds=(reader,),  # keeps its pipe open should this server die
                start_new_session=True,  # its own process group, so cancel reaches its children
            )
        except BaseException:
            os.close(reader)
            (output.parent / PIPE_NAME).unlink(missing_ok=True)
            raise
        finally:
            os.close(writer)  # the process holds the only writer: its end is the pipe's end
        pump = self._pump(reader, job.run_id, output)
        return process, pump

    def _pump(self, reader: int, run_id: int, output: Path) -> OutputPump:
        pump = OutputPump(reader, output, self._log_cap, name=f"modelyard-run-{run_id}-output")
        pump.start()
        return pump

    def _supervise(
        self, job: RunJob, process: subprocess.Popen[bytes], pump: OutputPump, output: Path
    ) -> None:
        run_id = job.run_id
        try:
            with self._lock:
                self._active[run_id] = process.pid
                cancelled = run_id in self._cancelled or self._stopping
            if cancelled:
                self._terminate(run_id, process.pid)
            remote_state.mark_running(self._factory, run_id, process.pid)
            code = process.wait()
        finally:
            if process.poll() is None:  # only when recording the start failed
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            _signal_group(process.pid, signal.SIGKILL)  # what it left behind in its group
            pump.finish(DRAIN_SECONDS)  # all its output is in the log before the run ends
            with self._lock:
                self._active.pop(run_id, None)
                stopping = self._stopping and run_id not in self._cancelled
        if stopping:
            status, error = "failed", STOPPED
        elif code == 0:
            status, error = "finished", ""
        else:
            status, error = (
                "failed",
                f"{_describe_exit(code)}; the last lines of its output:\n{_tail(output)}",
            )
        remote_state.finish(self._factory, run_id, status, error, exit_code=code)

    # --- runs a previous server started --------------------------------------------------
    def _adopt(self, run: ActiveRun) -> None:
        """A run whose process outlived the previous server: watch it until it exits (its exit
        code is lost with its parent), and let it be cancelled meanwhile."""
        assert run.pid is not None
        pid = run.pid
        with self._lock:
            self._active[run.run_id] = pid
        reader = reopen_pipe(run.log_path)
        pump = None if reader is None else self._pump(reader, run.run_id, run.log_path)

        def watch() -> None:
            source = run.log_path.parent / "src"
            while _is_run_process(pid, source):
                time.sleep(0.5)
            if pump is not None:
                pump.finish(DRAIN_SECONDS)
            with self._lock:
                self._active.pop(run.run_id, None)
                stopping = self._stopping and run.run_id not in self._cancelled
                self._cancelled.discard(run.run_id)
            reason = STOPPED if stopping else f"{RESTARTED}; its exit code is unknown"
            remote_state.finish(self._factory, run.run_id, "failed", reason)
            remote_state.revoke(self._factory, run.token_id)
            shutil.rmtree(source, ignore_errors=True)

        watcher = threading.Thread(target=watch, name=f"modelyard-run-{run.run_id}", daemon=True)
        with self._lock:
            self._watchers.append(watcher)
        watcher.start()

    # --- signals ---------------------------------------------------------------------------
    def _terminate(self, run_id: int, pid: int) -> None:
        """SIGTERM to the run's process group now, SIGKILL if it is still there after the grace."""
        _signal_group(pid, signal.SIGTERM)

        def escalate() -> None:
            with self._lock:
                still_there = self._active.get(run_id) == pid
            if still_there:
                _signal_group(pid, signal.SIGKILL)

        timer = threading.Timer(self._grace, escalate)
        timer.daemon = True
        timer.start()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signum)


def _is_run_process(pid: int, source: Path) -> bool:
    """Whether `pid` is alive and still the run's process (not a later one reusing the pid)."""
    if Path("/proc/self").exists():
        try:
            return os.readlink(f"/proc/{pid}/cwd") == str(source.resolve())
        except OSError:
            return False
    try:  # no /proc here: trust the pid
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"ended by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"ended by signal {-code}"
    return f"exited with code {code}"


def _tail(path: Path, lines: int = TAIL_LINES, limit: int = 16_384) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - limit))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
