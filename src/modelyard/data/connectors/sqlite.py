"""SQLite files, opened read-only (`mode=ro`), with a deadline enforced by a progress handler."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pyarrow as pa

from modelyard.data.connectors.base import Connector, ReadSpec, Source
from modelyard.data.connectors.rows import BATCH_ROWS, batches_from_rows
from modelyard.data.connectors.sql import SQLITE, build_select
from modelyard.errors import ConnectorError


class SQLiteConnector(Connector):
    kind = "sqlite"
    method = "sqlite3 (read-only), batches to Arrow"

    def _connect(self) -> sqlite3.Connection:
        path = Path(str(self.settings.get("path", "")))
        if not path.is_file():
            raise ConnectorError(f"no SQLite database file at {str(path)!r}")
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        deadline = time.monotonic() + self.timeout_seconds
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        return conn

    def test(self) -> str:
        with self.translate_errors("opening the database failed"):
            conn = self._connect()
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        return f"SQLite {sqlite3.sqlite_version}"

    def schema(self, source: Source) -> pa.Schema:
        # SQLite declares no result types: read what a full read's first batch would be, so
        # the types inferred here are the ones the read will stream.
        reader = self.read(source, ReadSpec(limit=BATCH_ROWS))
        reader.close()
        return reader.schema

    def read(self, source: Source, spec: ReadSpec) -> pa.RecordBatchReader:
        sql, params = build_select(SQLITE, source, spec)
        with self.translate_errors("reading failed"):
            conn = self._connect()
            try:
                cursor = conn.execute(sql, params)
                names = [d[0] for d in cursor.description or ()]
                schema, batches = batches_from_rows(names, cursor.fetchmany)
            except BaseException:
                conn.close()
                raise
        return self.stream(schema, batches, conn.close)
