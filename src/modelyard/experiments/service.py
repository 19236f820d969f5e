"""Runs: create, read, update, delete. Every call checks the actor's role on the run's project."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.service import usernames_by_id
from modelyard.code.service import record_code_ref
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.experiments.schemas import (
    FINAL_STATUSES,
    MAX_PARAMS_PER_RUN,
    MAX_TAGS_PER_RUN,
    RunCreate,
    RunPublic,
    RunUpdate,
    encode_number,
)
from modelyard.experiments.tables import LatestMetricRow, ParamRow, RunLogRow, RunRow, TagRow
from modelyard.projects.schemas import Role
from modelyard.projects.service import ProjectRow, get_project, require_writable, slugs_by_id


def get_run(
    session: Session, actor: Actor, run_id: int, *, min_role: Role = Role.viewer
) -> tuple[RunRow, ProjectRow]:
    """The run and its project, if the actor has `min_role` there (else NotFoundError /
    PermissionDeniedError, as for projects)."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise NotFoundError(f"no run {run_id}", field="run_id")
    slug = session.scalar(select(ProjectRow.slug).where(ProjectRow.id == row.project_id))
    try:
        project = get_project(session, actor, slug or "", min_role=min_role)
    except NotFoundError:
        raise NotFoundError(f"no run {run_id}", field="run_id") from None
    if min_role.rank >= Role.editor.rank:
        require_writable(project)
    return row, project


def create_run(
    session: Session,
    actor: Actor,
    slug: str,
    data: RunCreate,
    *,
    source: str = "local",
    status: str = "running",
    arguments: Sequence[str] = (),
) -> RunRow:
    project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
    row = RunRow(
        project_id=project.id,
        name=data.name,
        status=status,
        user_id=actor.id,
        source=source,
        entrypoint=data.entrypoint,
        arguments=list(arguments),
        commit=data.commit,
        dirty=data.dirty,
    )
    session.add(row)
    session.flush()
    if not row.name:
        row.name = f"run-{row.id}"
    _add_params(session, row, data.params)
    _set_tags(session, row, data.tags)
    session.commit()
    mark_code(session, row)
    return row


def mark_code(session: Session, run: RunRow) -> None:
    """Tell the code pages which commit this run runs (live while it is active)."""
    if run.commit:
        record_code_ref(
            session,
            run.project_id,
            kind="run",
            object_id=str(run.id),
            commit=run.commit,
            label=f"run {run.id}: {run.name}",
            live=run.status not in FINAL_STATUSES,
        )


def update_run(session: Session, actor: Actor, run_id: int, data: RunUpdate) -> RunRow:
    row, _ = get_run(session, actor, run_id, min_role=Role.editor)
    if data.name is not None:
        row.name = data.name or f"run-{row.id}"
    if data.error is not None:
        row.error = data.error
    if data.status is not None and data.status != row.status:
        if row.status in FINAL_STATUSES:
            raise ConflictError(
                f"run {run_id} has ended ({row.status}); its status cannot change",
                field="status",
            )
        row.status = data.status
        if data.status in FINAL_STATUSES:
            row.ended_at = utcnow()
    session.commit()
    mark_code(session, row)
    return row


def delete_run(session: Session, actor: Actor, run_id: int) -> None:
    row, _ = get_run(session, actor, run_id, min_role=Role.editor)
    if row.source == "remote" and row.status not in FINAL_STATUSES:
        raise ConflictError(
            f"run {run_id} is still {row.status} on the server; cancel it first", field="run_id"
        )
    session.delete(row)
    session.commit()


def log_params(session: Session, actor: Actor, run_id: int, params: dict[str, str]) -> None:
    row, _ = get_run(session, actor, run_id, min_role=Role.editor)
    _add_params(session, row, params)
    session.commit()


def set_tags(session: Session, actor: Actor, run_id: int, tags: dict[str, str]) -> None:
    row, _ = get_run(session, actor, run_id, min_role=Role.editor)
    _set_tags(session, row, tags)
    session.commit()


def _add_params(session: Session, run: RunRow, params: dict[str, str]) -> None:
    """Params are what the run was made of, so they are write-once: the same value again is
    fine, a different one is a conflict (log it as a new run, or as a tag)."""
    if not params:
        return
    rows = session.execute(
        select(ParamRow.key, ParamRow.value).where(
            ParamRow.run_id == run.id, ParamRow.key.in_(list(params))
        )
    )
    stored = {key: value for key, value in rows}
    for key, value in params.items():
        if key in stored and stored[key] != value:
            raise ConflictError(
                f"param {key!r} of run {run.id} is {stored[key]!r} already; params cannot change",
                field=f"params.{key}",
            )
    new = {k: v for k, v in params.items() if k not in stored}
    count = session.scalar(select(func.count()).where(ParamRow.run_id == run.id)) or 0
    if count + len(new) > MAX_PARAMS_PER_RUN:
        raise InvalidInputError(f"a run holds at most {MAX_PARAMS_PER_RUN} params", field="params")
    session.add_all(ParamRow(run_id=run.id, key=k, value=v) for k, v in new.items())


def _set_tags(session: Session, run: RunRow, tags: dict[str, str]) -> None:
    if not tags:
        return
    existing = {
        t.key: t
        for t in session.scalars(
            select(TagRow).where(TagRow.run_id == run.id, TagRow.key.in_(list(tags)))
        )
    }
    count = session.scalar(select(func.count()).where(TagRow.run_id == run.id)) or 0
    if count + len(set(tags) - set(existing)) > MAX_TAGS_PER_RUN:
        raise InvalidInputError(f"a run holds at most {MAX_TAGS_PER_RUN} tags", field="tags")
    for key, value in tags.items():
        if key in existing:
            existing[key].value = value
        else:
            session.add(TagRow(run_id=run.id, key=key, value=value))


def delete_tag(session: Session, actor: Actor, run_id: int, key: str) -> None:
    row, _ = get_run(session, actor, run_id, min_role=Role.editor)
    session.execute(delete(TagRow).where(TagRow.run_id == row.id, TagRow.key == key))
    session.commit()


def describe(session: Session, runs: Sequence[RunRow]) -> list[RunPublic]:
    """Runs with their params, tags and latest metrics, in a fixed number of queries."""
    ids = [r.id for r in runs]
    params = _by_run(session, ParamRow, ids)
    tags = _by_run(session, TagRow, ids)
    metrics: dict[int, dict[str, float | str]] = defaultdict(dict)
    for run_id, key, value in session.execute(
        select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value).where(
            LatestMetricRow.run_id.in_(ids)
        )
    ):
        metrics[run_id][key] = encode_number(value)
    users = usernames_by_id(session, {r.user_id for r in runs if r.user_id})
    projects = slugs_by_id(session, {r.project_id for r in runs})
    return [
        RunPublic(
            id=r.id,
            project=projects[r.project_id],
            name=r.name,
            status=r.status,  # type: ignore[arg-type]
            user=users.get(r.user_id) if r.user_id else None,
            source=r.source,
            entrypoint=r.entrypoint,
            arguments=list(r.arguments or []),
            commit=r.commit,
            dirty=r.dirty,
            error=r.error,
            started_at=r.started_at,
            ended_at=r.ended_at,
            duration_seconds=(r.ended_at - r.started_at).total_seconds() if r.ended_at else None,
            params=dict(sorted(params[r.id].items())),
            tags=dict(sorted(tags[r.id].items())),
            metrics=dict(sorted(metrics[r.id].items())),
        )
        for r in runs
    ]


def _by_run(
    session: Session, table: type[ParamRow] | type[TagRow], ids: Collection[int]
) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for run_id, key, value in session.execute(
        select(table.run_id, table.key, table.value).where(table.run_id.in_(ids))
    ):
        found[run_id][key] = value
    return found


def run_names(session: Session, run_ids: Collection[int]) -> dict[int, str]:
    rows = session.execute(select(RunRow.id, RunRow.name).where(RunRow.id.in_(run_ids)))
    return {key: value for key, value in rows}


def latest_values(session: Session, run_id: int) -> dict[str, float | None]:
    """Each metric's newest value (NaN as None), e.g. to copy onto a model version."""
    rows = session.execute(
        select(LatestMetricRow.key, LatestMetricRow.value).where(LatestMetricRow.run_id == run_id)
    )
    return {key: value for key, value in rows}


def has_logs(session: Session, run_id: int) -> bool:
    return session.get(RunLogRow, run_id) is not None


LOWER_IS_BETTER = ("loss", "error", "mae", "rmse", "mse")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of the metric is the better one, read from its name."""
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


@dataclass(frozen=True)
class BestRuns:
    metric: str | None  # the metric most finished runs log; None when none logs one
    lower_is_better: bool
    runs: list[tuple[RunPublic, float]]
    run_count: int  # every run of the project, finished or not


def best_runs(session: Session, project_id: int, limit: int = 5) -> BestRuns:
    """The finished runs that did best on the metric most finished runs log (ties: newest)."""
    run_count = (
        session.scalar(select(func.count(RunRow.id)).where(RunRow.project_id == project_id)) or 0
    )
    finished = select(RunRow.id).where(RunRow.project_id == project_id, RunRow.status == "finished")
    counts = session.execute(
        select(LatestMetricRow.key, func.count())
        .where(LatestMetricRow.run_id.in_(finished), LatestMetricRow.value.is_not(None))
        .group_by(LatestMetricRow.key)
    ).all()
    if not counts:
        return BestRuns(None, False, [], run_count)
    metric = min(counts, key=lambda pair: (-pair[1], pair[0]))[0]
    lower = lower_is_better(metric)
    rows = session.execute(
        select(RunRow, LatestMetricRow.value)
        .join(LatestMetricRow, LatestMetricRow.run_id == RunRow.id)
        .where(
            RunRow.id.in_(finished),
            LatestMetricRow.key == metric,
            LatestMetricRow.value.is_not(None),
        )
        .order_by(
            LatestMetricRow.value.asc() if lower else LatestMetricRow.value.desc(),
            RunRow.id.desc(),
        )
        .limit(limit)
    ).all()
    described = describe(session, [run for run, _ in rows])
    values = [value for _, value in rows if value is not None]  # NULL (NaN) filtered above
    return BestRuns(metric, lower, list(zip(described, values, strict=True)), run_count)


def newest_run_names(session: Session, project_id: int, limit: int) -> dict[int, str]:
    """The project's newest runs, id → name, newest first."""
    rows = session.execute(
        select(RunRow.id, RunRow.name)
        .where(RunRow.project_id == project_id)
        .order_by(RunRow.id.desc())
        .limit(limit)
    ).all()
    return {run_id: name for run_id, name in rows}
