"""Variants of an endpoint: a model version (fixed, or following an alias) plus the
project's prediction code at a commit, a weight and a mode."""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.code.service import RepoStore, file_mode, resolve_ref
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.projects.schemas import Role
from modelyard.projects.service import ProjectRow
from modelyard.registry.service import ModelRow, find_model, version_of
from modelyard.serving.schemas import VariantCreate, VariantUpdate
from modelyard.serving.service import (
    get_endpoint,
    mark_code,
    record_weights,
    target_of,
    variants_of,
)
from modelyard.serving.tables import EndpointRow, VariantRow

PREDICTOR_FILE = "predict.py"


# --- variants ----------------------------------------------------------------------------


def _model(session: Session, project: ProjectRow, name: str) -> ModelRow:
    model = find_model(session, project, name)
    if model is None:
        raise InvalidInputError(f"no model {name!r} in project {project.slug!r}", field="model")
    return model


def _code_commit(repos: RepoStore, project: ProjectRow, code: str | None) -> tuple[str, str | None]:
    """(the ref as asked, the commit whose predict.py serves or None for the flavor default)."""
    if code == "":
        return "", None
    if code is None:
        if repos.is_empty(project.slug):
            return "", None
        commit = resolve_ref(repos, project.slug, "HEAD")
        found = file_mode(repos, project.slug, commit, PREDICTOR_FILE) is not None
        return ("HEAD", commit) if found else ("", None)
    try:
        commit = resolve_ref(repos, project.slug, code)
    except (ConflictError, InvalidInputError) as error:
        raise InvalidInputError(error.message, field="code") from None
    if file_mode(repos, project.slug, commit, PREDICTOR_FILE) is None:
        raise InvalidInputError(
            f"there is no {PREDICTOR_FILE} at {code!r} ({commit[:8]}) in {project.slug!r}; "
            "push one, or pass code='' to serve with the model flavor's default predictor",
            field="code",
        )
    return code, commit


def add_variant(
    session: Session, actor: Actor, repos: RepoStore, slug: str, name: str, data: VariantCreate
) -> VariantRow:
    endpoint, project = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    variants = variants_of(session, [endpoint.id])[endpoint.id]
    if any(v.name == data.name for v in variants):
        raise ConflictError(f"endpoint {name!r} already has a variant {data.name!r}", field="name")
    model = _model(session, project, data.model)
    version = version_of(session, model, data.version)
    code_ref, commit = _code_commit(repos, project, data.code)
    batching = data.batching
    if batching is None:
        batching = version.flavor == "sklearn" and commit is None
    follows_alias = not data.version.isdigit()
    row = VariantRow(
        endpoint_id=endpoint.id,
        name=data.name,
        model_id=model.id,
        version=None if follows_alias else version.version,
        alias=data.version if follows_alias else None,
        code_ref=code_ref,
        code_commit=commit,
        weight=float(data.weight),
        mode=data.mode,
        batching=batching,
        max_wait_ms=float(data.max_wait_ms),
        max_batch_size=data.max_batch_size,
    )
    session.add(row)
    endpoint.updated_at = utcnow()
    audit.record(
        session,
        "endpoint.variant_added",
        actor=actor.username,
        target=target_of(slug, endpoint),
        variant=data.name,
        model=f"{data.model}@{data.version}",
        weight=row.weight,
    )
    session.flush()
    record_weights(session, actor, endpoint, [*variants, row])
    session.commit()
    mark_code(session, project, endpoint, row, live=True)
    return row


def _variant(session: Session, endpoint: EndpointRow, name: str) -> VariantRow:
    for row in variants_of(session, [endpoint.id])[endpoint.id]:
        if row.name == name:
            return row
    raise NotFoundError(f"endpoint {endpoint.name!r} has no variant {name!r}", field="variant")


def update_variant(
    session: Session, actor: Actor, slug: str, name: str, variant: str, data: VariantUpdate
) -> VariantRow:
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    row = _variant(session, endpoint, variant)
    changes = data.model_dump(exclude_none=True)
    if data.version is not None:
        model = session.get(ModelRow, row.model_id)
        assert model is not None  # the foreign key cascades
        version = version_of(session, model, data.version)
        follows_alias = not data.version.isdigit()
        row.version = None if follows_alias else version.version
        row.alias = data.version if follows_alias else None
    for field in ("weight", "mode", "batching", "max_wait_ms", "max_batch_size"):
        if field in changes:
            setattr(row, field, float(changes[field]) if field == "weight" else changes[field])
    if changes.get("mode") == "shadow" and "weight" not in changes:
        row.weight = 0.0  # a shadow gets a copy of the traffic, not a share of it
    endpoint.updated_at = utcnow()
    audit.record(
        session,
        "endpoint.variant_updated",
        actor=actor.username,
        target=target_of(slug, endpoint),
        variant=variant,
        **changes,
    )
    if {"weight", "mode"} & changes.keys():
        if row.mode == "shadow" and row.weight > 0:
            session.rollback()
            raise InvalidInputError(
                f"{variant!r} is a shadow variant: it gets a copy of all traffic, not a weight",
                field="weight",
            )
        now = variants_of(session, [endpoint.id])[endpoint.id]
        if endpoint.state == "running" and not any(v.mode == "live" and v.weight > 0 for v in now):
            session.rollback()
            raise ConflictError(
                f"the running endpoint {name!r} would have no live variant with traffic: "
                "give another variant traffic first, or stop the endpoint",
                field="weight" if "weight" in changes else "mode",
            )
        record_weights(session, actor, endpoint, now)
    session.commit()
    return row


def remove_variant(session: Session, actor: Actor, slug: str, name: str, variant: str) -> None:
    endpoint, project = get_endpoint(session, actor, slug, name, min_role=Role.editor)
    row = _variant(session, endpoint, variant)
    rest = [v for v in variants_of(session, [endpoint.id])[endpoint.id] if v.id != row.id]
    if endpoint.state == "running" and not any(v.mode == "live" and v.weight > 0 for v in rest):
        raise ConflictError(
            f"{variant!r} is the last live variant of the running endpoint {name!r}: "
            "stop the endpoint or give another variant traffic first",
            field="variant",
        )
    mark_code(session, project, endpoint, row, live=False)
    session.delete(row)
    endpoint.updated_at = utcnow()
    audit.record(
        session,
        "endpoint.variant_removed",
        actor=actor.username,
        target=target_of(slug, endpoint),
        variant=variant,
    )
    record_weights(session, actor, endpoint, rest)
    session.commit()
