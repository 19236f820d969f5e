"""One replica process of an endpoint: `python -m modelyard.serving.replica`.

Started by the supervisor with the pool's listening socket (`--fd`), the control plane's
URL and the pool token (in the environment), or standalone with `--host/--port` and a
`--spec-file` (tests, benchmarks). It loads every variant before it accepts a connection,
then serves while two background tasks run beside uvicorn:
- the spec poll (every `--poll-seconds`, If-None-Match): a changed spec is loaded in a
  worker thread and swapped in with one assignment, so no request fails on a change; the
  same loop notices when the parent process is gone and shuts the replica down;
- the telemetry report (every second): counts, latency and prediction logs; when the
  control plane cannot take it, it is kept (bounded) and sent with the next report.
SIGTERM shuts down gracefully: in-flight requests (and their shadows) finish first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn

from modelyard.serving.predictors import Predictor, PredictorCache, PredictorLoadError
from modelyard.serving.recorder import Recorder, encode, splice
from modelyard.serving.replica_app import ReplicaApp
from modelyard.serving.routing_table import build_table
from modelyard.serving.spec import TOKEN_ENV, EndpointSpec
from modelyard.serving.spec_sources import (
    ControlPlane,
    EndpointGoneError,
    ReportRejectedError,
    SpecFile,
    SpecSource,
    SpecUnavailableError,
)

log = logging.getLogger("modelyard.serving.replica")

REPORT_SECONDS = 1.0
REPORT_CHUNK = 250  # prediction logs encoded between two turns of the event loop
MAX_REPORT_LOGS = 20_000  # per report; more wait for the next one
START_PATIENCE = 30.0  # seconds to wait for a first spec from a control plane that is starting
RETRY_FAILED_SPEC = 10.0  # seconds before loading a spec version that failed to load again


class Replica:
    """The state of a running replica beside its app: where specs come from, the loaded
    predictors, the telemetry recorder."""

    def __init__(
        self,
        source: SpecSource,
        replica_id: str,
        poll_seconds: float = 0.25,
        recorder: Recorder | None = None,
        rng: random.Random | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.source = source
        self.replica_id = replica_id
        self.poll_seconds = poll_seconds
        self.recorder = recorder or Recorder()
        self.rng = rng
        self.cache = PredictorCache()
        self.app: ReplicaApp | None = None
        self.stopping = asyncio.Event()
        self._parent = os.getppid() if parent_pid is None else parent_pid
        self._failed: tuple[str, float] = ("", 0.0)  # a spec version that failed, and when

    async def start(self) -> ReplicaApp:
        deadline = time.monotonic() + START_PATIENCE
        while True:
            try:
                spec = await self.source.fetch(None)
                break
            except SpecUnavailableError as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("waiting for the endpoint's spec: %s", exc)
                await asyncio.sleep(0.5)
        assert spec is not None
        predictors = await asyncio.to_thread(self._load, spec)
        table = build_table(spec, predictors, self.rng)
        self.app = ReplicaApp(table, self.recorder)
        log.info("replica %s serves spec %s", self.replica_id, spec.version)
        return self.app

    def _load(self, spec: EndpointSpec) -> dict[str, Predictor]:
        return {variant.name: self.cache.get(variant) for variant in spec.variants}

    async def apply(self, spec: EndpointSpec) -> None:
        """Load what the new spec needs, then swap tables; on a load failure keep serving
        the old spec and try again later."""
        assert self.app is not None
        failed_version, failed_at = self._failed
        if spec.version == failed_version and time.monotonic() < failed_at + RETRY_FAILED_SPEC:
            return
        try:
            predictors = await asyncio.to_thread(self._load, spec)
        except PredictorLoadError:
            log.exception("spec %s not applied; still serving %s", spec.version, self.version)
            self._failed = (spec.version, time.monotonic())
            return
        self.app.table = build_table(spec, predictors, self.rng, previous=self.app.table)
        self.cache.keep_only(spec.variants)
        log.info("replica %s serves spec %s", self.replica_id, spec.version)

    @property
    def version(self) -> str:
        return self.app.table.spec.version if self.app is not None else ""

    def parent_gone(self) -> bool:
        return os.getppid() != self._parent

    async def poll_forever(self) -> None:
        unreachable = False
        while not self.stopping.is_set():
            await asyncio.sleep(self.poll_seconds)
            if self.parent_gone():
                log.warning("the parent process is gone; shutting down")
                self.stopping.set()
                return
            try:
                spec = await self.source.fetch(self.version)
            except EndpointGoneError as exc:
                log.warning("shutting down: %s", exc)
                self.stopping.set()
                return
            except SpecUnavailableError as exc:
                if not unreachable:  # once per outage, not four times a second
                    log.warning("cannot poll the spec (still serving %s): %s", self.version, exc)
                unreachable = True
                continue
            unreachable = False
            if spec is not None and spec.version != self.version:
                await self.apply(spec)

    async def report(self) -> bool:
        """Send what was recorded since the last report; False (and kept) if not taken.
        Logs are taken and encoded a chunk at a time with the loop free in between, so a
        busy second's report costs requests no more than a millisecond or two of waiting."""
        ready = self.app is not None and self.app.table.ready
        telemetry = self.recorder.drain(self.replica_id, ready, self.version, max_logs=0)
        head = encode(telemetry)
        chunks: list[bytes] = []
        while len(telemetry.predictions) < MAX_REPORT_LOGS and self.recorder.pending_logs():
            part = self.recorder.take_logs(
                min(REPORT_CHUNK, MAX_REPORT_LOGS - len(telemetry.predictions))
            )
            telemetry.predictions.extend(part)
            chunks.append(encode(part))
            await asyncio.sleep(0)
        try:
            await self.source.send(splice(head, chunks))
        except ReportRejectedError:
            log.exception("telemetry report refused; dropped")
            return False
        except SpecUnavailableError as exc:
            log.debug("telemetry not sent: %s", exc)
            self.recorder.restore(telemetry)
            return False
        return True

    async def report_forever(self) -> None:
        dropped = 0
        while not self.stopping.is_set():
            # Report first: the supervisor learns that this replica is ready at once.
            await self.report()
            await asyncio.sleep(REPORT_SECONDS)
            if self.recorder.dropped_logs > dropped:
                log.warning(
                    "%d prediction logs dropped so far: the control plane did not take them",
                    self.recorder.dropped_logs,
                )
                dropped = self.recorder.dropped_logs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m modelyard.serving.replica",
        description="Serve one endpoint's variants (a replica process of its pool).",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="an inherited listening socket, shared by the pool")
    where.add_argument("--port", type=int, help="listen on --host:--port (standalone)")
    parser.add_argument("--host", default="127.0.0.1")
    spec = parser.add_mutually_exclusive_group(required=True)
    spec.add_argument("--control-url", help="the control plane's base URL")
    spec.add_argument("--spec-file", help="an EndpointSpec as JSON; no control plane")
    parser.add_argument("--endpoint-id", type=int, help="with --control-url")
    parser.add_argument("--replica-id", default="", help="the supervisor's id of this replica")
    parser.add_argument("--poll-seconds", type=float, default=0.25)
    parser.add_argument("--log-buffer", type=int, default=20_000, help="prediction logs kept")
    parser.add_argument("--graceful-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.control_url and args.endpoint_id is None:
        parser.error("--control-url needs --endpoint-id")
    return args


def make_source(args: argparse.Namespace) -> SpecSource:
    if args.spec_file:
        return SpecFile(args.spec_file)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is not set: the replica needs its pool token")
    return ControlPlane(args.control_url, args.endpoint_id, token)


def listening_socket(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        return socket.socket(fileno=args.fd)
    return socket.create_server((args.host, args.port), backlog=2048)


async def serve(args: argparse.Namespace) -> int:
    source = make_source(args)
    replica = Replica(
        source, args.replica_id or str(os.getpid()), args.poll_seconds, Recorder(args.log_buffer)
    )
    try:
        app = await replica.start()
    except (SpecUnavailableError, PredictorLoadError) as exc:
        log.error("the replica cannot start: %s", exc)
        await source.close()
        return 1
    config = uvicorn.Config(
        app,
        http=_http_implementation(),
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=args.graceful_seconds,
    )
    server = uvicorn.Server(config)
    tasks = [
        asyncio.create_task(replica.poll_forever()),
        asyncio.create_task(replica.report_forever()),
        asyncio.create_task(_stop_when(replica.stopping, server)),
    ]
    # Installed only now: before serving, the default (die at once) is right, nothing is
    # in flight; uvicorn puts its own handlers in place while it serves.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    try:
        await server.serve(sockets=[listening_socket(args)])
    finally:
        replica.stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The last second's counts and logs are worth one more try.
        with contextlib.suppress(TimeoutError, EndpointGoneError):
            await asyncio.wait_for(replica.report(), timeout=2.0)
        await source.close()
    return 0


async def _stop_when(stopping: asyncio.Event, server: uvicorn.Server) -> None:
    await stopping.wait()
    server.should_exit = True


def _http_implementation() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _ignore(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it once it has shut down; with this in
    place the re-raise is a no-op and the replica exits with 0 after its last report."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A pool runs a replica per core: BLAS thread pools in each would only fight over them.
    # Set before numpy is first imported (predictors import it when they load a model).
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
