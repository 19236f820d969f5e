"""Read-only summaries of runs across projects, for the overview and project pages: the
latest runs and how many each project holds. The caller has already checked access."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.experiments.tables import RunRow


def latest_runs(session: Session, project_ids: Collection[int], limit: int = 5) -> list[RunRow]:
    """The newest runs of these projects together, newest first."""
    if not project_ids:
        return []
    rows = session.scalars(
        select(RunRow)
        .where(RunRow.project_id.in_(project_ids))
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())
        .limit(limit)
    )
    return list(rows.all())


def run_counts(session: Session, project_ids: Collection[int]) -> dict[int, int]:
    if not project_ids:
        return {}
    rows = session.execute(
        select(RunRow.project_id, func.count())
        .where(RunRow.project_id.in_(project_ids))
        .group_by(RunRow.project_id)
    )
    return {project_id: count for project_id, count in rows}
