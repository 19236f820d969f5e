"""Read-only summaries of models across projects, for the overview and project pages: the
recently changed models and how many each project holds. The caller has already checked
access."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard.registry.tables import ModelRow


def recent_models(
    session: Session, project_ids: Collection[int], limit: int = 10
) -> list[ModelRow]:
    """The models of these projects changed last (a new version or alias), newest first."""
    if not project_ids:
        return []
    rows = session.scalars(
        select(ModelRow)
        .where(ModelRow.project_id.in_(project_ids))
        .order_by(ModelRow.updated_at.desc(), ModelRow.id.desc())
        .limit(limit)
    )
    return list(rows.all())


def model_counts(session: Session, project_ids: Collection[int]) -> dict[int, int]:
    if not project_ids:
        return {}
    rows = session.execute(
        select(ModelRow.project_id, func.count())
        .where(ModelRow.project_id.in_(project_ids))
        .group_by(ModelRow.project_id)
    )
    return {project_id: count for project_id, count in rows}
