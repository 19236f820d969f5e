"""DuckDB database files, opened read-only with access to other files switched off."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from modelyard.data.connectors.base import Connector, ReadSpec, Source
from modelyard.data.connectors.rows import BATCH_ROWS
from modelyard.data.connectors.sql import QMARK, build_select, schema_probe
from modelyard.errors import ConnectorError


class DuckDBConnector(Connector):
    kind = "duckdb"
    method = "DuckDB (read-only), native Arrow batches"

    def _connect(self) -> duckdb.DuckDBPyConnection:
        path = Path(str(self.settings.get("path", "")))
        if not path.is_file():
            raise ConnectorError(f"no DuckDB database file at {str(path)!r}")
        return duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})

    def test(self) -> str:
        with self.translate_errors("opening the database failed"):
            conn = self._connect()
            try:
                row = conn.execute("SELECT version()").fetchone()
            finally:
                conn.close()
        return f"DuckDB {row[0] if row else ''}"

    def schema(self, source: Source) -> pa.Schema:
        with self.translate_errors("reading the schema failed"):
            conn = self._connect()
            try:
                schema: pa.Schema = conn.sql(schema_probe(QMARK, source)).to_arrow_table().schema
                return schema
            finally:
                conn.close()

    def read(self, source: Source, spec: ReadSpec) -> pa.RecordBatchReader:
        sql, params = build_select(QMARK, source, spec)
        with self.translate_errors("reading failed"):
            conn = self._connect()
            timer = threading.Timer(self.timeout_seconds, conn.interrupt)
            timer.start()
            try:
                # `sql(...)`, not `execute(...)`: DuckDB refuses Arrow output of a DB-API
                # result (it would copy every row once more).
                reader = conn.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
            except BaseException:
                timer.cancel()
                conn.close()
                raise

        def release() -> None:
            timer.cancel()
            reader.close()
            conn.close()

        return self.stream(reader.schema, reader, release)
