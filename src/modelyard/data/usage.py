"""Who uses a dataset (from the read log), and profiles as the API shows them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.accounts.tables import UserRow
from modelyard.data.reads import OpenedRead
from modelyard.data.schemas import ColumnProfile, ProfilePublic, ReaderPublic, ReadPublic, Usage
from modelyard.data.service import grants_of, latest_profile
from modelyard.data.tables import DatasetReadRow, DatasetRow, ProfileRow, SnapshotRow

RECENT = 50


def profile_public(session: Session, name: str, row: ProfileRow) -> ProfilePublic:
    user = session.get(UserRow, row.computed_by_id) if row.computed_by_id else None
    columns = row.profile.get("columns", [])
    return ProfilePublic(
        dataset=name,
        row_count=row.row_count,
        columns=[ColumnProfile.model_validate(c) for c in columns]
        if isinstance(columns, list)
        else [],
        method=row.method,
        seconds=row.seconds,
        computed_by=user.username if user else None,
        computed_at=row.computed_at,
    )


def row_estimate(
    session: Session, opened: OpenedRead, *, limit: int | None, filtered: bool
) -> int | None:
    """How many rows a read will stream, when known beforehand (for progress bars)."""
    if filtered:
        return None
    if opened.snapshot_id is not None:
        snap = session.get(SnapshotRow, opened.snapshot_id)
        total: int | None = snap.row_count if snap else None
    else:
        profile = latest_profile(session, opened.dataset.id)
        total = profile.row_count if profile else None
    if total is None:
        return limit
    return min(total, limit) if limit is not None else total


def usage_of(session: Session, dataset: DatasetRow) -> Usage:
    readers = session.execute(
        select(
            UserRow.username,
            func.count(DatasetReadRow.id),
            func.coalesce(func.sum(DatasetReadRow.row_count), 0),
            func.max(DatasetReadRow.created_at),
        )
        .select_from(DatasetReadRow)
        .outerjoin(UserRow, UserRow.id == DatasetReadRow.user_id)
        .where(DatasetReadRow.dataset_id == dataset.id)
        .group_by(UserRow.username)
        .order_by(func.max(DatasetReadRow.created_at).desc())
    ).all()
    recent = session.execute(
        select(DatasetReadRow, UserRow.username)
        .outerjoin(UserRow, UserRow.id == DatasetReadRow.user_id)
        .where(DatasetReadRow.dataset_id == dataset.id)
        .order_by(DatasetReadRow.id.desc())
        .limit(RECENT)
    ).all()
    return Usage(
        readers=[
            ReaderPublic(username=u, reads=int(n), rows=int(r), last_read_at=last)
            for u, n, r, last in readers
        ],
        projects=grants_of(session, [dataset.id]).get(dataset.id, []),
        recent=[
            ReadPublic(
                username=username,
                purpose=read.purpose,
                snapshot_id=read.snapshot_id,
                row_count=read.row_count,
                complete=read.complete,
                at=read.created_at,
            )
            for read, username in recent
        ],
    )
