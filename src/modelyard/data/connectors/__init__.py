"""Connectors, one per kind of data source, all with the interface of `base.Connector`."""

from __future__ import annotations

from collections.abc import Mapping

from modelyard.data.connectors.base import Connector, Filter, ReadSpec, Source
from modelyard.data.connectors.duckdb import DuckDBConnector
from modelyard.data.connectors.files import FilesConnector, S3Connector
from modelyard.data.connectors.mysql import MySQLConnector
from modelyard.data.connectors.postgres import PostgresConnector
from modelyard.data.connectors.sqlite import SQLiteConnector

CONNECTORS: dict[str, type[Connector]] = {
    cls.kind: cls
    for cls in (
        PostgresConnector,
        MySQLConnector,
        SQLiteConnector,
        DuckDBConnector,
        FilesConnector,
        S3Connector,
    )
}


def open_connector(
    kind: str, settings: Mapping[str, object], secrets: Mapping[str, str]
) -> Connector:
    return CONNECTORS[kind](settings, secrets)


__all__ = ["CONNECTORS", "Connector", "Filter", "ReadSpec", "Source", "open_connector"]
