"""MySQL and MariaDB through PyMySQL with an unbuffered (streaming) cursor.

Reads run inside `START TRANSACTION READ ONLY`, with the socket's read timeout as the
statement deadline (it works the same on MySQL and MariaDB, whose server-side timeout
variables differ).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pymysql
import pymysql.cursors

from modelyard.data.connectors.base import Connector, ReadSpec, Source
from modelyard.data.connectors.rows import reader_from_rows
from modelyard.data.connectors.sql import MYSQL, build_select


class MySQLConnector(Connector):
    kind = "mysql"
    method = "PyMySQL streaming cursor, batches to Arrow"

    def _connect(self) -> Any:
        s = self.settings
        conn = pymysql.connect(
            host=str(s.get("host", "127.0.0.1")),
            port=int(str(s.get("port", 3306))),
            user=str(s.get("user", "")),
            password=self.secrets.get("password", ""),
            database=str(s.get("database", "")) or None,
            charset="utf8mb4",
            connect_timeout=10,
            read_timeout=self.timeout_seconds,
            cursorclass=pymysql.cursors.SSCursor,
        )
        with conn.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
        return conn

    def test(self) -> str:
        with self.translate_errors("connecting failed"):
            conn = self._connect()
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT VERSION()")
                    row = cursor.fetchone()
            finally:
                conn.close()
        version = str(row[0]) if row else ""
        return f"MariaDB {version}" if "MariaDB" in version else f"MySQL {version}"

    def schema(self, source: Source) -> pa.Schema:
        return self.read(source, ReadSpec(limit=0)).schema

    def read(self, source: Source, spec: ReadSpec) -> pa.RecordBatchReader:
        sql, params = build_select(MYSQL, source, spec)
        if params:  # PyMySQL %-formats the statement when given parameters
            sql = sql.replace("%", "%%").replace("\x00", "%s")
        with self.translate_errors("reading failed"):
            conn = self._connect()
            try:
                cursor = conn.cursor()
                cursor.execute(sql, params or None)
                names = [d[0] for d in cursor.description or ()]

                def close() -> None:
                    cursor.close()
                    conn.close()

                return reader_from_rows(names, cursor.fetchmany, close)
            except BaseException:
                conn.close()
                raise
