"""One known table, `people`, in every kind of source a connector reads.

Per session: a PostgreSQL and a MariaDB database `modelyard_contract_src_<pid>` (dropped and
made again at start), read by `modelyard_reader_<pid>` with a password; a SQLite file; a DuckDB
file; a local folder with the rows as two Parquet files and as one CSV file; and the same
Parquet and CSV objects in a bucket of a moto S3 server. `case` hands a test each of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import socket
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pymysql
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, text

from modelyard.data.connectors import Connector, Source, open_connector
from tests.conftest import free_port, unavailable
from tests.sources import PostgresSource, postgres_source_database

# Per process: database and login names are server-wide, and a second test run (another
# checkout, another xdist worker) must not drop them under this one.
SOURCE_DB = f"modelyard_contract_src_{os.getpid()}"
READER = f"modelyard_reader_{os.getpid()}"
# Characters a driver URL must encode, so a leak of the encoded form would be caught too.
PG_PASSWORD = "pg:Contract/P@ss%word-3141"
MARIADB_PASSWORD = "maria:Contract/P@ss%word-2718"
S3_SECRET = "s3:Contract/Secret%key-1618"
MARIADB_HOST = os.environ.get("MODELYARD_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("MODELYARD_TEST_MARIADB_PORT", "3306"))
BUCKET = "modelyard-contract"

COLUMNS = ("id", "name", "score", "country", "signup", "seen_at", "active")
QUOTED_NAME = "O'Brien \\ Co"
UNICODE_NAME = "Zoë Ünïcødé 東京 🚀"
# A name that is an injection attempt: a filter on it must match this one row, not all.
INJECTION_NAME = "x' OR '1'='1"
SPECIAL_NAMES = {1: QUOTED_NAME, 2: UNICODE_NAME, 3: 'say "hi", `now`', 4: INJECTION_NAME}
ARROW_SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("name", pa.string()),
        ("score", pa.float64()),
        ("country", pa.string()),
        ("signup", pa.date32()),
        ("seen_at", pa.timestamp("us")),
        ("active", pa.bool_()),
    ]
)


def known_rows() -> list[dict[str, Any]]:
    """200 people: score i/2 or NULL for every seventh, four countries in turn, one signup a
    day from 2024-01-02, seen every 13 hours from 2024-01-01 21:00, every third active."""
    return [
        {
            "id": i,
            "name": SPECIAL_NAMES.get(i, f"person {i}"),
            "score": None if i % 7 == 0 else i * 0.5,
            "country": ("NL", "DE", "FR", "US")[i % 4],
            "signup": dt.date(2024, 1, 1) + dt.timedelta(days=i),
            "seen_at": dt.datetime(2024, 1, 1, 8) + dt.timedelta(hours=13 * i),
            "active": i % 3 == 0,
        }
        for i in range(1, 201)
    ]


KNOWN = known_rows()


def known_table(rows: list[dict[str, Any]] = KNOWN) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)


@dataclass
class Case:
    """One source holding `people`, and how to reach it or miss it."""

    kind: str
    settings: dict[str, Any]
    secrets: dict[str, str]
    source: Source  # the known table
    missing: Source  # a table or file that is not there
    unreachable: dict[str, Any]  # settings that point at nothing
    describes: str  # what test() names
    dates_as_text: bool = False  # SQLite has no date types
    bools_as_integers: bool = False  # SQLite, MySQL: BOOLEAN is an integer
    # for servers: a query that writes through a function, and how many writes happened
    writing_query: str = ""
    writes: Callable[[], int] | None = None
    # for servers: how many sessions the reader has open
    sessions: Callable[[], int] | None = None

    def connector(self, **changes: Any) -> Connector:
        return open_connector(self.kind, {**self.settings, **changes}, self.secrets)


# --- PostgreSQL ------------------------------------------------------------------------


class RefusingPostgres:
    """A server that speaks just enough of the PostgreSQL protocol to ask for a password and
    refuse it, as a server with password auth does (this machine's PostgreSQL trusts every
    local connection, so it cannot refuse a wrong password). Keeps the passwords it got."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.passwords: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            # A client that hangs up early: the test sees what the client says.
            with conn, contextlib.suppress(OSError, struct.error, UnicodeDecodeError):
                self._refuse(conn)

    def _refuse(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        while True:  # SSL and GSS encryption requests are declined, then the startup
            length, code = struct.unpack("!ii", _exactly(conn, 8))
            _exactly(conn, length - 8)
            if code not in (80877103, 80877104):
                break
            conn.sendall(b"N")
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        _exactly(conn, 1)  # 'p'
        (length,) = struct.unpack("!i", _exactly(conn, 4))
        self.passwords.append(_exactly(conn, length - 4).rstrip(b"\0").decode())
        fields = (
            b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "'
            + READER.encode()
            + b'"\0\0'
        )
        conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()


def _exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("the client hung up")
        data += chunk
    return data


@pytest.fixture(scope="session")
def refusing_postgres() -> Iterator[RefusingPostgres]:
    server = RefusingPostgres()
    yield server
    server.close()


def _scalar(engine: Engine, statement: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(statement)).scalar()


@pytest.fixture(scope="session")
def postgresql_case() -> Iterator[Case]:
    with postgres_source_database(SOURCE_DB, READER, PG_PASSWORD) as pg:
        yield from _postgresql_case(pg)


def _postgresql_case(pg: PostgresSource) -> Iterator[Case]:
    server, source = pg.server, pg.source
    with source.connect() as conn:
        conn.execute(
            text(
                "CREATE TABLE people (id integer, name text, score double precision, "
                "country text, signup date, seen_at timestamp, active boolean)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO people VALUES "
                "(:id, :name, :score, :country, :signup, :seen_at, :active)"
            ),
            KNOWN,
        )
        conn.execute(text("CREATE TABLE writes (n integer)"))
        conn.execute(
            text(
                "CREATE FUNCTION bump() RETURNS integer LANGUAGE sql "
                "AS 'INSERT INTO writes VALUES (1) RETURNING n'"
            )
        )
        # The reader may write `writes`: only the read-only session stops bump().
        conn.execute(text(f'GRANT SELECT ON people TO "{READER}"'))
        conn.execute(text(f'GRANT SELECT, INSERT ON writes TO "{READER}"'))

    yield Case(
        kind="postgresql",
        settings={
            "host": pg.host,
            "port": pg.port,
            "database": SOURCE_DB,
            "user": READER,
        },
        secrets={"password": PG_PASSWORD},
        source=Source(table="people"),
        missing=Source(table="no_such_table"),
        unreachable={"port": free_port()},
        describes="PostgreSQL",
        writing_query="SELECT bump() AS n",
        writes=lambda: int(_scalar(source, "SELECT count(*) FROM writes")),
        sessions=lambda: int(
            _scalar(
                server,
                f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{READER}' "
                f"AND datname = '{SOURCE_DB}'",
            )
        ),
    )


# --- MariaDB ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mysql_case() -> Iterator[Case]:
    try:
        root = pymysql.connect(
            host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True
        )
    except pymysql.MySQLError as exc:
        unavailable(f"MariaDB is not reachable at {MARIADB_HOST}:{MARIADB_PORT}: {exc}")

    def run(statement: str, args: Any = None) -> Any:
        with root.cursor() as cursor:
            if isinstance(args, list):
                cursor.executemany(statement, args)
            else:
                cursor.execute(statement, args)
            return cursor.fetchone()

    def drop() -> None:
        run(f"DROP DATABASE IF EXISTS `{SOURCE_DB}`")
        run(f"DROP USER IF EXISTS '{READER}'@'%'")

    drop()
    run(f"CREATE DATABASE `{SOURCE_DB}` CHARACTER SET utf8mb4")
    run(
        f"CREATE TABLE `{SOURCE_DB}`.people (id INT, name VARCHAR(100), score DOUBLE, "
        "country VARCHAR(2), signup DATE, seen_at DATETIME, active BOOLEAN)"
    )
    run(
        f"INSERT INTO `{SOURCE_DB}`.people VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [tuple(row[c] for c in COLUMNS) for row in KNOWN],
    )
    run(f"CREATE TABLE `{SOURCE_DB}`.writes (n INT)")
    run(
        f"CREATE FUNCTION `{SOURCE_DB}`.bump() RETURNS INT MODIFIES SQL DATA "
        f"BEGIN INSERT INTO `{SOURCE_DB}`.writes VALUES (1); RETURN 1; END"
    )
    run(f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'")
    run(f"GRANT SELECT ON `{SOURCE_DB}`.* TO '{READER}'@'%'")
    run(f"GRANT INSERT ON `{SOURCE_DB}`.writes TO '{READER}'@'%'")
    run(f"GRANT EXECUTE ON FUNCTION `{SOURCE_DB}`.bump TO '{READER}'@'%'")
    try:
        yield Case(
            kind="mysql",
            settings={
                "host": MARIADB_HOST,
                "port": MARIADB_PORT,
                "database": SOURCE_DB,
                "user": READER,
            },
            secrets={"password": MARIADB_PASSWORD},
            source=Source(table="people"),
            missing=Source(table="no_such_table"),
            unreachable={"port": free_port()},
            describes="MariaDB",
            bools_as_integers=True,
            writing_query="SELECT bump() AS n",
            writes=lambda: int(run(f"SELECT count(*) FROM `{SOURCE_DB}`.writes")[0]),
            sessions=lambda: int(
                run(
                    "SELECT count(*) FROM information_schema.processlist WHERE user = %s",
                    (READER,),
                )[0]
            ),
        )
    finally:
        drop()
        root.close()


# --- files -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    folder = tmp_path_factory.mktemp("sqlite")
    path = folder / "people.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "CREATE TABLE people (id INTEGER, name TEXT, score REAL, country TEXT, "
            "signup TEXT, seen_at TEXT, active INTEGER)"
        )
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    row["id"],
                    row["name"],
                    row["score"],
                    row["country"],
                    row["signup"].isoformat(),
                    row["seen_at"].isoformat(sep=" "),
                    int(row["active"]),
                )
                for row in KNOWN
            ],
        )
    conn.close()
    return Case(
        kind="sqlite",
        settings={"path": str(path)},
        secrets={},
        source=Source(table="people"),
        missing=Source(table="no_such_table"),
        unreachable={"path": str(folder / "missing.db")},
        describes="SQLite",
        dates_as_text=True,
        bools_as_integers=True,
    )


@pytest.fixture(scope="session")
def duckdb_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    folder = tmp_path_factory.mktemp("duckdb")
    path = folder / "people.duckdb"
    conn = duckdb.connect(str(path))
    try:
        conn.execute(
            "CREATE TABLE people (id INTEGER, name VARCHAR, score DOUBLE, country VARCHAR, "
            "signup DATE, seen_at TIMESTAMP, active BOOLEAN)"
        )
        rows = known_table()
        conn.register("known", rows)
        conn.execute("INSERT INTO people SELECT * FROM known")
    finally:
        conn.close()
    return Case(
        kind="duckdb",
        settings={"path": str(path)},
        secrets={},
        source=Source(table="people"),
        missing=Source(table="no_such_table"),
        unreachable={"path": str(folder / "missing.duckdb")},
        describes="DuckDB",
    )


def write_files(put: Callable[[str, bytes], None]) -> None:
    """`people/part-{1,2}.parquet` (ids 1-100, 101-200) and `people.csv`."""
    table = known_table()
    for part, start in ((1, 0), (2, 100)):
        sink = pa.BufferOutputStream()
        pq.write_table(table.slice(start, 100), sink)
        put(f"people/part-{part}.parquet", sink.getvalue().to_pybytes())
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    put("people.csv", sink.getvalue().to_pybytes())


@pytest.fixture(scope="session")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")

    def put(name: str, data: bytes) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)

    write_files(put)
    return root


def files_case(root: Path, source: Source) -> Case:
    return Case(
        kind="files",
        settings={"root": str(root)},
        secrets={},
        source=source,
        missing=Source(path="people/no-such-file.parquet"),
        unreachable={"root": str(root / "missing-folder")},
        describes="local folder",
    )


@pytest.fixture(scope="session")
def files_parquet_case(files_root: Path) -> Case:
    return files_case(files_root, Source(path="people/*.parquet"))


@pytest.fixture(scope="session")
def files_csv_case(files_root: Path) -> Case:
    return files_case(files_root, Source(path="people.csv"))


# --- S3 ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server with the files under `data/` of the bucket, and an object outside
    that prefix, `private/secret.csv`."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="contract-key",
        aws_secret_access_key=S3_SECRET,
    )
    try:
        client.create_bucket(Bucket=BUCKET)
        write_files(
            lambda name, data: client.put_object(Bucket=BUCKET, Key=f"data/{name}", Body=data)
        )
        client.put_object(Bucket=BUCKET, Key="private/secret.csv", Body=b"secret\n42\n")
    finally:
        client.close()
    yield endpoint
    server.stop()


def s3_case(endpoint: str, source: Source) -> Case:
    return Case(
        kind="s3",
        settings={
            "bucket": BUCKET,
            "prefix": "data",
            "endpoint_url": endpoint,
            "region": "us-east-1",
        },
        secrets={"access_key_id": "contract-key", "secret_access_key": S3_SECRET},
        source=source,
        missing=Source(path="people/no-such-file.parquet"),
        unreachable={"endpoint_url": f"http://127.0.0.1:{free_port()}"},
        describes="S3",
    )


@pytest.fixture(scope="session")
def s3_parquet_case(s3_endpoint: str) -> Case:
    return s3_case(s3_endpoint, Source(path="people/*.parquet"))


@pytest.fixture(scope="session")
def s3_csv_case(s3_endpoint: str) -> Case:
    return s3_case(s3_endpoint, Source(path="people.csv"))


# --- the parametrisation -------------------------------------------------------------------

# One source per connector kind, for what does not depend on the file format ...
KINDS = ("postgresql", "mysql", "sqlite", "duckdb", "files-parquet", "s3-csv")
# ... and every source, for reads.
ALL = (
    "postgresql",
    "mysql",
    "sqlite",
    "duckdb",
    "files-parquet",
    "files-csv",
    "s3-parquet",
    "s3-csv",
)
SQL = ("postgresql", "mysql", "sqlite", "duckdb")
SERVERS = ("postgresql", "mysql")
FOLDERS = ("files-parquet", "s3-parquet")


@pytest.fixture(scope="package", autouse=True)
def _frozen_heap() -> Iterator[None]:
    """Speed: the shared `gc.collect()` after every test walks every object of the process
    (0.1-0.4 s here with pyarrow, boto and moto loaded; 40 s instead of 23 s for this suite).
    What is alive when this package starts is frozen (left out of collections), so a
    collection walks little more than what the tests made, where a leaked connection is."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Case:
    """The source named by the test's parameter (`@pytest.mark.parametrize("case", ALL,
    indirect=True)`); only the sources a run selects are set up."""
    name = str(request.param).replace("-", "_")
    found: Case = request.getfixturevalue(f"{name}_case")
    return found
