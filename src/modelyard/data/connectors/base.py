"""The one interface every data source implements, and what a read asks of it.

A connector is opened with a connection's settings and decrypted secrets, answers
`test()`, `schema(source)` and `read(source, spec)` (a stream of Arrow record batches),
and never lets a secret out: every foreign error is translated at `translate_errors`,
with secret values scrubbed from the message.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar, Literal, cast

import pyarrow as pa

from modelyard.data.secrets import scrub
from modelyard.errors import ConnectorError, ModelyardError

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]
OPS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
Scalar = str | int | float | bool | dt.date | dt.datetime | dt.time


@dataclass(frozen=True)
class Filter:
    """One condition `column op value`; a read's filters are ANDed."""

    column: str
    op: Op
    value: Scalar | tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class Source:
    """What a dataset reads: exactly one of a table, a read-only query or a file glob."""

    table: str = ""
    query: str = ""
    path: str = ""
    file_format: str = ""


@dataclass(frozen=True)
class ReadSpec:
    columns: Sequence[str] | None = None
    limit: int | None = None
    filters: Sequence[Filter] = field(default_factory=tuple)


class Connector(abc.ABC):
    """A live handle on one data source. Use as a context manager."""

    kind: ClassVar[str]
    #: how reads are done, shown with profiles and in the admin pages
    method: ClassVar[str]

    def __init__(self, settings: Mapping[str, object], secrets: Mapping[str, str]) -> None:
        self.settings = settings
        self.secrets = secrets

    @property
    def timeout_seconds(self) -> int:
        value = self.settings.get("timeout_seconds", 60)
        return int(value) if isinstance(value, int | float | str) else 60

    @abc.abstractmethod
    def test(self) -> str:
        """Reach the source; answer a short description of what answered (server version)."""

    @abc.abstractmethod
    def schema(self, source: Source) -> pa.Schema:
        """The columns a read of `source` yields, without reading rows."""

    @abc.abstractmethod
    def read(self, source: Source, spec: ReadSpec) -> pa.RecordBatchReader:
        """Stream `source` with the columns, filters and limit pushed down where possible."""

    def close(self) -> None:  # noqa: B027 - most connectors hold nothing open between calls
        """Release what the connector holds open."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def translate_errors(self, doing: str) -> Iterator[None]:
        """Turn any driver's exception into ConnectorError, secrets scrubbed."""
        try:
            yield
        except ModelyardError:
            raise
        except Exception as exc:
            detail = scrub(_first_line(exc), self.secrets)
            raise ConnectorError(f"{doing}: {detail}") from None

    def stream(
        self,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        release: Callable[[], None] = lambda: None,
    ) -> pa.RecordBatchReader:
        """A reader over `batches` whose failures while streaming (a timeout, a refused
        write, a dropped connection) are translated like any other; see `streaming`."""

        def translated() -> Iterator[pa.RecordBatch]:
            with self.translate_errors("reading failed"):
                yield from batches

        return streaming(schema, translated(), release)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


def streaming(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], release: Callable[[], None]
) -> pa.RecordBatchReader:
    """A reader over `batches` that calls `release` once: when the batches end or fail, or
    when the reader is dropped, read or not (pyarrow's `close()` keeps the iterator)."""

    def guarded() -> Iterator[pa.RecordBatch | None]:
        try:
            # Started before it is handed over, so dropping the reader unread still runs
            # `finally` (a generator that never started has no `finally` to run).
            yield None
            yield from batches
        finally:
            release()

    started = guarded()
    next(started)  # the None; every later item is a batch
    return pa.RecordBatchReader.from_batches(schema, cast(Iterator[pa.RecordBatch], started))


def limited(reader: pa.RecordBatchReader, limit: int | None) -> pa.RecordBatchReader:
    """`reader` cut after `limit` rows (for sources that cannot push a limit down)."""
    if limit is None:
        return reader

    def batches() -> Iterator[pa.RecordBatch]:
        left = limit
        for batch in reader:
            if left <= 0:
                break
            if batch.num_rows > left:
                batch = batch.slice(0, left)
            left -= batch.num_rows
            yield batch
        reader.close()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
