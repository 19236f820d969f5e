"""Benchmark: single-record predictions under load, modelyard side by side with its peers.

Issue 6's method, on loopback: every server is pinned to core 0 (`taskset -c 0`, children
inherit it), `wrk` runs on core 1 (`taskset -c 1 wrk -t1 -c16 -d8s --latency -s post.lua`)
after a 2 s warm-up run; the Lua script posts one JSON body and its `done()` hook prints exact
percentiles. The model is a scikit-learn LogisticRegression on 20 float features fitted on
seeded numpy data (no downloads); a request carries one record. Every server's answer is
checked before it is timed; a run with failed requests is flagged. Other processes on the
machine skew everything: before each run the script waits (up to `--quiet-wait` s) for them to
idle, and the table shows the CPU the server got and the CPU anything else took meanwhile.

Contestants, in one run (the apps are in benchmarks/serving_baselines/):
- peers: bare uvicorn + Starlette answering a constant (the ceiling); hand-written Starlette
  + stdlib `json` + `model.predict` (the bar); the same with FastAPI + pydantic;
- mlflow: `mlflow models serve --env-manager local` (default workers) of the same model logged
  with `mlflow.sklearn.log_model`, in MLflow's own interpreter: `MLFLOW_PYTHON`, else a venv
  this script makes once under ~/.cache/modelyard-bench (`pip install mlflow scikit-learn`);
- modelyard: a real `modelyard up` (temp home), the model registered through the SDK, endpoints
  created and started through the REST API; the pool's own port loaded with batching off and
  on and with 100-record batches, then the control plane's `/serve` URL; a standalone replica
  on the same spec whose telemetry reports are dropped (the replica has no switch to turn
  telemetry and prediction logs off); deploy-to-first-answer time and the replicas' RSS;
- stack: a raw ASGI app under uvicorn with asyncio or uvloop, h11 or httptools, stdlib `json`
  or `orjson`; plus the in-process cost of `predict` and of each JSON library.

Needs `wrk` and `taskset`: `apt-get install -y wrk` (Debian/Ubuntu; taskset is in util-linux).
About 5 minutes.

    .venv/bin/python benchmarks/serving.py [--duration 8] [--warmup 2] [--json serving.json]
        [--skip peers|mlflow|modelyard|stack]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
import traceback
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

FEATURES = [f"f{i}" for i in range(20)]
SEED = 7
ADMIN_PASSWORD = "benchmark-admin-pass"
PROJECT, MODEL = "bench", "clf"
BAR = "Starlette + json + predict"
PARTS = ("peers", "mlflow", "modelyard", "stack")
NOISY = 0.1  # other processes took this share of a core while timed: the run is disturbed
MODELYARD_PLAIN = "modelyard replica, batching off"
MODELYARD_ALONE = "modelyard replica standalone, batching off"
MODELYARD_BATCHED = "modelyard replica, batching on"
MLFLOW_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelyard-bench"
console = Console(width=shutil.get_terminal_size((200, 40)).columns)

BASELINES = Path(__file__).resolve().parent / "serving_baselines"  # the peers' apps


@dataclass
class Result:
    group: str
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    other_cpu: float = 0.0  # cores used by other processes while timed
    server_cpu: float = 0.0
    root_cpu: float = 0.0
    records: int = 1  # per request
    rss_mib: float | None = None
    goal: str = ""
    note: str = ""
    pct_of_bar: float | None = None

    @property
    def cpu_us(self) -> float:
        """Server CPU per request: steadier than req/s when other processes take CPU."""
        return 1e6 * self.server_cpu / self.rps if self.rps else 0.0


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    other_cpu: float = 0.0  # cores busy with anything but the server, wrk and this script
    server_cpu: float = 0.0  # cores the server's processes used
    root_cpu: float = 0.0  # of which its first process (modelyard: the control plane)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


# --- machine and processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_note() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"load average {' '.join(load)}"
    )


def busy_processes() -> list[str]:
    """Other processes using a lot of CPU right now (sampled over one second by top)."""
    done = subprocess.run(
        ["top", "-b", "-n", "2", "-d", "1", "-w", "200"],
        capture_output=True,
        text=True,
        check=False,
    )
    busy = []
    for line in done.stdout.rsplit("PID USER", 1)[-1].splitlines()[1:]:
        fields = line.split(None, 11)
        if (
            len(fields) == 12
            and float(fields[8].replace(",", ".")) >= 20
            and fields[0] != str(os.getpid())
        ):
            busy.append(f"{fields[0]} {fields[8]}% {fields[11][:60]}")
    return busy


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc (children may start their own sessions)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(after_name[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total / 1024


def machine_cpu() -> float:
    """CPU seconds every core spent busy so far, steal (other VMs) included; interrupts left
    out, as loopback traffic is handled there and belongs to the benchmark."""
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(
        int, Path("/proc/stat").read_text().split(None, 9)[1:9]
    )
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """This script and the children it waited for (wrk)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def wait_for_quiet(limit: float, busy: float = 0.15) -> None:
    """Wait (at most `limit` s) until other processes use under `busy` of a core for 1 s."""
    deadline = time.monotonic() + limit
    while True:
        start = machine_cpu() - own_cpu()
        time.sleep(1)
        used = machine_cpu() - own_cpu() - start
        if used < busy or time.monotonic() > deadline:
            return


class Server:
    """A server in its own process group; stop() ends the group and any escaped descendants."""

    running: ClassVar[list[Server]] = []

    def __init__(
        self, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.argv, self.log = argv, log
        with log.open("ab") as handle:
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        Server.running.append(self)

    def wait_until(self, ready: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if ready():
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{' '.join(self.argv[:6])} did not answer: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:]

    def pids(self) -> list[int]:
        return descendants(self.process.pid) if self.process.poll() is None else []

    def stop(self) -> None:
        tree = self.pids()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for pid in tree[1:]:  # replicas in a session of their own, if any
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self in Server.running:
            Server.running.remove(self)


# --- load -------------------------------------------------------------------------------------

LUA = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, '
    .. '"status": %%d, "timeout": %%d, "p50": %%d, "p90": %%d, "p99": %%d, "max": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class Wrk:
    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        self.args, self.scratch, self.count = args, scratch, 0

    def pinned(self, argv: list[str], cpu: str) -> list[str]:
        return argv if self.args.no_pin else ["taskset", "-c", cpu, *argv]

    def run(
        self,
        url: str,
        body: bytes,
        server: Server,
        headers: dict[str, str] | None = None,
    ) -> Load:
        """Warm up, then time `wrk` on `url`; `server`'s processes count as the server's CPU."""
        self.count += 1
        script = self.scratch / f"post-{self.count}.lua"
        script.write_text(
            LUA
            % {
                "body": body.decode(),
                "headers": "\n".join(
                    f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()
                ),
            }
        )
        best: Load | None = None
        for _ in range(1 + self.args.retries):  # a run disturbed by other processes is redone
            wait_for_quiet(self.args.quiet_wait)
            if self.args.warmup > 0:
                self._wrk(url, script, self.args.warmup)
            load = self._timed(url, script, server.pids())
            if best is None or load.other_cpu < best.other_cpu:
                best = load
            if best.other_cpu < NOISY:
                break
        assert best is not None
        return best

    def _timed(self, url: str, script: Path, pids: list[int]) -> Load:
        root0, tree0, mine0, machine0 = cpu_of(pids[:1]), cpu_of(pids), own_cpu(), machine_cpu()
        started = time.monotonic()
        out = self._wrk(url, script, self.args.duration)
        window = time.monotonic() - started  # wrk's start and end included, as in the CPU
        root, tree = cpu_of(pids[:1]) - root0, cpu_of(pids) - tree0
        other = machine_cpu() - machine0 - tree - (own_cpu() - mine0)
        line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no summary: {out[-800:]}")
        data = json.loads(line[6:])
        kinds = {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
        return Load(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50"] / 1000,
            p90_ms=data["p90"] / 1000,
            p99_ms=data["p99"] / 1000,
            max_ms=data["max"] / 1000,
            errors=sum(kinds.values()),
            error_kinds=kinds,
            other_cpu=max(0.0, other) / window,
            server_cpu=tree / window,
            root_cpu=root / window,
        )

    def _wrk(self, url: str, script: Path, seconds: float) -> str:
        argv = ["wrk", "-t1", f"-c{self.args.connections}", f"-d{seconds:g}s", "--latency"]
        done = subprocess.run(
            self.pinned([*argv, "-s", str(script), url], self.args.client_cpu),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed: {done.stderr.strip()[-800:]}")
        return done.stdout


def result(group: str, name: str, load: Load, server: Server | None = None, **extra: Any) -> Result:
    note = extra.pop("note", "")
    rss = extra.pop("rss_mib", rss_mib(server.pids()) if server else None)
    if load.errors or not load.requests:
        note = f"{load.errors} failed requests {load.error_kinds}; " + note
    return Result(
        group=group,
        name=name,
        rps=load.rps,
        p50_ms=load.p50_ms,
        p99_ms=load.p99_ms,
        errors=load.errors,
        other_cpu=load.other_cpu,
        server_cpu=load.server_cpu,
        root_cpu=load.root_cpu,
        rss_mib=rss,
        note=note.strip("; "),
        **extra,
    )


# --- the model and its requests ---------------------------------------------------------------


@dataclass
class Data:
    model: Any
    record: dict[str, float]
    batch: list[dict[str, float]]
    expected: int
    expected_batch: list[int]


def make_data(scratch: Path) -> Data:
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(5000, len(FEATURES)))
    y = (X @ rng.normal(size=len(FEATURES)) + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
    np.save(scratch / "X.npy", X)
    np.save(scratch / "y.npy", y)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    (scratch / "model.pkl").write_bytes(pickle.dumps(model))
    batch = [dict(zip(FEATURES, map(float, row), strict=True)) for row in X[:100]]
    return Data(
        model=model,
        record=batch[0],
        batch=batch,
        expected=int(model.predict(X[:1])[0]),
        expected_batch=[int(v) for v in model.predict(X[:100])],
    )


def body(inputs: object, key: str = "inputs") -> bytes:
    return json.dumps({key: inputs}).encode()


def per_call_costs(data: Data) -> dict[str, float]:
    """µs per call, in this process: what one request pays before any server is involved."""
    import orjson

    row = np.array([[data.record[f] for f in FEATURES]])
    raw = body(data.record)
    answer = {"outputs": 1, "prediction_id": "5f0c8d6a2b9e4c7f8a1d3e6b9c2f5a8d", "variant": "a"}
    coef, intercept = data.model.coef_, data.model.intercept_
    batch = np.array([[r[f] for f in FEATURES] for r in data.batch])
    calls: dict[str, Callable[[], object]] = {
        "model.predict, 1 record": lambda: data.model.predict(row),
        "model.predict, 100 records": lambda: data.model.predict(batch),
        "the arithmetic alone (row @ coef.T + b > 0)": lambda: row @ coef.T + intercept > 0,
        "json.loads + json.dumps": lambda: json.dumps(json.loads(raw) and answer),
        "orjson.loads + orjson.dumps": lambda: orjson.dumps(orjson.loads(raw) and answer),
    }
    costs = {}
    for name, call in calls.items():
        number = 200 if "predict" in name else 20_000
        costs[name] = min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6
    return costs | telemetry_costs(data.record)


def telemetry_costs(record: dict[str, float]) -> dict[str, float]:
    """µs per request of the replica's telemetry, from its own recorder: the part the
    standalone replica still pays, and the report it builds each second."""
    from modelyard.serving.recorder import PredictionIds, Recorder, encode

    recorder, ids = Recorder(), PredictionIds()

    def record_one() -> None:
        now = time.time()
        recorder.request("a", 200, 0.0008)
        recorder.log((ids.new(now), now, "a", False, record, 1, 0.8, None))

    number = 5_000
    recording = min(timeit.repeat(record_one, number=number, repeat=5)) / number * 1e6
    encode(recorder.drain("r0", True, "v"))
    reporting = float("inf")
    for _ in range(5):
        for _ in range(number):
            record_one()
        started = time.perf_counter()
        encode(recorder.drain("r0", True, "v"))
        reporting = min(reporting, (time.perf_counter() - started) / number * 1e6)
    return {
        "replica: record one request (counts + prediction log)": recording,
        "replica: build + encode the report, per logged request": reporting,
    }


# --- contestants --------------------------------------------------------------------------------


def uvicorn_server(
    wrk: Wrk, scratch: Path, app: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[Server, str]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", f"{app}:app", "--app-dir", str(BASELINES)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    argv += ["--log-level", "warning", *extra]
    server = Server(
        wrk.pinned(argv, wrk.args.server_cpu),
        {**os.environ, "BENCH_MODEL": str(scratch / "model.pkl"), **(env or {})},
        scratch / f"{app}-{port}.log",
    )
    return server, f"http://127.0.0.1:{port}/predict"


def answers(url: str, payload: bytes, key: str, expected: object) -> bool:
    """True when the server answers `expected` under `key`; raises on a wrong answer (not up
    yet: httpx.HTTPError)."""
    response = httpx.post(
        url, content=payload, headers={"Content-Type": "application/json"}, timeout=10
    )
    if response.status_code != 200 or response.json().get(key) != expected:
        raise RuntimeError(f"{url} answered {response.status_code} {response.text[:300]}")
    return True


def bench_python_servers(wrk: Wrk, scratch: Path, data: Data) -> list[Result]:
    results = []
    one, hundred = body(data.record), body(data.batch)
    plan = [
        ("ceiling", "uvicorn + Starlette, constant", "app_constant"),
        ("bar", BAR, "app_starlette"),
        ("peers", "FastAPI + pydantic + predict", "app_fastapi"),
    ]
    for group, name, app in plan:
        console.print(f"{name} ...")
        server, url = uvicorn_server(wrk, scratch, app)
        try:
            expected = 1 if app == "app_constant" else data.expected
            server.wait_until(partial(answers, url, one, "outputs", expected))
            results.append(result(group, name, wrk.run(url, one, server), server))
            if app != "app_constant":
                server.wait_until(partial(answers, url, hundred, "outputs", data.expected_batch))
                results.append(
                    result(
                        "batch",
                        f"{name}, 100 records",
                        wrk.run(url, hundred, server),
                        server,
                        records=100,
                    )
                )
        finally:
            server.stop()
    return results


def bench_stack(wrk: Wrk, scratch: Path, data: Data) -> list[Result]:
    """The raw ASGI app under each loop x HTTP parser, and with each JSON library."""
    results = []
    one = body(data.record)
    plan = [
        ("asyncio", "h11", "json"),
        ("asyncio", "httptools", "json"),
        ("uvloop", "h11", "json"),
        ("uvloop", "httptools", "json"),
        ("uvloop", "httptools", "orjson"),
    ]
    for loop, http, library in plan:
        name = f"raw ASGI: {loop} + {http} + {library}"
        console.print(f"{name} ...")
        server, url = uvicorn_server(
            wrk,
            scratch,
            "app_raw",
            "--loop",
            loop,
            "--http",
            http,
            "--lifespan",
            "off",
            env={"BENCH_JSON": library},
        )
        try:
            server.wait_until(partial(answers, url, one, "variant", "a"))
            results.append(result("stack", name, wrk.run(url, one, server), server))
        finally:
            server.stop()
    return results


def mlflow_python() -> tuple[str | None, str]:
    """A python with mlflow and scikit-learn, or None and why not."""
    given = os.environ.get("MLFLOW_PYTHON")
    python = given or str(MLFLOW_CACHE / "mlflow-venv" / "bin" / "python")
    if not given and not Path(python).exists():
        console.print(f"making {MLFLOW_CACHE / 'mlflow-venv'} with mlflow (once) ...")
        try:
            venv.create(MLFLOW_CACHE / "mlflow-venv", with_pip=True)
            subprocess.run(
                [python, "-m", "pip", "install", "-q", "mlflow", "scikit-learn"],
                check=True,
                timeout=900,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"could not make a venv with mlflow: {exc}"
    done = subprocess.run(
        [python, "-c", "import mlflow, sklearn; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{python} cannot import mlflow and sklearn: {last}"
    return python, done.stdout.strip()


def mlflow_default_workers(python: str) -> str:
    """What `mlflow models serve --help` says about --workers."""
    done = subprocess.run(
        [python, "-m", "mlflow", "models", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"-w, --workers.*?\)", " ".join(done.stdout.split()))
    return found[0] if found else "no --workers option in `mlflow models serve --help`"


def command_lines(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        with suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            lines.append(" ".join([Path(argv[0].decode()).name, *(a.decode() for a in argv[1:])]))
    return "; ".join(line.strip() for line in lines)


def bench_mlflow(wrk: Wrk, scratch: Path, data: Data, python: str) -> tuple[list[Result], str]:
    folder = scratch / "mlflow"
    folder.mkdir()
    for name in ("X.npy", "y.npy"):
        shutil.copy(scratch / name, folder / name)
    env = {  # its server execs `uvicorn` from PATH
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        [python, str(BASELINES / "mlflow_log_model.py"), str(folder)],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"logging the model failed: {done.stderr.strip()[-1000:]}")
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    port = free_port()
    argv = [python, "-m", "mlflow", "models", "serve", "-m", logged["uri"]]
    argv += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    server = Server(wrk.pinned(argv, wrk.args.server_cpu), env, folder / "serve.log", cwd=folder)
    url = f"http://127.0.0.1:{port}/invocations"
    one, hundred = body([data.record], "dataframe_records"), body(data.batch, "dataframe_records")
    console.print(f"mlflow models serve (MLflow {logged['version']}) ...")
    try:
        server.wait_until(partial(answers, url, one, "predictions", [data.expected]))
        pids = server.pids()
        workers = f"{len(pids)} processes: {command_lines(pids)}"
        results = [result("peers", "mlflow models serve", wrk.run(url, one, server), server)]
        server.wait_until(partial(answers, url, hundred, "predictions", data.expected_batch))
        results.append(
            result(
                "batch",
                "mlflow models serve, 100 records",
                wrk.run(url, hundred, server),
                server,
                records=100,
            )
        )
    finally:
        server.stop()
    return results, f"MLflow {logged['version']}; {workers}"


@contextmanager
def modelyard_server(wrk: Wrk, scratch: Path) -> Iterator[tuple[Server, str]]:
    home, port = scratch / "modelyard-home", free_port()
    argv = [sys.executable, "-m", "modelyard", "up", "--home", str(home), "--port", str(port)]
    server = Server(
        wrk.pinned(argv, wrk.args.server_cpu),
        {**os.environ, "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD},
        scratch / "modelyard.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200)
        yield server, url
    finally:
        server.stop()


class Endpoints:
    """modelyard's endpoint REST API as the benchmark uses it."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"/api/v1/projects/{PROJECT}/endpoints{path}", **kw)
        if not response.is_success:
            raise RuntimeError(f"{method} {response.request.url}: {response.text[:500]}")
        return response.json() if response.content else None

    def create(self, name: str, version: int, batching: bool) -> dict[str, str]:
        """An endpoint with one live variant and a key; answers the key's auth header."""
        self.call("POST", "", json={"name": name, "min_replicas": 1, "max_replicas": 1})
        variant = {"name": "a", "model": MODEL, "version": str(version), "weight": 100}
        self.call(
            "POST", f"/{name}/variants", json={**variant, "mode": "live", "batching": batching}
        )
        key = self.call("POST", f"/{name}/keys", json={"name": "bench"})["token"]
        return {"Authorization": f"Bearer {key}"}

    def start(self, name: str, payload: bytes, headers: dict[str, str]) -> tuple[str, float]:
        """Start it; answers the pool's predict URL and the seconds from the start call to the
        first 200 through the control plane's /serve URL."""
        gateway = f"{self.url}/serve/{PROJECT}/{name}/predict"
        started = time.perf_counter()
        self.call("POST", f"/{name}/start")
        while time.perf_counter() < started + 60:
            with suppress(httpx.TimeoutException):
                if httpx.post(gateway, content=payload, headers=headers, timeout=10).is_success:
                    break
            time.sleep(0.01)
        else:
            raise RuntimeError(f"{name} gave no 200 within 60 s of its start")
        seconds = time.perf_counter() - started
        port = self.call("GET", f"/{name}")["port"]
        return f"http://127.0.0.1:{port}/serve/{PROJECT}/{name}/predict", seconds

    def replica_pids(self, name: str, cpu: str | None) -> list[int]:
        pids = [r["pid"] for r in self.call("GET", f"/{name}")["replicas"] if r.get("pid")]
        for pid in pids:  # replicas inherit the control plane's core; make sure
            if cpu is not None and os.sched_getaffinity(pid) != {int(cpu)}:
                os.sched_setaffinity(pid, {int(cpu)})
        return pids


def check(url: str, payload: bytes, headers: dict[str, str], expected: object) -> bool:
    answer = httpx.post(url, content=payload, headers=headers, timeout=10)
    if answer.status_code != 200 or answer.json().get("outputs") != expected:
        raise RuntimeError(f"{url} answered {answer.status_code} {answer.text[:300]}")
    return True


def standalone_spec(home: Path, name: str, version: Any, headers: dict[str, str]) -> Path:
    """The spec the control plane would serve for `name`, as a file for a replica of its own."""
    from modelyard.serving.spec import EndpointSpec, Feature, VariantSpec, key_hash

    variant = VariantSpec(
        name="a",
        mode="live",
        weight=100,
        model_name=MODEL,
        model_version=version.version,
        flavor=version.flavor,
        model_dir=str(home / "serving" / "models" / version.sha256),  # written by the start
        model_sha256=version.sha256,
        signature=tuple(Feature(**f) for f in version.signature),
        batching=False,
    )
    spec = EndpointSpec.build(
        endpoint_id=999,
        project=PROJECT,
        name=name,
        public=False,
        key_hashes=(key_hash(headers["Authorization"].removeprefix("Bearer ")),),
        variants=(variant,),
    )
    path = home / f"{name}-spec.json"
    path.write_text(json.dumps(spec.to_json()))
    return path


def bench_modelyard(wrk: Wrk, scratch: Path, data: Data) -> tuple[list[Result], dict[str, Any]]:
    """A real control plane, the model registered through the SDK, endpoints started through
    the REST API; the pool's own port is loaded, then the control plane's /serve URL."""
    import modelyard

    results: list[Result] = []
    facts: dict[str, Any] = {}
    one, hundred = body(data.record), body(data.batch)

    def split(load: Load) -> str:
        per = 1e6 / load.rps if load.rps else 0.0
        return (
            f"CPU: control plane {load.root_cpu:.0%} of a core ({load.root_cpu * per:.0f} µs/req), "
            f"replica {load.server_cpu - load.root_cpu:.0%} "
            f"({(load.server_cpu - load.root_cpu) * per:.0f} µs/req)"
        )

    cpu = None if wrk.args.no_pin else wrk.args.server_cpu
    with modelyard_server(wrk, scratch) as (server, url):
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD, "name": "bench"},
        ).json()["token"]
        client = modelyard.connect(url, token)
        client.projects.create(PROJECT, "Serving benchmark")
        version = client.models.register(PROJECT, MODEL, data.model, input_example=data.record)
        api = Endpoints(url, token)

        console.print("modelyard, batching off ...")
        headers = api.create("plain", version.version, batching=False)
        pool, facts["deploy_to_first_answer_s"] = api.start("plain", one, headers)
        facts["replica_rss_mib_idle"] = rss_mib(api.replica_pids("plain", cpu))
        check(pool, one, headers, data.expected)
        load = wrk.run(pool, one, server, headers)
        rss = rss_mib(api.replica_pids("plain", cpu))
        results.append(result("modelyard", MODELYARD_PLAIN, load, rss_mib=rss, note=split(load)))
        check(pool, hundred, headers, data.expected_batch)
        load = wrk.run(pool, hundred, server, headers)
        results.append(
            result("batch", "modelyard replica, 100 records", load, records=100, note=split(load))
        )
        console.print("modelyard through the control plane ...")
        gateway = f"{url}/serve/{PROJECT}/plain/predict"
        load = wrk.run(gateway, one, server, headers)
        note = f"the control plane forwards to the pool, both on one core; {split(load)}"
        results.append(result("modelyard", "modelyard via control plane /serve", load, note=note))
        facts["replica_rss_mib_after_load"] = rss_mib(api.replica_pids("plain", cpu))
        api.call("POST", "/plain/stop")

        # The replica offers no switch for telemetry and prediction logs. Standalone, on a
        # spec file, it still records them and builds the report every second, then drops
        # it: what is left out is sending it and the control plane storing it.
        console.print("modelyard replica standalone (reports dropped) ...")
        port = free_port()
        argv = [sys.executable, "-m", "modelyard.serving.replica", "--port", str(port)]
        argv += [
            "--spec-file",
            str(standalone_spec(scratch / "modelyard-home", "plain", version, headers)),
        ]
        alone = Server(wrk.pinned(argv, wrk.args.server_cpu), {**os.environ}, scratch / "alone.log")
        try:
            pool = f"http://127.0.0.1:{port}/serve/{PROJECT}/plain/predict"
            alone.wait_until(partial(check, pool, one, headers, data.expected))
            load = wrk.run(pool, one, alone, headers)
            note = "telemetry recorded, then dropped: not sent nor stored (no switch turns it off)"
            results.append(result("modelyard", MODELYARD_ALONE, load, alone, note=note))
        finally:
            alone.stop()

        console.print("modelyard, batching on ...")
        headers = api.create("batched", version.version, batching=True)
        pool, facts["deploy_to_first_answer_batched_s"] = api.start("batched", one, headers)
        check(pool, one, headers, data.expected)
        load = wrk.run(pool, one, server, headers)
        rss = rss_mib(api.replica_pids("batched", cpu))
        results.append(result("modelyard", MODELYARD_BATCHED, load, rss_mib=rss, note=split(load)))
        api.call("POST", "/batched/stop")
    return results, facts


# --- report ----------------------------------------------------------------------------------

GROUPS = ("ceiling", "bar", "peers", "modelyard", "batch", "stack")


def verdict(met: bool, wanted: str) -> str:
    return f"{'OK' if met else 'MISS'}: {wanted}"


def throughput_ratio(a: Result, b: Result) -> tuple[float, str]:
    """a's req/s over b's; by server CPU per request when either run was disturbed (both
    servers are bound by their one core, so req/s goes as 1 / CPU per request)."""
    if max(a.other_cpu, b.other_cpu) >= NOISY and a.cpu_us and b.cpu_us:
        return b.cpu_us / a.cpu_us, " by CPU/req"
    return a.rps / b.rps, ""


def judge(results: list[Result], facts: dict[str, Any]) -> list[str]:
    """Fill in % of bar and issue 6's goals; answers the goals that are not rows."""
    by_name = {r.name: r for r in results}
    bar = by_name.get(BAR)
    for r in results:
        if bar and r.records == 1:
            r.pct_of_bar = 100 * r.rps / bar.rps
    plain, alone = by_name.get(MODELYARD_PLAIN), by_name.get(MODELYARD_ALONE)
    batched = by_name.get(MODELYARD_BATCHED)
    lines = []
    if plain and bar:
        share, how = throughput_ratio(plain, bar)
        plain.goal = verdict(
            share >= 0.9 and plain.p99_ms < 10, f"{share:.0%} of bar{how} (>= 90%), p99 < 10 ms"
        )
        lines.append(
            f"server CPU per request: modelyard batching off {plain.cpu_us:.0f} µs (control plane "
            f"included), the bar {bar.cpu_us:.0f} µs"
        )
    if batched:
        batched.goal = verdict(
            batched.rps >= 10_000 and batched.p99_ms < 10, ">= 10,000/s, p99 < 10 ms"
        )
    if plain and alone:
        share, how = throughput_ratio(plain, alone)
        alone.goal = verdict(share > 0.9, f"sending reports costs {1 - share:.0%}{how} (< 10%)")
    for key, label in (
        ("deploy_to_first_answer_s", "deploy to first answer (batching off)"),
        ("deploy_to_first_answer_batched_s", "deploy to first answer (batching on)"),
    ):
        if key in facts:
            lines.append(verdict(facts[key] < 3, f"{label}: {facts[key]:.2f} s (< 3 s)"))
    for key, label in (
        ("replica_rss_mib_idle", "replica RSS before load"),
        ("replica_rss_mib_after_load", "replica RSS after load"),
    ):
        if key in facts:
            lines.append(verdict(facts[key] < 200, f"{label}: {facts[key]:.0f} MiB (< 200 MiB)"))
    return lines


def report(
    results: list[Result], costs: dict[str, float], facts: dict[str, Any], skipped: list[str]
) -> list[str]:
    goals = judge(results, facts)
    results = sorted(results, key=lambda r: GROUPS.index(r.group))
    table = Table(
        title="single-record JSON predictions, 16 connections (batch rows: 100 records)",
        caption="server/other CPU: cores used while timed by the server's processes / by anything "
        "else (steal included) but wrk and this script",
    )
    columns = (
        "contestant",
        "req/s",
        "p50 ms",
        "p99 ms",
        "% of bar",
        "RSS MiB",
        "server CPU",
        "CPU µs/req",
        "other CPU",
        "goal",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("contestant", "goal") else "right")
    group = ""
    for r in results:
        if group and r.group != group:
            table.add_section()
        group = r.group
        name = r.name + (f" ({r.rps * r.records:,.0f} records/s)" if r.records > 1 else "")
        table.add_row(
            name + (" [red]FAILED REQUESTS[/red]" if r.errors or not r.rps else ""),
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.pct_of_bar:.0f}%" if r.pct_of_bar is not None else "",
            f"{r.rss_mib:.0f}" if r.rss_mib is not None else "",
            f"{r.server_cpu:.0%}",
            f"{r.cpu_us:,.0f}",
            f"{r.other_cpu:.0%}" if r.other_cpu < NOISY else f"[yellow]{r.other_cpu:.0%}[/yellow]",
            r.goal,
        )
    console.print(table)
    for r in results:
        if r.note:
            console.print(f"{r.name}: {r.note}")
    cost_table = Table(title="per-call costs in one process (best of 5)")
    cost_table.add_column("call")
    cost_table.add_column("µs", justify="right")
    for name, micros in costs.items():
        cost_table.add_row(name, f"{micros:.1f}")
    console.print(cost_table)
    for line in goals:
        console.print(line)
    for key, value in facts.items():
        if not key.endswith(("_s", "_mib", "_after_load", "_idle")):
            console.print(f"{key}: {value}")
    for reason in skipped:
        console.print(f"[yellow]skipped:[/yellow] {reason}")
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds timed per contestant")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before timing")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--no-pin", action="store_true", help="no taskset (fewer than 2 cores)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each contestant, wait up to this many seconds for other processes to idle",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="redo a run in which other processes took over 10%% of a core (the least "
        "disturbed run is kept)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=PARTS,
        help="leave a part out (repeatable); the bar is in `peers`",
    )
    args = parser.parse_args()

    missing = [tool for tool in ("wrk", "taskset") if not shutil.which(tool)]
    if args.no_pin:
        missing = [tool for tool in missing if tool != "taskset"]
    if missing:
        raise SystemExit(
            f"{' and '.join(missing)} not found: install with `apt-get install -y wrk` "
            "(Debian/Ubuntu; taskset is in util-linux), or `brew install wrk` and pass --no-pin"
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    started = datetime.now(UTC)
    console.print(f"machine: {machine_note()}")
    for line in busy_processes():
        console.print(f"[yellow]WARNING: busy process while benchmarking:[/yellow] {line}")

    results: list[Result] = []
    facts: dict[str, Any] = {}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-serving-") as folder:
        scratch = Path(folder)
        try:
            data = make_data(scratch)
            wrk = Wrk(args, scratch)
            costs = per_call_costs(data)
            skipped += [f"{part} (--skip {part})" for part in args.skip]
            if "peers" not in args.skip:
                results += bench_python_servers(wrk, scratch, data)
            python, why = (None, "") if "mlflow" in args.skip else mlflow_python()
            if python is not None:
                facts["mlflow --workers"] = mlflow_default_workers(python)
                try:
                    found, facts["mlflow processes"] = bench_mlflow(wrk, scratch, data, python)
                    results += found
                except RuntimeError as exc:
                    skipped.append(f"mlflow models serve: {exc}")
            elif why:
                skipped.append(f"mlflow models serve: {why}")
            if "modelyard" not in args.skip:
                try:
                    found, more = bench_modelyard(wrk, scratch, data)
                    results += found
                    facts |= more
                except (RuntimeError, httpx.HTTPError, KeyError) as exc:
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    skipped.append(
                        f"modelyard: {type(exc).__name__} at line {where.lineno}: {str(exc)[:600]}"
                    )
            if "stack" not in args.skip:
                results += bench_stack(wrk, scratch, data)
        finally:
            for server in list(Server.running):
                server.stop()

    console.print(
        f"\n{started:%Y-%m-%d %H:%M} UTC  machine: {machine_note()}; server on core "
        f"{args.server_cpu}, wrk -t1 -c{args.connections} on core {args.client_cpu}, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s"
    )
    goals = report(results, costs, facts, skipped)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": started.isoformat(),
                    "machine": machine_note(),
                    "method": {
                        "duration_s": args.duration,
                        "warmup_s": args.warmup,
                        "connections": args.connections,
                        "pinned": not args.no_pin,
                    },
                    "results": [{**asdict(r), "cpu_us_per_request": r.cpu_us} for r in results],
                    "per_call_us": costs,
                    "facts": facts,
                    "goals": goals,
                    "skipped": skipped,
                },
                indent=2,
            )
        )
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
