"""Benchmark: git push/clone over HTTP and cross-project code search.

Starts a real `modelyard up` on a loopback port with a throwaway home, creates N projects of
M Python files each, pushes them with the real git client, then times clones and searches.

    .venv/bin/python benchmarks/code_hosting.py --projects 20 --files 200
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ADMIN_PASSWORD = "benchmark-admin-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@x", "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def source_file(project: int, index: int) -> str:
    lines = [f'"""Module {index} of project {project}."""', "", "import math", ""]
    for fn in range(12):
        lines += [f"def compute_{project}_{index}_{fn}(x, y):",
                  f"    total = math.sqrt(x * {fn} + y) + {index}",
                  "    return total * 2", ""]
    if index == 7:
        lines += ["def train_model(features, labels):", "    return None", ""]
    return "\n".join(lines)


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:<38} n={len(samples):<3} median {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as scratch:
        root = Path(scratch)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
        server = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "up", "--port", str(port), "--home", str(root / "home")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(f"{url}/api/v1/auth/token",
                               json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            remote = f"http://admin:{token}@127.0.0.1:{port}/git"

            push_ms = []
            for p in range(args.projects):
                slug = f"bench-{p:02d}"
                http.post("/api/v1/projects", json={"slug": slug, "name": slug}).raise_for_status()
                work = root / slug
                (work / "src").mkdir(parents=True)
                for i in range(args.files):
                    (work / "src" / f"module_{i:03d}.py").write_text(source_file(p, i))
                git(work, "init", "-q", "-b", "main")
                git(work, "add", "-A")
                git(work, "commit", "-q", "-m", "initial")
                start = time.perf_counter()
                git(work, "push", "-q", f"{remote}/{slug}.git", "main")
                push_ms.append((time.perf_counter() - start) * 1000)

            clone_target = root / "clones"
            clone_target.mkdir()
            counter = iter(range(10_000))
            clone_ms = timed(lambda: git(clone_target, "clone", "-q", f"{remote}/bench-00.git",
                                         f"c{next(counter)}"), args.repeat)

            def search(q: str, regex: bool = False) -> None:
                response = http.get("/api/v1/code/search", params={"q": q, "regex": regex})
                response.raise_for_status()
                assert response.json()["projects_searched"] == args.projects

            found = http.get("/api/v1/code/search", params={"q": "def train_model"}).json()
            assert len(found["items"]) == args.projects, found
            text_ms = timed(lambda: search("def train_model"), args.repeat)
            regex_ms = timed(lambda: search(r"def compute_\d+_7_1\(", True), args.repeat)
            miss_ms = timed(lambda: search("no such function anywhere"), args.repeat)

            total_files = args.projects * args.files
            print(f"{args.projects} projects x {args.files} files = {total_files} files")
            print(summary("push (one project, first push)", push_ms))
            print(summary("clone one project over HTTP", clone_ms))
            print(summary("search text across all projects", text_ms))
            print(summary("search regex across all projects", regex_ms))
            print(summary("search with no match", miss_ms))
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
