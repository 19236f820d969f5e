"""Snapshots: a dataset frozen to Parquet in the artifact store, named by content hash,
so a run can say exactly which rows it trained on. Freezing unchanged data again answers
the existing snapshot instead of storing a copy."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.service import usernames_by_id
from modelyard.data.connections import connector_for
from modelyard.data.connectors import ReadSpec
from modelyard.data.connectors.base import limited
from modelyard.data.connectors.files import expression
from modelyard.data.schemas import SnapshotPublic
from modelyard.data.secrets import SecretBox
from modelyard.data.service import get_dataset, guarded, source_errors, source_of
from modelyard.data.tables import ConnectionRow, DatasetReadRow, DatasetRow, SnapshotRow
from modelyard.errors import NotFoundError
from modelyard.storage import ArtifactStore


def get_snapshot(session: Session, dataset: DatasetRow, snapshot_id: int) -> SnapshotRow:
    row = session.get(SnapshotRow, snapshot_id)
    if row is None or row.dataset_id != dataset.id:
        raise NotFoundError(
            f"dataset {dataset.name!r} has no snapshot {snapshot_id}", field="snapshot"
        )
    return row


def list_snapshots(session: Session, actor: Actor, name: str) -> Sequence[SnapshotRow]:
    dataset = get_dataset(session, actor, name)
    return session.scalars(
        select(SnapshotRow)
        .where(SnapshotRow.dataset_id == dataset.id)
        .order_by(SnapshotRow.id.desc())
    ).all()


def create_snapshot(
    session: Session, actor: Actor, box: SecretBox, store: ArtifactStore, name: str, note: str
) -> tuple[SnapshotRow, bool]:
    """(the snapshot, whether it is new). Reads the whole dataset from its source."""
    dataset = get_dataset(session, actor, name)
    connection = session.get(ConnectionRow, dataset.connection_id)
    assert connection is not None
    fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix="modelyard-snapshot-")
    os.close(fd)
    try:
        with source_errors(dataset.name), connector_for(connection, box) as connector:
            reader = guarded(connector.read(source_of(dataset), ReadSpec()), dataset.name)
            rows = 0
            with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
            schema = reader.schema
        digest = _sha256(tmp)
        existing = session.scalars(
            select(SnapshotRow).where(
                SnapshotRow.dataset_id == dataset.id, SnapshotRow.sha256 == digest
            )
        ).first()
        if existing is not None:
            _log_freeze(session, actor, existing, rows)
            return existing, False
        key = f"snapshots/{dataset.name}/{digest}.parquet"
        if not store.exists(key):
            store.put_file(tmp, key)
        row = SnapshotRow(
            dataset_id=dataset.id,
            sha256=digest,
            uri=key,
            row_count=rows,
            size_bytes=os.path.getsize(tmp),
            schema=[{"name": f.name, "type": str(f.type)} for f in schema],
            note=note,
            created_by_id=actor.id,
        )
        session.add(row)
        session.flush()
        _log_freeze(session, actor, row, rows)
        return row, True
    finally:
        os.unlink(tmp)


def _log_freeze(session: Session, actor: Actor, row: SnapshotRow, rows: int) -> None:
    session.add(
        DatasetReadRow(
            dataset_id=row.dataset_id,
            snapshot_id=row.id,
            user_id=actor.id,
            purpose="snapshot",
            row_count=rows,
        )
    )
    session.commit()


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_schema(store: ArtifactStore, row: SnapshotRow) -> pa.Schema:
    return ds.dataset(store.uri(row.uri), filesystem=store.fs, format="parquet").schema


def snapshot_reader(store: ArtifactStore, row: SnapshotRow, spec: ReadSpec) -> pa.RecordBatchReader:
    dataset = ds.dataset(store.uri(row.uri), filesystem=store.fs, format="parquet")
    scanner = dataset.scanner(
        columns=list(spec.columns) if spec.columns else None,
        filter=expression(spec.filters),
        batch_size=65_536,
    )
    return limited(scanner.to_reader(), spec.limit)


def describe(
    session: Session, dataset: DatasetRow, rows: Sequence[SnapshotRow]
) -> list[SnapshotPublic]:
    users = usernames_by_id(session, (r.created_by_id for r in rows))
    return [
        SnapshotPublic(
            id=r.id,
            dataset=dataset.name,
            sha256=r.sha256,
            row_count=r.row_count,
            size_bytes=r.size_bytes,
            columns=r.schema,
            note=r.note,
            created_by=users.get(r.created_by_id) if r.created_by_id else None,
            created_at=r.created_at,
        )
        for r in rows
    ]


def snapshot_columns(
    session: Session, store: ArtifactStore, snapshot_id: int, columns: Sequence[str], limit: int
) -> dict[str, list[object]]:
    """Up to `limit` rows of those `columns` a snapshot holds, as lists (drift references)."""
    row = session.get(SnapshotRow, snapshot_id)
    if row is None:
        raise NotFoundError(f"no snapshot {snapshot_id}", field="snapshot")
    present = set(snapshot_schema(store, row).names)
    spec = ReadSpec(columns=[c for c in columns if c in present], limit=limit)
    table = snapshot_reader(store, row, spec).read_all()
    return {name: table.column(name).to_pylist() for name in table.column_names}
