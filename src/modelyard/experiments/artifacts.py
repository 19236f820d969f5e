"""Run artifacts: uploads spooled and hashed before they become visible, listed, downloaded."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.errors import InvalidInputError, NotFoundError
from modelyard.experiments.schemas import ArtifactPublic
from modelyard.experiments.tables import ArtifactRow
from modelyard.storage import ArtifactStore
from modelyard.uploads import Spooled

MAX_PATH_LENGTH = 500
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")


def clean_path(path: str) -> str:
    """A relative POSIX path inside the run's folder, or InvalidInputError naming `path`."""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise InvalidInputError(
            f"an artifact path has 1-{MAX_PATH_LENGTH} characters", field="path"
        )
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise InvalidInputError(
            f"artifact path {path!r} is absolute; give a relative one", field="path"
        )
    if _BAD_CHARACTERS.search(path):
        raise InvalidInputError(
            "artifact paths hold no control characters or backslashes", field="path"
        )
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInputError(
            f"artifact path {path!r} has an empty, '.' or '..' part", field="path"
        )
    return path


def store_artifact(
    session: Session, store: ArtifactStore, run_id: int, path: str, upload: Spooled
) -> ArtifactRow:
    """Copy a complete upload into the store, then record it (replacing a same-named one)."""
    key = f"runs/{run_id}/artifacts/{path}"
    try:
        store.put_file(upload.path, key)
    finally:
        upload.discard()
    row = session.scalars(
        select(ArtifactRow).where(ArtifactRow.run_id == run_id, ArtifactRow.path == path)
    ).first()
    if row is None:
        row = ArtifactRow(
            run_id=run_id, path=path, key=key, size_bytes=upload.size, sha256=upload.sha256
        )
        session.add(row)
    else:
        row.size_bytes, row.sha256 = upload.size, upload.sha256
    session.commit()
    return row


def list_artifacts(session: Session, run_id: int) -> Sequence[ArtifactRow]:
    return session.scalars(
        select(ArtifactRow).where(ArtifactRow.run_id == run_id).order_by(ArtifactRow.path)
    ).all()


def get_artifact(session: Session, run_id: int, path: str) -> ArtifactRow:
    row = session.scalars(
        select(ArtifactRow).where(ArtifactRow.run_id == run_id, ArtifactRow.path == path)
    ).first()
    if row is None:
        raise NotFoundError(f"run {run_id} has no artifact {path!r}", field="path")
    return row


def public(row: ArtifactRow) -> ArtifactPublic:
    return ArtifactPublic(
        path=row.path, size_bytes=row.size_bytes, sha256=row.sha256, created_at=row.created_at
    )
