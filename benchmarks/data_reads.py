"""Benchmark: dataset reads through modelyard vs pandas.read_sql, and profiling.

Creates a 1,000,000-row x 10-column table in the local PostgreSQL (database
`modelyard_bench`, made once; `--rebuild` remakes it), starts a real `modelyard up` on a
loopback port with a throwaway home, registers the table as a dataset, then times, side by
side in this one run:

- pandas.read_sql over SQLAlchemy + psycopg, reading the table directly (the baseline);
- modelyard.dataset(...).to_pandas() and .to_arrow(): SDK -> server -> ADBC -> Arrow IPC;
- a filtered, projected read (pushed down to PostgreSQL);
- the server-side profile end to end (read + profile), and the profile computation alone.

    .venv/bin/python benchmarks/data_reads.py [--rows 1000000] [--repeat 3]
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
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

import modelyard

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
DB = "modelyard_bench"
ADMIN_PASSWORD = "benchmark-admin-pass"


def make_table(rows: int, rebuild: bool) -> None:
    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB}
        ).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    admin.dispose()
    engine = sa.create_engine(f"{PG}/{DB}")
    with engine.begin() as conn:
        have = conn.execute(sa.text("SELECT to_regclass('public.wide')")).scalar()
        count = conn.execute(sa.text("SELECT count(*) FROM wide")).scalar() if have else 0
        if rebuild or count != rows:
            print(f"creating public.wide with {rows:,} rows ...", flush=True)
            conn.execute(sa.text("DROP TABLE IF EXISTS wide"))
            conn.execute(
                sa.text(f"""
                CREATE TABLE wide AS
                SELECT g AS id,
                       (random() * 100)::int AS age,
                       random() AS score,
                       random() * 1000 AS amount,
                       md5(g::text) AS token,
                       (ARRAY['DE','FR','NL','ES','IT'])[1 + g % 5] AS country,
                       timestamp '2026-01-01' + (g || ' seconds')::interval AS seen_at,
                       random() > 0.5 AS active,
                       (random() * 1e6)::bigint AS visits,
                       random()::real AS ratio
                FROM generate_series(1, {rows}) AS g""")
            )
            conn.execute(sa.text("ANALYZE wide"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MODELYARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "up", "--home", str(home), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("modelyard did not start")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def line(name: str, samples: list[float]) -> str:
    return f"{name:<58} best {min(samples):6.3f} s   median {statistics.median(samples):6.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    make_table(args.rows, args.rebuild)

    with tempfile.TemporaryDirectory() as home:
        process, url = start_server(Path(home))
        try:
            login = httpx.post(
                f"{url}/api/v1/auth/token",
                json={"username": "admin", "password": ADMIN_PASSWORD, "name": "bench"},
            )
            login.raise_for_status()
            client = modelyard.connect(url, login.json()["token"])
            client.connections.create(
                "bench", "postgresql", {"host": "127.0.0.1", "database": DB, "user": "postgres"}
            )
            client.datasets.create("wide", "bench", table="public.wide")
            handle = modelyard.dataset("wide", client=client)

            engine = sa.create_engine(f"{PG}/{DB}")
            results = {}
            results["pandas"] = timed(
                lambda: pd.read_sql("SELECT * FROM wide", engine), args.repeat
            )
            results["sdk_pandas"] = timed(handle.to_pandas, args.repeat)
            results["sdk_arrow"] = timed(handle.to_arrow, args.repeat)
            results["filtered"] = timed(
                lambda: handle.to_pandas(
                    columns=["id", "age", "country"],
                    filter=[["age", ">=", 90], ["country", "in", ["DE", "FR"]]],
                ),
                args.repeat,
            )
            results["profile"] = timed(lambda: handle.profile(refresh=True), args.repeat)
            engine.dispose()

            from modelyard.data.profiles import compute

            table = handle.to_arrow()
            results["profile_compute"] = timed(lambda: compute(table), args.repeat)
            frame_rows = len(handle.to_pandas(limit=10))
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"\n{args.rows:,} rows x 10 columns from PostgreSQL 127.0.0.1:5432 ({args.repeat} runs each)"
    )
    print(line("pandas.read_sql over SQLAlchemy/psycopg (baseline)", results["pandas"]))
    print(line("modelyard.dataset().to_pandas()  (SDK -> server -> ADBC)", results["sdk_pandas"]))
    print(line("modelyard.dataset().to_arrow()", results["sdk_arrow"]))
    print(line("filtered + 3 columns, pushed down (to_pandas)", results["filtered"]))
    print(line("server profile, end to end (read + profile)", results["profile"]))
    print(line("profile computation alone (DuckDB over Arrow)", results["profile_compute"]))
    speedup = statistics.median(results["pandas"]) / statistics.median(results["sdk_pandas"])
    print(
        f"\nspeed-up of to_pandas() over pandas.read_sql (medians): {speedup:.1f}x  (budget: >= 3x)"
    )
    assert frame_rows == 10


if __name__ == "__main__":
    main()
