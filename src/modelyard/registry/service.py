"""Models, versions and aliases. Model files are pickles, i.e. code: only editors of the
project may upload or download them; viewers see the metadata."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.service import usernames_by_id
from modelyard.accounts.tables import AuditEventRow
from modelyard.code.service import record_code_ref
from modelyard.data.service import inputs_of_runs
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.experiments.schemas import ModelOutput, encode_number
from modelyard.experiments.service import get_run, latest_values, run_names
from modelyard.projects.schemas import Role
from modelyard.projects.service import ProjectRow, get_project, require_writable
from modelyard.registry.schemas import (
    AliasEvent,
    Feature,
    ModelPublic,
    VersionCreate,
    VersionPublic,
)
from modelyard.registry.tables import ModelAliasRow as ModelAliasRow
from modelyard.registry.tables import ModelRow as ModelRow
from modelyard.registry.tables import ModelVersionRow as ModelVersionRow
from modelyard.storage import ArtifactStore
from modelyard.uploads import Spooled


def find_model(session: Session, project: ProjectRow, name: str) -> ModelRow | None:
    return session.scalars(
        select(ModelRow).where(ModelRow.project_id == project.id, ModelRow.name == name)
    ).first()


def get_model(
    session: Session, actor: Actor, slug: str, name: str, *, min_role: Role = Role.viewer
) -> tuple[ModelRow, ProjectRow]:
    project = get_project(session, actor, slug, min_role=min_role)
    model = find_model(session, project, name)
    if model is None:
        raise NotFoundError(f"no model {name!r} in project {slug!r}", field="model")
    return model, project


def list_models(session: Session, actor: Actor, slug: str) -> list[ModelPublic]:
    project = get_project(session, actor, slug)
    rows = session.scalars(
        select(ModelRow)
        .where(ModelRow.project_id == project.id)
        .order_by(ModelRow.updated_at.desc())
    ).all()
    return describe_models(session, project, rows)


def get_version(
    session: Session, actor: Actor, slug: str, name: str, ref: str, *, min_role: Role = Role.viewer
) -> tuple[ModelVersionRow, ModelRow, ProjectRow]:
    """A version by number ("3") or by alias ("champion")."""
    model, project = get_model(session, actor, slug, name, min_role=min_role)
    version = version_of(session, model, ref)
    return version, model, project


def version_of(session: Session, model: ModelRow, ref: str) -> ModelVersionRow:
    """A version of `model` by number ("3") or by alias ("champion"); callers check access."""
    if ref.isdigit():
        version = session.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id, ModelVersionRow.version == int(ref)
            )
        ).first()
    else:
        version = session.scalars(
            select(ModelVersionRow)
            .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
            .where(ModelAliasRow.model_id == model.id, ModelAliasRow.alias == ref)
        ).first()
    if version is None:
        what = f"version {ref}" if ref.isdigit() else f"alias {ref!r}"
        raise NotFoundError(f"model {model.name!r} has no {what}", field="version")
    return version


def _audit_alias(
    session: Session,
    actor: Actor,
    target: str,
    alias: str,
    version: int | None,
    alias_row: ModelAliasRow | None,
) -> None:
    """Record an alias move (or removal, version None) with the version it pointed at."""
    previous = (
        session.scalar(
            select(ModelVersionRow.version).where(ModelVersionRow.id == alias_row.version_id)
        )
        if alias_row is not None
        else None
    )
    if previous == version:
        return
    action = "model.alias_set" if version is not None else "model.alias_removed"
    audit.record(
        session,
        action,
        actor=actor.username,
        target=target,
        ip=actor.ip,
        alias=alias,
        version=version,
        previous=previous,
    )


def create_version(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    slug: str,
    name: str,
    data: VersionCreate,
    upload: Spooled,
) -> tuple[ModelVersionRow, ModelRow]:
    """Register a model file as the next version of `name` (created on first use)."""
    try:
        project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
        run_id: int | None = None
        commit: str | None = None
        if data.run_id is not None:
            run, run_project = get_run(session, actor, data.run_id, min_role=Role.editor)
            run_id, commit = run.id, run.commit
            if run_project.id != project.id:
                raise InvalidInputError(
                    f"run {data.run_id} belongs to another project", field="run_id"
                )
        model = find_model(session, project, name)
        if model is None:
            model = ModelRow(project_id=project.id, name=name, created_by_id=actor.id)
            session.add(model)
            session.flush()
        number = (
            session.scalar(
                select(func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.model_id == model.id
                )
            )
            or 0
        ) + 1
        key = f"models/{project.id}/{model.id}/{number}/model.bin"
        store.put_file(upload.path, key)
    finally:
        upload.discard()
    metrics = latest_values(session, run_id) if run_id is not None else {}
    version = ModelVersionRow(
        model_id=model.id,
        version=number,
        flavor=data.flavor,
        run_id=run_id,
        commit=commit,
        signature=[f.model_dump() for f in data.signature],
        metrics=metrics,
        python_class=data.python_class,
        library_versions=dict(data.library_versions),
        key=key,
        size_bytes=upload.size,
        sha256=upload.sha256,
        description=data.description,
        created_by_id=actor.id,
    )
    session.add(version)
    model.updated_at = utcnow()
    audit.record(
        session,
        "model.version_created",
        actor=actor.username,
        target=f"{slug}/{name}",
        ip=actor.ip,
        version=number,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        store.delete(key)
        raise ConflictError(
            f"another version of {name!r} was registered at the same moment; try again",
            field="version",
        ) from None
    if commit:
        record_code_ref(
            session,
            project.id,
            kind="model_version",
            object_id=f"{model.id}:{number}",
            commit=commit,
            label=f"{name} v{number}",
        )
    return version, model


def _alias_row(session: Session, model: ModelRow, alias: str) -> ModelAliasRow | None:
    return session.scalars(
        select(ModelAliasRow).where(
            ModelAliasRow.model_id == model.id, ModelAliasRow.alias == alias
        )
    ).first()


def set_alias(
    session: Session, actor: Actor, slug: str, name: str, alias: str, number: int
) -> ModelAliasRow:
    model, project = get_model(session, actor, slug, name, min_role=Role.editor)
    require_writable(project)
    version = version_of(session, model, str(number))
    row = _alias_row(session, model, alias)
    _audit_alias(session, actor, f"{slug}/{name}", alias, number, row)
    if row is None:
        row = ModelAliasRow(model_id=model.id, alias=alias, version_id=version.id)
        session.add(row)
    row.version_id, row.updated_by_id, row.updated_at = version.id, actor.id, utcnow()
    model.updated_at = utcnow()
    session.commit()
    return row


def delete_alias(session: Session, actor: Actor, slug: str, name: str, alias: str) -> None:
    model, project = get_model(session, actor, slug, name, min_role=Role.editor)
    require_writable(project)
    row = _alias_row(session, model, alias)
    if row is None:
        raise NotFoundError(f"model {name!r} has no alias {alias!r}", field="alias")
    _audit_alias(session, actor, f"{slug}/{name}", alias, None, row)
    session.delete(row)
    session.commit()


def alias_history(session: Session, actor: Actor, slug: str, name: str) -> list[AliasEvent]:
    """Who moved which alias when (from the audit log), newest first, for project members."""
    get_model(session, actor, slug, name)
    rows = session.scalars(
        select(AuditEventRow)
        .where(
            AuditEventRow.action.in_(["model.alias_set", "model.alias_removed"]),
            AuditEventRow.target == f"{slug}/{name}",
        )
        .order_by(AuditEventRow.id.desc())
        .limit(200)
    )
    return [
        AliasEvent(
            alias=str(r.detail.get("alias", "")),
            version=_int_or_none(r.detail.get("version")),
            previous=_int_or_none(r.detail.get("previous")),
            actor=r.actor,
            at=r.at,
        )
        for r in rows
    ]


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def delete_model(
    session: Session, actor: Actor, store: ArtifactStore, slug: str, name: str
) -> None:
    model, _ = get_model(session, actor, slug, name, min_role=Role.owner)
    keys = session.scalars(
        select(ModelVersionRow.key).where(ModelVersionRow.model_id == model.id)
    ).all()
    session.delete(model)
    audit.record(
        session, "model.deleted", actor=actor.username, target=f"{slug}/{name}", ip=actor.ip
    )
    session.commit()
    for key in keys:
        store.delete(key)


def _aliases(session: Session, model_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = defaultdict(dict)
    rows = session.execute(
        select(ModelAliasRow.model_id, ModelAliasRow.alias, ModelVersionRow.version)
        .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
        .where(ModelAliasRow.model_id.in_(model_ids))
        .order_by(ModelAliasRow.alias)
    )
    for model_id, alias, version in rows:
        found[model_id][alias] = version
    return found


def describe_models(
    session: Session, project: ProjectRow, rows: Sequence[ModelRow]
) -> list[ModelPublic]:
    ids = [m.id for m in rows]
    aliases = _aliases(session, ids)
    stats = {
        model_id: (latest, count)
        for model_id, latest, count in session.execute(
            select(ModelVersionRow.model_id, func.max(ModelVersionRow.version), func.count())
            .where(ModelVersionRow.model_id.in_(ids))
            .group_by(ModelVersionRow.model_id)
        )
    }
    users = usernames_by_id(session, {m.created_by_id for m in rows})
    return [
        ModelPublic(
            name=m.name,
            project=project.slug,
            description=m.description,
            latest_version=stats.get(m.id, (None, 0))[0],
            aliases=aliases[m.id],
            version_count=stats.get(m.id, (None, 0))[1],
            created_by=users.get(m.created_by_id) if m.created_by_id else None,
            created_at=m.created_at,
            updated_at=m.updated_at,
        )
        for m in rows
    ]


def list_versions(session: Session, actor: Actor, slug: str, name: str) -> list[VersionPublic]:
    model, project = get_model(session, actor, slug, name)
    rows = session.scalars(
        select(ModelVersionRow)
        .where(ModelVersionRow.model_id == model.id)
        .order_by(ModelVersionRow.version.desc())
    ).all()
    return describe_versions(session, project, model, rows)


def describe_versions(
    session: Session, project: ProjectRow, model: ModelRow, rows: Sequence[ModelVersionRow]
) -> list[VersionPublic]:
    by_version: dict[int, list[str]] = defaultdict(list)
    for alias, version in _aliases(session, [model.id])[model.id].items():
        by_version[version].append(alias)
    run_ids = {v.run_id for v in rows if v.run_id}
    names = run_names(session, run_ids)
    inputs = inputs_of_runs(session, run_ids)
    users = usernames_by_id(session, {v.created_by_id for v in rows})
    return [
        VersionPublic(
            model=model.name,
            project=project.slug,
            version=v.version,
            flavor=v.flavor,  # type: ignore[arg-type]
            aliases=sorted(by_version[v.version]),
            run_id=v.run_id,
            run_name=names.get(v.run_id) if v.run_id else None,
            commit=v.commit,
            datasets=[
                i.dataset + (f"@{i.snapshot}" if i.snapshot else "")
                for i in (inputs[v.run_id] if v.run_id else [])
            ],
            signature=[Feature.model_validate(f) for f in v.signature],
            metrics={k: encode_number(val) for k, val in sorted(v.metrics.items())},
            python_class=v.python_class,
            library_versions=v.library_versions,
            size_bytes=v.size_bytes,
            sha256=v.sha256,
            description=v.description,
            created_by=users.get(v.created_by_id) if v.created_by_id else None,
            created_at=v.created_at,
        )
        for v in rows
    ]


def get_model_project_for_upload(session: Session, actor: Actor, slug: str) -> ProjectRow:
    """Check the uploader may register models here before reading a possibly large body."""
    return require_writable(get_project(session, actor, slug, min_role=Role.editor))


def versions_of_runs(session: Session, run_ids: Collection[int]) -> dict[int, list[ModelOutput]]:
    """The model versions each run produced."""
    found: dict[int, list[ModelOutput]] = defaultdict(list)
    rows = session.execute(
        select(ModelVersionRow.run_id, ModelRow.name, ModelVersionRow.version)
        .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
        .where(ModelVersionRow.run_id.in_(run_ids))
        .order_by(ModelRow.name, ModelVersionRow.version)
    )
    for run_id, name, version in rows:
        if run_id is not None:
            found[run_id].append(ModelOutput(model=name, version=version))
    return found
