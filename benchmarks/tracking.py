"""Benchmark: experiment tracking against issue 5's budgets, side by side with MLflow.

Budgets: 100,000 metric points from the SDK stored on a local server in under 5 s end to
end; a project with 10,000 runs listed (paged and sorted server-side) and its runs page
rendered in under 0.5 s. Every server is a separate process on a loopback port, one at a time:

- `modelyard up` with SQLite, then with PostgreSQL (database `modelyard_bench_tracking`,
  made and dropped here), home in a temp folder;
- `mlflow server --workers 1` with SQLite, then PostgreSQL (`modelyard_bench_tracking_mlflow`),
  driven by MLflow's own client in MLflow's own interpreter: `MLFLOW_PYTHON`, else a venv this
  script makes once under ~/.cache/modelyard-bench (`pip install mlflow psycopg2-binary`).
  When neither works the comparison is skipped with the reason.

What is timed, per store:
- 100k points of one key: modelyard `run.log_metric` loop until the `with` block is left
  (buffer, background batches of 10k, flush, run end) vs MLflow `log_batch` in 1,000-point
  batches (its maximum) + `set_terminated`, and vs the plain `mlflow.log_metric` loop, measured
  on a smaller count and extrapolated (labelled). The stored count is checked on each server.
  MLflow's 100k takes 20+ s, so it runs once by default (`--mlflow-repeat`).
- 200 small runs (3 params, 3 metrics, end) through each SDK, per run.
- 10,000 runs with 3 params and 3 metrics each, seeded by direct inserts into each server's
  database through its own SQLAlchemy tables (then ANALYZE on PostgreSQL), so seeding is not
  timed; then 50-run pages over HTTP: newest first, by `metrics.x desc`, filtered
  `metrics.x > 0.5`, vs MLflow `search_runs` with the same order/filter; and modelyard's portal
  page `/projects/{p}/runs?order=metrics.x desc` with a session cookie. A query slower than
  1 s is timed fewer times (at least 3, stopping after 20 s); the table shows n then.

    .venv/bin/python benchmarks/tracking.py [--points 100000] [--runs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

import modelyard

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB = "modelyard_bench_tracking"
MLFLOW_DB = "modelyard_bench_tracking_mlflow"
ADMIN_PASSWORD = "benchmark-admin-pass"
PARAMS = {"lr": ("0.1", "0.01", "0.001"), "depth": ("3", "5", "8"), "model": ("lr", "gbm", "rf")}
METRICS = ("x", "auc", "loss")
CAP_SECONDS = 20  # a query slower than 1 s is timed fewer times (at least 3)
MLFLOW_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelyard-bench"

# Runs in MLflow's interpreter: argv[1] is a JSON job, argv[2] the file for the JSON answer.
MLFLOW_SIDE = r"""
import json, random, sys, time, uuid
import mlflow, sqlalchemy as sa
from mlflow.entities import Metric, Param
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
from mlflow.tracking import MlflowClient

job = json.loads(sys.argv[1])
client, out = MlflowClient(job["url"]), {"version": mlflow.__version__}
mlflow.set_tracking_uri(job["url"])
engine = sa.create_engine(job["backend"])
points, now = job["points"], lambda: int(time.time() * 1000)

def stored(run_id):
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM metrics WHERE run_uuid = :r"), {"r": run_id})

exp = client.create_experiment("logging")
out["log_batch"], out["log_batch_stored"] = [], []
for _ in range(job["mlflow_repeat"]):
    run_id = client.create_run(exp, run_name="points").info.run_id
    start = time.perf_counter()
    for first in range(0, points, 1000):
        at = now()
        client.log_batch(run_id, metrics=[Metric("loss", 1 / (s + 1), at, s)
                                          for s in range(first, min(points, first + 1000))])
    client.set_terminated(run_id)
    out["log_batch"].append(time.perf_counter() - start)
    out["log_batch_stored"].append(stored(run_id))

with mlflow.start_run(experiment_id=exp) as run:
    start = time.perf_counter()
    for step in range(job["naive_points"]):
        mlflow.log_metric("loss", 1 / (step + 1), step=step)
out["naive"] = [time.perf_counter() - start]
out["naive_stored"] = stored(run.info.run_id)

sweep, out["small_runs"] = client.create_experiment("sweep"), []
for i in range(job["small_runs"]):
    start = time.perf_counter()
    run_id = client.create_run(sweep, run_name=f"sweep-{i}").info.run_id
    client.log_batch(run_id, metrics=[Metric(k, random.random(), now(), 0) for k in job["metrics"]],
                     params=[Param(k, random.choice(v)) for k, v in job["params"].items()])
    client.set_terminated(run_id)
    out["small_runs"].append((time.perf_counter() - start) * 1000)

table = client.create_experiment("table")
rng, t0 = random.Random(7), now() - 30 * 86400 * 1000
runs, params, metrics, tags = [], [], [], []
for i in range(job["runs"]):
    rid, started = uuid.uuid4().hex, t0 + i * 60_000
    runs.append({"run_uuid": rid, "name": f"run-{i}", "source_type": "LOCAL", "source_name": "",
                 "entry_point_name": "", "user_id": "bench", "status": "FINISHED",
                 "start_time": started, "end_time": started + 30_000, "source_version": "",
                 "lifecycle_stage": "active", "artifact_uri": f"/tmp/{rid}", "experiment_id": int(table)})
    params += [{"run_uuid": rid, "key": k, "value": rng.choice(v)} for k, v in job["params"].items()]
    values = [{"run_uuid": rid, "key": k, "value": rng.random(), "timestamp": started, "step": 0,
               "is_nan": False} for k in job["metrics"]]
    metrics += values
    tags += [{"run_uuid": rid, "key": "mlflow.runName", "value": f"run-{i}"}]
start = time.perf_counter()
with engine.begin() as conn:
    for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlMetric, metrics),
                        (SqlLatestMetric, metrics), (SqlTag, tags)):
        conn.execute(sa.insert(model.__table__), rows)
if engine.dialect.name == "postgresql":
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
out["seed_seconds"] = time.perf_counter() - start

def timed(fn):
    for _ in range(2):
        fn()
    samples, deadline = [], time.monotonic() + job["cap"]
    while len(samples) < job["requests"] and (len(samples) < 3 or time.monotonic() < deadline):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples

for name, kwargs in job["queries"].items():
    found = client.search_runs([table], max_results=50, **kwargs)
    assert len(found) == 50, (name, len(found))
    out[name] = timed(lambda: client.search_runs([table], max_results=50, **kwargs))
with open(sys.argv[2], "w") as handle:
    json.dump(out, handle)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def timed_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """`repeat` timings in ms after 2 warm-ups, fewer (at least 3) past CAP_SECONDS."""
    for _ in range(2):  # warm caches and connections
        fn()
    samples: list[float] = []
    deadline = time.monotonic() + CAP_SECONDS
    while len(samples) < repeat and (len(samples) < 3 or time.monotonic() < deadline):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


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
    return f"{os.cpu_count()} cores ({model}), load average {' '.join(load)}"


def busy_processes() -> list[str]:
    """Other processes using a lot of CPU right now (sampled over one second by top)."""
    done = subprocess.run(
        ["top", "-b", "-n", "2", "-d", "1", "-w", "200"],
        capture_output=True,
        text=True,
        check=False,
    )
    last = done.stdout.rsplit("PID USER", 1)[-1].splitlines()[1:]
    busy = []
    for line in last:
        fields = line.split(None, 11)
        if (
            len(fields) == 12
            and float(fields[8].replace(",", ".")) >= 20
            and fields[0] != str(os.getpid())
        ):
            busy.append(f"{fields[0]} {fields[8]}% {fields[11][:60]}")
    return busy


def recreate_database(name: str, drop_only: bool = False) -> None:
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


class Server:
    """A server process in its own process group, stopped as a group (MLflow forks uvicorn)."""

    def __init__(self, argv: list[str], env: dict[str, str], health: str, log: Path) -> None:
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                argv, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(health).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{argv[2:4]} did not start: {log.read_text()[-1500:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def seed_modelyard(database_url: str, slug: str, count: int) -> float:
    """Insert `count` finished runs straight into the server's tables; answers the seconds."""
    from modelyard.accounts.tables import UserRow
    from modelyard.db import make_engine
    from modelyard.experiments.tables import LatestMetricRow, MetricRow, ParamRow, RunRow
    from modelyard.projects.tables import ProjectRow

    rng, start = random.Random(7), time.perf_counter()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        project_id = conn.scalar(sa.select(ProjectRow.id).where(ProjectRow.slug == slug))
        user_id = conn.scalar(sa.select(UserRow.id).where(UserRow.username == "admin"))
        first = datetime.now(UTC) - timedelta(days=30)
        runs = [
            {
                "project_id": project_id,
                "name": f"run-{i}",
                "status": "finished",
                "user_id": user_id,
                "source": "local",
                "entrypoint": "train.py",
                "arguments": [],
                "commit": None,
                "dirty": None,
                "error": "",
                "started_at": first + timedelta(minutes=i),
                "ended_at": first + timedelta(minutes=i, seconds=30),
            }
            for i in range(count)
        ]
        insert_runs = sa.insert(RunRow.__table__).returning(
            RunRow.__table__.c.id, sort_by_parameter_order=True
        )
        ids = conn.execute(insert_runs, runs).scalars().all()
        params = [
            {"run_id": i, "key": k, "value": rng.choice(v)} for i in ids for k, v in PARAMS.items()
        ]
        stamp = int(time.time() * 1000)
        points = [
            {"run_id": i, "key": k, "value": rng.random(), "step": 0, "timestamp": stamp}
            for i in ids
            for k in METRICS
        ]
        conn.execute(sa.insert(ParamRow.__table__), params)
        conn.execute(sa.insert(MetricRow.__table__), points)
        conn.execute(sa.insert(LatestMetricRow.__table__), [{**p, "count": 1} for p in points])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - start


def bench_modelyard(store: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    home = scratch / f"modelyard-{store}"
    env = {**os.environ, "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    database_url = f"sqlite:///{home / 'modelyard.db'}"
    if store == "PostgreSQL":
        recreate_database(DB)
        env["MODELYARD_DATABASE_URL"] = database_url = f"{PG}/{DB}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        [sys.executable, "-m", "modelyard", "up", "--home", str(home), "--port", str(port)],
        env,
        f"{url}/healthz",
        scratch / f"modelyard-{store}.log",
    )
    out: dict[str, Any] = {"log": [], "loop": [], "stored": []}
    try:
        token = httpx.post(
            f"{url}/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD, "name": "bench"},
        ).json()["token"]
        client = modelyard.connect(url, token)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        for slug in ("logging", "sweep", "table"):
            http.post("/api/v1/projects", json={"slug": slug, "name": slug}).raise_for_status()

        for _ in range(args.repeat):
            with client.runs.start("logging", "points") as run:
                start = time.perf_counter()
                for step in range(args.points):
                    run.log_metric("loss", 1 / (step + 1), step=step)
                out["loop"].append(time.perf_counter() - start)
            out["log"].append(time.perf_counter() - start)
            latest = http.get(f"/api/v1/runs/{run.id}").json()["latest_metrics"]
            out["stored"].append(sum(m["count"] for m in latest))
        history = http.get(f"/api/v1/runs/{run.id}/metrics/loss").json()
        out["history_steps"] = len(history["steps"])

        out["small_runs"] = []
        for i in range(args.small_runs):
            start = time.perf_counter()
            params = {k: random.choice(v) for k, v in PARAMS.items()}
            with client.runs.start("sweep", f"sweep-{i}", params=params) as run:
                run.log_metrics({k: random.random() for k in METRICS})
            out["small_runs"].append((time.perf_counter() - start) * 1000)

        out["seed_seconds"] = seed_modelyard(database_url, "table", args.runs)
        best = ""
        for name, query in QUERIES.items():
            params = {"limit": 50, "order": query["order"], "filter": query.get("filter", "")}
            page = http.get("/api/v1/projects/table/runs", params=params).json()
            assert len(page["items"]) == 50, page
            best = best or (page["items"][0]["name"] if name == "by_metric" else "")
            assert name == "filter" or page["total"] == args.runs, page["total"]
            out[name] = timed_ms(
                lambda p=params: http.get(
                    "/api/v1/projects/table/runs", params=p
                ).raise_for_status(),
                args.requests,
            )

        portal = httpx.Client(base_url=url, timeout=60)
        portal.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).raise_for_status()
        page_params = {"order": "metrics.x desc"}
        first = portal.get("/projects/table/runs", params=page_params)
        out["page_status"] = status = first.status_code
        if status == 200:
            assert f">{best}<" in first.text, f"the best run {best} is not on the page"
            out["page"] = timed_ms(
                lambda: portal.get("/projects/table/runs", params=page_params).raise_for_status(),
                args.requests,
            )
    finally:
        server.stop()
        if store == "PostgreSQL":
            recreate_database(DB, drop_only=True)
    return out


QUERIES: dict[str, dict[str, str]] = {
    "newest": {"order": "started_at desc"},
    "by_metric": {"order": "metrics.x desc"},
    "filter": {"order": "started_at desc", "filter": "metrics.x > 0.5"},
}
MLFLOW_QUERIES = {
    "newest": {},  # search_runs orders by start_time DESC by default
    "by_metric": {"order_by": ["metrics.x DESC"]},
    "filter": {"filter_string": "metrics.x > 0.5"},
}


def mlflow_python() -> tuple[str | None, str]:
    """A python with mlflow, or None and why not."""
    given = os.environ.get("MLFLOW_PYTHON")
    python = given or str(MLFLOW_CACHE / "mlflow-venv" / "bin" / "python")
    if not given and not Path(python).exists():
        print(f"making {MLFLOW_CACHE / 'mlflow-venv'} with mlflow (once) ...", flush=True)
        try:
            venv.create(MLFLOW_CACHE / "mlflow-venv", with_pip=True)
            subprocess.run(
                [python, "-m", "pip", "install", "-q", "mlflow", "psycopg2-binary"],
                check=True,
                timeout=900,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"could not make a venv with mlflow: {exc}"
    done = subprocess.run(
        [python, "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return (
            None,
            f"{python} cannot import mlflow: {(done.stderr.strip().splitlines() or ['?'])[-1]}",
        )
    return python, done.stdout.strip()


def bench_mlflow(
    python: str, store: str, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    folder = scratch / f"mlflow-{store}"
    folder.mkdir()
    backend = f"sqlite:///{folder / 'mlflow.db'}"
    if store == "PostgreSQL":
        check = subprocess.run([python, "-c", "import psycopg2"], capture_output=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"{python} has no psycopg2 (pip install psycopg2-binary)")
        recreate_database(MLFLOW_DB)
        backend = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{MLFLOW_DB}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        [
            python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend,
            "--default-artifact-root",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        {**os.environ},
        f"{url}/health",
        scratch / f"mlflow-{store}.log",
    )
    job = {
        "url": url,
        "backend": backend,
        "points": args.points,
        "mlflow_repeat": args.mlflow_repeat,
        "cap": CAP_SECONDS,
        "naive_points": args.naive_points,
        "small_runs": args.small_runs,
        "runs": args.runs,
        "requests": args.requests,
        "queries": MLFLOW_QUERIES,
        "params": PARAMS,
        "metrics": METRICS,
    }
    answer = folder / "answer.json"
    try:
        done = subprocess.run(
            [python, "-c", MLFLOW_SIDE, json.dumps(job), str(answer)],
            capture_output=True,
            text=True,
            check=False,
            cwd=folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"MLflow client failed: {done.stderr.strip()[-1500:]}")
        result: dict[str, Any] = json.loads(answer.read_text())
    finally:
        server.stop()
        if store == "PostgreSQL":
            recreate_database(MLFLOW_DB, drop_only=True)
    return result


def report(
    args: argparse.Namespace,
    my: dict[str, dict[str, Any]],
    ml: dict[str, dict[str, Any]],
    skipped: list[str],
) -> None:
    planned = {"log": args.repeat, "loop": args.repeat, "log_batch": args.mlflow_repeat}
    planned |= {"naive": 1, "small_runs": args.small_runs}

    def cell(samples: list[float] | None, unit: str, key: str) -> str:
        if not samples:
            return "-"
        middle, p95 = median_p95(samples)
        shown = f"{middle:.2f} s" if unit == "s" else f"{middle:.1f} / {p95:.1f} ms"
        return shown + (
            "" if len(samples) == planned.get(key, args.requests) else f" n={len(samples)}"
        )

    def ratio(a: list[float] | None, b: list[float] | None) -> str:
        return f"{statistics.median(a) / statistics.median(b):.3f}" if a and b else "-"

    def budget(samples: list[float] | None, limit: float | None, unit: str) -> str:
        if not samples or limit is None:
            return ""
        worst = median_p95(samples)[1 if unit == "ms" else 0]
        return f"{'OK  ' if worst < limit else 'MISS'} < {limit:g} {unit}"

    scale = args.points / args.naive_points
    rows: list[tuple[str, str, str, str, float | None]] = [
        (
            f"{args.points:,} points, end to end (SDK vs log_batch x1000)",
            "log",
            "log_batch",
            "s",
            5,
        ),
        (f"{args.points:,} points vs plain mlflow.log_metric loop*", "log", "naive", "s", 5),
        ("  of which the log_metric loop itself", "loop", "", "s", None),
        ("one small run: 3 params, 3 metrics, end", "small_runs", "small_runs", "ms", None),
        (f"50 of {args.runs:,} runs, newest first", "newest", "newest", "ms", 500),
        (f"50 of {args.runs:,} runs, by metrics.x desc", "by_metric", "by_metric", "ms", 500),
        (f"50 of {args.runs:,} runs, filter metrics.x > 0.5", "filter", "filter", "ms", 500),
        ("portal /projects/p/runs?order=metrics.x desc", "page", "", "ms", 500),
    ]
    print(f"\nmachine: {machine_note()}")
    print(
        f"modelyard {modelyard.__version__}   MLflow {next((r['version'] for r in ml.values()), 'n/a')}"
        f"   (s: median of {args.repeat} runs, MLflow log_batch {args.mlflow_repeat};"
        f"  ms: median / p95 of {args.requests} requests after 2 warm-ups, of"
        f" {args.small_runs} for small runs)"
    )
    head = f"{'figure':<54}{'store':<12}{'modelyard':>26}{'MLflow':>26}{'my/MLflow':>11}   budget"
    print(head + "\n" + "-" * len(head))
    for label, my_key, ml_key, unit, limit in rows:
        for store in ("SQLite", "PostgreSQL"):
            mine = my.get(store, {}).get(my_key)
            theirs = ml.get(store, {}).get(ml_key) if ml_key else None
            if ml_key == "naive":
                if not theirs:
                    continue
                theirs = [t * scale for t in theirs]
            if not mine and not theirs:
                continue
            print(
                f"{label:<54}{store:<12}{cell(mine, unit, my_key):>26}"
                f"{cell(theirs, unit, ml_key):>26}"
                f"{ratio(mine, theirs):>11}   {budget(mine, limit, unit)}"
            )
    if ml:
        print(f"* plain loop measured on {args.naive_points:,} points and scaled by {scale:g}")
    for store, out in my.items():
        print(
            f"modelyard {store}: stored per run {out['stored']}, history {out['history_steps']:,} "
            f"steps; {args.runs:,} runs seeded by direct SQL in {out['seed_seconds']:.1f} s; "
            f"runs page HTTP {out['page_status']}"
            + ("" if out["page_status"] == 200 else " (page missing, not timed)")
        )
    for store, out in ml.items():
        print(
            f"MLflow {store}: stored per run {out['log_batch_stored']} (loop run {out['naive_stored']:,}); "
            f"{args.runs:,} runs seeded by direct SQL in {out['seed_seconds']:.1f} s"
        )
    for reason in skipped:
        print(f"skipped: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the 100k logging")
    parser.add_argument(
        "--mlflow-repeat", type=int, default=1, help="repeats of MLflow's 100k (20+ s each)"
    )
    parser.add_argument("--requests", type=int, default=20, help="timed requests per query")
    parser.add_argument("--naive-points", type=int, default=2_000)
    parser.add_argument("--small-runs", type=int, default=200)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    args = parser.parse_args()

    print(f"machine: {machine_note()}")
    for line in busy_processes():
        print(f"WARNING: busy process while benchmarking: {line}")
    stores = ["SQLite"]
    skipped: list[str] = []
    if args.skip_postgresql:
        skipped.append("PostgreSQL (--skip-postgresql)")
    else:
        try:
            sa.create_engine(f"{PG}/postgres").connect().close()
            stores.append("PostgreSQL")
        except sa.exc.OperationalError as exc:
            skipped.append(f"PostgreSQL at 127.0.0.1:5432 unreachable: {str(exc)[:200]}")
    python, why = (None, "--skip-mlflow") if args.skip_mlflow else mlflow_python()
    if python is None:
        skipped.append(f"MLflow comparison: {why}")

    my: dict[str, dict[str, Any]] = {}
    ml: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-tracking-") as scratch:
        for store in stores:
            print(f"modelyard with {store} ...", flush=True)
            my[store] = bench_modelyard(store, args, Path(scratch))
            if python is not None:
                print(f"MLflow {why} with {store} ...", flush=True)
                try:
                    ml[store] = bench_mlflow(python, store, args, Path(scratch))
                except RuntimeError as exc:
                    skipped.append(f"MLflow with {store}: {exc}")
    report(args, my, ml, skipped)


if __name__ == "__main__":
    main()
