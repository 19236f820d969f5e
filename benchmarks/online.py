"""Online learning's budgets, measured on a real `modelyard up` (see issue 7):

- feedback ingest: labels/s through `POST /serve/{p}/{e}/feedback` (batches of 1,000 from one
  and from two clients; single-label requests from 8 threads for reference). Goal >= 5,000/s.
- the learner: examples/s a real learner process takes from the feedback stream (fetch,
  prequential predict + score + ADWIN, learn_one, publish), side by side with River's
  `learn_one` (and `predict_one` + `learn_one`) called directly on the same model and stream.
  Goal: >= 80% of the direct `learn_one` loop.
- update visibility: seconds from a label's acknowledgement to the replicas answering with a
  state that learned it (an online linear regression, whose output moves with every step).
  Goal: < 5 s.

    python benchmarks/online.py [--database postgresql://postgres@127.0.0.1:5432/DB] [--labels N]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from river import compose, linear_model, optim, preprocessing

ADMIN_PASSWORD = "bench-admin-password-1"
PROJECT = "bench"
FEATURES = [f"x{i}" for i in range(10)]
SIGNATURE = [{"name": n, "type": "number"} for n in FEATURES]


def classifier() -> Any:
    return compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(optim.SGD(0.05))
    )


def regressor() -> Any:
    return compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LinearRegression(optim.SGD(0.01))
    )


def stream(n: int, seed: int = 3) -> list[tuple[dict[str, float], bool]]:
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in FEATURES]
    out = []
    for _ in range(n):
        x = {f: round(rng.gauss(0, 1), 6) for f in FEATURES}
        out.append((x, sum(w * x[f] for w, f in zip(weights, FEATURES, strict=True)) > 0))
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Plane:
    def __init__(self, home: Path, database: str | None, score: str = "prequential") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MODELYARD_ONLINE_PUBLISH_SECONDS": "1",
            "MODELYARD_ONLINE_SCORE": score,
        }
        argv = [sys.executable, "-m", "modelyard", "up", "--home", str(home)]
        argv += ["--port", str(self.port)]
        if database:
            env["MODELYARD_DATABASE_URL"] = database
        self.log = home.parent / "modelyard.log"
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                argv, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(self.log.read_text()[-2000:])
        token = httpx.post(
            f"{self.url}/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD, "name": "bench"},
        ).json()["token"]
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def call(self, method: str, path: str, **kw: Any) -> Any:
        answer = self.http.request(method, path, **kw)
        if not answer.is_success:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:400]}")
        return answer.json() if answer.content else None

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


class Endpoint:
    def __init__(self, plane: Plane, name: str, model: Any) -> None:
        self.plane, self.name = plane, name
        self.base = f"/api/v1/projects/{PROJECT}/endpoints/{name}"
        meta = {"flavor": "river", "signature": SIGNATURE}
        version = plane.call(
            "POST",
            f"/api/v1/projects/{PROJECT}/models/{name}/versions",
            content=pickle.dumps(model),
            headers={"X-Modelyard-Version": json.dumps(meta)},
        )["version"]
        plane.call(
            "POST",
            f"{self.base}/deploy",
            json={"model": name, "version": str(version), "variant": "online"},
        )
        token = plane.call("POST", f"{self.base}/keys", json={"name": "bench"})["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while plane.call("GET", self.base)["status"] != "running":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.2)
        port = plane.call("GET", self.base)["port"]
        self.pool = f"http://127.0.0.1:{port}/serve/{PROJECT}/{name}"
        self.serve = f"{plane.url}/serve/{PROJECT}/{name}"
        self.client = httpx.Client(headers=self.headers, timeout=120)

    def predict(self, records: list[dict[str, float]]) -> dict[str, Any]:
        answer = self.client.post(f"{self.pool}/predict", json={"inputs": records})
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def feedback(self, labels: list[dict[str, Any]], client: httpx.Client | None = None) -> None:
        answer = (client or self.client).post(f"{self.serve}/feedback", json=labels)
        if answer.status_code != 200:
            raise RuntimeError(f"feedback: {answer.status_code} {answer.text[:300]}")

    def learner(self) -> dict[str, Any]:
        found: dict[str, Any] = self.plane.call("GET", f"{self.base}/learners")["learners"][0]
        return found


def log_predictions(endpoint: Endpoint, events: list[tuple[dict[str, float], bool]]) -> list[str]:
    """Predict every record (1,000 a request, paced so replica logs are never dropped) and
    wait until the control plane has every log."""
    ids: list[str] = []
    for start in range(0, len(events), 1000):
        ids += endpoint.predict([x for x, _ in events[start : start + 1000]])["prediction_ids"]
        time.sleep(0.15)  # replicas buffer ~20,000 logs between their once-a-second reports
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = endpoint.client.post(
            f"{endpoint.serve}/feedback", json={"prediction_id": ids[-1], "label": events[-1][1]}
        )
        if answer.status_code == 200:  # the newest log is in; label it again later: duplicate
            return ids
        time.sleep(0.5)
    raise RuntimeError("prediction logs did not arrive")


def bench_ingest(endpoint: Endpoint, ids: list[str], labels: list[bool]) -> dict[str, float]:
    pairs = [{"prediction_id": p, "label": y} for p, y in zip(ids, labels, strict=True)]
    chunks = [pairs[i : i + 1000] for i in range(0, len(pairs) - 1, 1000)]
    half = len(chunks) // 2
    results: dict[str, float] = {}
    started = time.perf_counter()
    for chunk in chunks[:half]:
        endpoint.feedback(chunk)
    results["batches of 1,000, 1 client"] = half * 1000 / (time.perf_counter() - started)
    clients = [httpx.Client(headers=endpoint.headers, timeout=120) for _ in range(2)]
    rest = chunks[half:]
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: endpoint.feedback(rest[i], clients[i % 2]), range(len(rest))))
    results["batches of 1,000, 2 clients"] = len(rest) * 1000 / (time.perf_counter() - started)
    return results


def bench_single(endpoint: Endpoint, ids: list[str], labels: list[bool]) -> float:
    """Single-label requests, 8 threads (labels already stored answer as duplicates)."""
    local = threading.local()

    def send(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers=endpoint.headers, timeout=60)
        endpoint.feedback([{"prediction_id": ids[i], "label": labels[i]}], local.client)

    count = min(3000, len(ids))
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(count)))
    return count / (time.perf_counter() - started)


def bench_learner(endpoint: Endpoint) -> tuple[float, dict[str, Any]]:
    """Resume the paused learner with every label waiting; examples/s while it catches up,
    between its publications (each stamps a cursor with its time; the last one, after it
    reached the stream's head, is left out: it may include idle time)."""
    endpoint.plane.call("POST", f"{endpoint.base}/learners/online/resume")
    points: list[tuple[float, int]] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        learner = endpoint.learner()
        stamp = learner["published_at"]
        if stamp and (not points or learner["cursor"] != points[-1][1]):
            at = datetime.fromisoformat(stamp).timestamp()
            if learner["cursor"] >= learner["head"]:
                busy = [p for p in points if p[1] < learner["head"]]
                if len(busy) < 2:
                    raise RuntimeError("too few publications: use more --labels")
                (t0, c0), (t1, c1) = busy[0], busy[-1]
                return (c1 - c0) / (t1 - t0), learner
            points.append((at, learner["cursor"]))
        time.sleep(0.02)
    raise RuntimeError("the learner did not catch up")


def direct_rates(events: list[tuple[dict[str, float], bool]]) -> dict[str, float]:
    model = classifier()
    started = time.perf_counter()
    for x, y in events:
        model.learn_one(x, y)
    learn = len(events) / (time.perf_counter() - started)
    model = classifier()
    started = time.perf_counter()
    for x, y in events:
        model.predict_one(x)
        model.learn_one(x, y)
    both = len(events) / (time.perf_counter() - started)
    return {"learn_one": learn, "predict_one + learn_one": both}


def bench_visibility(plane: Plane, trials: int = 5) -> list[float]:
    endpoint = Endpoint(plane, "visible", regressor())
    probe = {f: 0.5 for f in FEATURES}
    seconds = []
    rng = random.Random(1)
    for _ in range(trials):
        before = endpoint.predict([probe])["outputs"][0]
        record = {f: rng.gauss(0, 1) for f in FEATURES}
        answer = endpoint.predict([record])
        deadline = time.monotonic() + 5
        while True:  # the prediction's log must be in before it can be labelled
            reply = endpoint.client.post(
                f"{endpoint.serve}/feedback",
                json={"prediction_id": answer["prediction_ids"][0], "label": 100.0},
            )
            if reply.status_code == 200 or time.monotonic() > deadline:
                break
        acknowledged = time.perf_counter()
        while endpoint.predict([probe])["outputs"][0] == before:
            if time.perf_counter() - acknowledged > 30:
                raise RuntimeError("the learned update never reached the replicas")
            time.sleep(0.02)
        seconds.append(time.perf_counter() - acknowledged)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="metadata store URL (default: embedded SQLite)")
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument(
        "--score",
        choices=["prequential", "served"],
        default="prequential",
        help="what the learner scores (MODELYARD_ONLINE_SCORE)",
    )
    args = parser.parse_args()
    events = stream(args.labels)
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-online-") as scratch:
        plane = Plane(Path(scratch) / "home", args.database, args.score)
        try:
            plane.call("POST", "/api/v1/projects", json={"slug": PROJECT, "name": "Bench"})
            endpoint = Endpoint(plane, "stream", classifier())
            deadline = time.monotonic() + 30
            while not plane.call("GET", f"{endpoint.base}/learners")["learners"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("no learner")
                time.sleep(0.2)
            plane.call("POST", f"{endpoint.base}/learners/online/pause")
            print(f"logging {len(events)} predictions ...", flush=True)
            ids = log_predictions(endpoint, events)
            labels = [y for _, y in events]
            ingest = bench_ingest(endpoint, ids, labels)
            single = bench_single(endpoint, ids, labels)
            learner_rate, learner = bench_learner(endpoint)
            direct = direct_rates(events)
            visibility = bench_visibility(plane)
        finally:
            plane.stop()
    store = "PostgreSQL" if args.database else "SQLite"
    print(
        f"\nmetadata store: {store}; {len(events)} labelled examples, 10 float features; "
        f"learner scores: {args.score}"
    )
    print("feedback ingest (labels/s, goal >= 5,000):")
    for name, rate in ingest.items():
        print(f"  {name:32s} {rate:10,.0f}")
    print(f"  {'single-label requests, 8 threads':32s} {single:10,.0f}")
    print("learner (examples/s):")
    print(f"  {'modelyard learner process':32s} {learner_rate:10,.0f}")
    for name, rate in direct.items():
        print(f"  {'River ' + name + ' directly':32s} {rate:10,.0f}")
    ratio = learner_rate / direct["learn_one"]
    print(f"  learner / direct learn_one = {ratio:.0%} (goal >= 80%)")
    print(
        f"  learner / direct predict_one + learn_one = {learner_rate / direct['predict_one + learn_one']:.0%}"
    )
    print(f"  learned {learner['learned']}, prequential {learner['prequential']}")
    print(
        f"update visible in predictions (s, goal < 5): median {statistics.median(visibility):.2f}, "
        f"max {max(visibility):.2f} over {len(visibility)} trials"
    )


if __name__ == "__main__":
    main()
