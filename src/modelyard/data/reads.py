"""Reading a dataset through the server: Arrow record batches streamed as Arrow IPC.

The first batch is fetched before the response starts, so a source that fails (a wrong
password, a missing table) answers a JSON error rather than a broken stream. Every read
is logged with who, what and how many rows once the stream ends, which is the lineage
the catalog's "who uses it" and, later, runs are built from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.data.connections import connector_for
from modelyard.data.filters import build_spec, parse_filter
from modelyard.data.secrets import SecretBox
from modelyard.data.service import (
    get_dataset,
    guarded,
    refresh_schema,
    source_errors,
    source_of,
)
from modelyard.data.snapshots import get_snapshot, snapshot_reader, snapshot_schema
from modelyard.data.tables import ConnectionRow, DatasetReadRow, DatasetRow
from modelyard.storage import ArtifactStore

MAX_SAMPLE = 1000


@dataclass
class OpenedRead:
    dataset: DatasetRow
    snapshot_id: int | None
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


def open_read(
    session: Session,
    actor: Actor,
    box: SecretBox,
    store: ArtifactStore,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    filter_text: str | None = None,
    snapshot: int | None = None,
) -> OpenedRead:
    """Check the request, start the read and fetch its first batch."""
    dataset = get_dataset(session, actor, name)
    conditions = parse_filter(filter_text)
    if snapshot is not None:
        snap = get_snapshot(session, dataset, snapshot)
        schema = snapshot_schema(store, snap)
        spec = build_spec(schema, columns=columns, limit=limit, conditions=conditions)
        return _started(dataset, snap.id, snapshot_reader(store, snap, spec))
    connection = session.get(ConnectionRow, dataset.connection_id)
    assert connection is not None
    if columns or conditions:  # only these need the source's schema to be checked against
        schema = refresh_schema(session, box, dataset)
        session.commit()
        spec = build_spec(schema, columns=columns, limit=limit, conditions=conditions)
    else:
        spec = build_spec(pa.schema([]), columns=None, limit=limit, conditions=[])
    connector = connector_for(connection, box)
    with source_errors(dataset.name):
        return _started(dataset, None, connector.read(source_of(dataset), spec))


def _started(
    dataset: DatasetRow,
    snapshot_id: int | None,
    reader: pa.RecordBatchReader,
) -> OpenedRead:
    batches = iter(guarded(reader, dataset.name))
    first = next(batches, None)

    def all_batches() -> Iterator[pa.RecordBatch]:
        if first is not None:
            yield first
        yield from batches

    return OpenedRead(dataset, snapshot_id, reader.schema, all_batches())


class _Chunks:  # pyarrow needs only write/flush/close
    """A write-only file that keeps what is written until it is drained."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes | memoryview) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def ipc_stream(opened: OpenedRead, on_done: Callable[[int, bool], None]) -> Iterator[bytes]:
    """Arrow IPC stream bytes, one chunk per batch; `on_done(rows, complete)` at the end."""
    sink = _Chunks()
    rows, complete = 0, False
    try:
        target = pa.PythonFile(sink, mode="w")  # type: ignore[arg-type]
        with pa.ipc.new_stream(target, opened.schema) as writer:
            yield sink.drain()
            for batch in opened.batches:
                writer.write_batch(batch)
                rows += batch.num_rows
                yield sink.drain()
        complete = True
        yield sink.drain()
    finally:
        on_done(rows, complete)


def record_read(
    factory: sessionmaker[Session],
    *,
    dataset_id: int,
    snapshot_id: int | None,
    user_id: int | None,
    purpose: str,
    rows: int,
    complete: bool = True,
    run_id: int | None = None,
) -> None:
    with factory() as session:
        session.add(
            DatasetReadRow(
                dataset_id=dataset_id,
                run_id=run_id,
                snapshot_id=snapshot_id,
                user_id=user_id,
                purpose=purpose,
                row_count=rows,
                complete=complete,
            )
        )
        session.commit()


def sample_rows(opened: OpenedRead) -> tuple[list[str], list[list[object]]]:
    """JSON-safe rows of a (limited) read, for the portal and `/sample`."""
    table = pa.Table.from_batches(list(opened.batches), schema=opened.schema)
    names = table.column_names
    rows = [[_jsonable(row[n]) for n in names] for row in table.to_pylist()]
    return names, rows


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)
