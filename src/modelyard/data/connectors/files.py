"""Parquet, CSV and JSON files in a folder on the server or in S3-compatible storage.

Reads go through `pyarrow.dataset`: columns and filters are pushed into the scan (Parquet
row groups are skipped by their statistics), and batches stream as they are decoded.
Paths are globs relative to the connection's root; a path cannot leave that root.
"""

from __future__ import annotations

import operator
import os
import posixpath
from collections.abc import Callable, Sequence
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from modelyard.data.connectors.base import Connector, Filter, ReadSpec, Source, limited
from modelyard.errors import ConnectorError, InvalidInputError

FORMATS = ("parquet", "csv", "json")
_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPARE: dict[str, Callable[[ds.Expression, Any], ds.Expression]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def check_path(path: str) -> str:
    """A relative glob that stays inside the root, or InvalidInputError on field `path`."""
    text = path.strip().replace("\\", "/")
    if not text:
        raise InvalidInputError("a file dataset needs a path (a file or a glob)", field="path")
    if text.startswith("/") or ".." in text.split("/") or ":" in text.split("/")[0]:
        raise InvalidInputError(
            "the path must be relative to the connection's root and must not contain '..'",
            field="path",
        )
    return posixpath.normpath(text)


def expression(filters: Sequence[Filter]) -> ds.Expression | None:
    combined: ds.Expression | None = None
    for condition in filters:
        field = ds.field(condition.column)
        term: ds.Expression
        if condition.op == "is null":
            term = field.is_null()
        elif condition.op == "is not null":
            term = field.is_valid()  # type: ignore[assignment]  # the stubs say bool
        elif condition.op in ("in", "not in"):
            values = list(condition.value) if isinstance(condition.value, tuple) else []
            term = field.isin(values)
            if condition.op == "not in":
                # As in SQL: NULL is not "not in" a list (it is unknown), unless the list is
                # empty; pyarrow's isin answers false for NULL, so ~isin would keep it.
                term = ~term & field.is_valid() if values else ~term
        else:
            term = _COMPARE[condition.op](field, condition.value)
        combined = term if combined is None else combined & term
    return combined


class FilesConnector(Connector):
    kind = "files"
    method = "pyarrow.dataset scan (projection and filter pushdown)"

    def _filesystem(self) -> tuple[Any, str]:
        root = os.path.realpath(str(self.settings.get("root", "")))
        if not os.path.isdir(root):
            raise ConnectorError(f"the folder {str(self.settings.get('root'))!r} does not exist")
        return pafs.LocalFileSystem(), root

    def _files(self, source: Source) -> tuple[Any, list[str]]:
        fs, root = self._filesystem()
        pattern = posixpath.join(root, check_path(source.path))
        matches = (
            sorted(fsspec.filesystem("file").glob(pattern)) if _is_glob(pattern) else [pattern]
        )
        inside = [m for m in matches if os.path.realpath(m).startswith(root + os.sep)]
        files = [m for m in inside if os.path.isfile(m)]
        if not files:
            raise ConnectorError(f"no files match {source.path!r}")
        return fs, files

    def test(self) -> str:
        with self.translate_errors("opening the folder failed"):
            _, root = self._filesystem()
            count = sum(len(names) for _, _, names in os.walk(root))
        return f"local folder with {count} files"

    def _dataset(self, source: Source) -> ds.Dataset:
        fs, files = self._files(source)
        fmt = source.file_format or _format_of(files[0])
        dataset: ds.Dataset = ds.dataset(files, filesystem=fs, format=fmt)  # type: ignore[call-overload]
        return dataset

    def schema(self, source: Source) -> pa.Schema:
        with self.translate_errors("reading the schema failed"):
            return self._dataset(source).schema

    def read(self, source: Source, spec: ReadSpec) -> pa.RecordBatchReader:
        with self.translate_errors("reading failed"):
            dataset = self._dataset(source)
            scanner = dataset.scanner(
                columns=list(spec.columns) if spec.columns else None,
                filter=expression(spec.filters),
                batch_size=65_536,
            )
            return limited(scanner.to_reader(), spec.limit)


class S3Connector(FilesConnector):
    kind = "s3"
    method = "pyarrow.dataset scan over s3fs (fsspec)"

    _fs: Any = None

    def _s3(self) -> Any:
        # One filesystem per connector: each makes its own botocore session and client,
        # which costs more than a small read.
        if self._fs is None:
            self._fs = self._new_s3()
        return self._fs

    def close(self) -> None:
        self._fs = None

    def _new_s3(self) -> Any:
        s = self.settings
        client_kwargs: dict[str, Any] = {}
        if s.get("region"):
            client_kwargs["region_name"] = str(s["region"])
        return fsspec.filesystem(
            "s3",
            key=self.secrets.get("access_key_id") or None,
            secret=self.secrets.get("secret_access_key") or None,
            anon=not self.secrets.get("access_key_id"),
            endpoint_url=str(s["endpoint_url"]) if s.get("endpoint_url") else None,
            client_kwargs=client_kwargs,
            config_kwargs={
                "connect_timeout": 10,
                "read_timeout": self.timeout_seconds,
                "retries": {"max_attempts": 2},
            },
            skip_instance_cache=True,
        )

    def _root(self) -> str:
        bucket = str(self.settings.get("bucket", "")).strip("/")
        prefix = str(self.settings.get("prefix", "")).strip("/")
        return f"{bucket}/{prefix}" if prefix else bucket

    def _files(self, source: Source) -> tuple[Any, list[str]]:
        fs, root = self._s3(), self._root()
        pattern = posixpath.join(root, check_path(source.path))
        if _is_glob(pattern):
            found: dict[str, dict[str, Any]] = fs.glob(pattern, detail=True)
            matches = sorted(m for m, info in found.items() if info.get("type") == "file")
        else:
            matches = [pattern] if _is_object(fs, pattern) else []
        files = [m for m in matches if m.startswith(root + "/")]
        if not files:
            raise ConnectorError(f"no objects match {source.path!r}")
        return fs, files

    def test(self) -> str:
        with self.translate_errors("listing the bucket failed"):
            fs = self._s3()
            count = len(fs.ls(self._root(), detail=False))
        return f"S3 bucket reachable, {count} entries under the root"


def _is_object(fs: Any, path: str) -> bool:
    # Not `fs.isfile`: it answers False when the endpoint cannot be reached at all, which
    # would report an unreachable bucket as a missing file.
    try:
        return bool(fs.info(path)["type"] == "file")
    except FileNotFoundError:
        return False


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _format_of(path: str) -> str:
    fmt = _EXTENSIONS.get(posixpath.splitext(path)[1].lower())
    if fmt is None:
        raise InvalidInputError(
            f"cannot tell the format of {posixpath.basename(path)!r}; set file_format "
            f"to one of {', '.join(FORMATS)}",
            field="file_format",
        )
    return fmt
