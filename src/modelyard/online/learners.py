"""Learners of online variants: which variants learn, their rows, pause/resume, checkpoint
on demand, rollback to a checkpoint, and what a learner publishes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.online.feedback import feedback_head
from modelyard.online.learning import Progress
from modelyard.online.schemas import LearnerPublic
from modelyard.online.states import StateStore
from modelyard.online.tables import LearnerRow, LearnerSampleRow
from modelyard.projects.schemas import Role
from modelyard.registry.service import ModelRow, ModelVersionRow, version_of
from modelyard.serving.service import EndpointEventRow, EndpointRow, VariantRow, get_endpoint
from modelyard.serving.spec import VariantSpec

PREDICT_FILE = "predict.py"


def is_learnable(variant: VariantSpec) -> bool:
    """River models learn by default; a project's `predict.py` learns when its Predictor
    class defines `learn` (read from the source, without running it)."""
    predict = Path(variant.code_dir) / PREDICT_FILE if variant.code_dir else None
    if predict is not None and predict.is_file():
        try:
            tree = ast.parse(predict.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            return False
        return any(
            isinstance(node, ast.ClassDef)
            and node.name == "Predictor"
            and any(
                isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "learn"
                for item in node.body
            )
            for node in tree.body
        )
    return variant.flavor == "river"


def base_version(session: Session, variant: VariantRow) -> tuple[ModelRow, ModelVersionRow]:
    model = session.get(ModelRow, variant.model_id)
    assert model is not None
    return model, version_of(session, model, variant.alias or str(variant.version))


def ensure_learner(session: Session, variant: VariantRow, base_sha256: str) -> LearnerRow:
    """The learner row of an online variant; when the variant now resolves to another
    registered version, the learner starts again from that version (same cursor)."""
    learner = session.scalar(select(LearnerRow).where(LearnerRow.variant_id == variant.id))
    if learner is None:
        learner = LearnerRow(
            variant_id=variant.id,
            endpoint_id=variant.endpoint_id,
            base_sha256=base_sha256,
            cursor=feedback_head(session, variant.endpoint_id),  # learns from now on
            progress={},
        )
        session.add(learner)
        session.commit()
    elif learner.base_sha256 != base_sha256:
        learner.base_sha256 = base_sha256
        learner.state_sha256 = ""
        learner.state_seq += 1
        learner.updated_at = utcnow()
        session.commit()
    return learner


def event(session: Session, endpoint_id: int, kind: str, message: str) -> None:
    session.add(EndpointEventRow(endpoint_id=endpoint_id, kind=kind, message=message))


def _variant(
    session: Session, actor: Actor, slug: str, name: str, variant: str, role: Role
) -> tuple[EndpointRow, VariantRow, LearnerRow]:
    endpoint, _ = get_endpoint(session, actor, slug, name, min_role=role)
    row = session.scalar(
        select(VariantRow).where(VariantRow.endpoint_id == endpoint.id, VariantRow.name == variant)
    )
    if row is None:
        raise NotFoundError(f"endpoint {name!r} has no variant {variant!r}", field="variant")
    learner = session.scalar(select(LearnerRow).where(LearnerRow.variant_id == row.id))
    if learner is None:
        raise NotFoundError(
            f"variant {variant!r} has no learner: it is not an online variant, or its "
            "endpoint has not run since it was added",
            field="variant",
        )
    return endpoint, row, learner


def set_paused(
    session: Session, actor: Actor, slug: str, name: str, variant: str, paused: bool
) -> LearnerRow:
    endpoint, row, learner = _variant(session, actor, slug, name, variant, Role.editor)
    if learner.paused != paused:
        learner.paused = paused
        learner.updated_at = utcnow()
        kind = "paused" if paused else "resumed"
        event(session, endpoint.id, kind, f"{actor.username} {kind} learning of {row.name}")
        session.commit()
    return learner


def request_checkpoint(
    session: Session, actor: Actor, slug: str, name: str, variant: str
) -> LearnerRow:
    _, _, learner = _variant(session, actor, slug, name, variant, Role.editor)
    if not learner.state_sha256:
        raise ConflictError(
            f"{variant!r} has learned nothing since it started from its registered version: "
            "there is nothing new to checkpoint",
            field="variant",
        )
    learner.checkpoint_requested = True
    session.commit()
    return learner


def rollback(
    session: Session,
    actor: Actor,
    states: StateStore,
    slug: str,
    name: str,
    variant: str,
    version: int,
) -> LearnerRow:
    """Serve a registered version of the variant's model (a checkpoint, usually) and learn on
    from it; the feedback already learned is not learned again."""
    endpoint, row, learner = _variant(session, actor, slug, name, variant, Role.editor)
    model = session.get(ModelRow, row.model_id)
    assert model is not None
    try:
        chosen = version_of(session, model, str(version))
    except NotFoundError as error:
        raise InvalidInputError(error.message, field="version") from None
    learner.state_sha256 = states.import_version(chosen, model)
    learner.state_seq += 1
    learner.published_at = utcnow()
    learner.updated_at = utcnow()
    event(
        session,
        endpoint.id,
        "rollback",
        f"{actor.username} rolled {row.name} back to {model.name} v{chosen.version}",
    )
    session.commit()
    return learner


def accept(
    session: Session,
    states: StateStore,
    learner: LearnerRow,
    header: dict[str, Any],
    state: bytes,
    meta: dict[str, object],
) -> int:
    """Store one publication of a learner: the state, its cursor and totals at once."""
    if header.get("generation") != learner.state_seq:
        raise ConflictError("the learner's state was replaced", field="generation")
    now = utcnow()
    if state:
        learner.state_sha256 = states.write(state, meta)
        learner.published_at = now
    learner.cursor = int(header["cursor"])
    learner.progress = dict(header["progress"])
    learner.state_seq += 1
    learner.updated_at = now
    delta = Progress.from_json(header.get("delta") or {})
    session.execute(
        insert(LearnerSampleRow),
        [
            {
                "endpoint_id": learner.endpoint_id,
                "variant": _variant_name(session, learner),
                "ts": now.timestamp(),
                "cursor": learner.cursor,
                "lag_events": int(header.get("lag_events", 0)),
                "lag_seconds": float(header.get("lag_seconds", 0.0)),
                "scored": delta.scored,
                "correct": delta.correct,
                "abs_sum": delta.abs_sum,
                "sq_sum": delta.sq_sum,
                "learned": delta.learned,
                "skipped": delta.skipped,
                "drifts": delta.drifts,
            }
        ],
    )
    if delta.drifts:
        event(
            session,
            learner.endpoint_id,
            "drift",
            f"{_variant_name(session, learner)}: its error stream drifted "
            f"(ADWIN, at label #{Progress.from_json(learner.progress).last_drift_event})",
        )
    session.commit()
    return learner.state_seq


def _variant_name(session: Session, learner: LearnerRow) -> str:
    row = session.get(VariantRow, learner.variant_id)
    return row.name if row is not None else ""


def describe(
    session: Session, learner: LearnerRow, variant: VariantRow, running: bool, alive: bool
) -> LearnerPublic:
    progress = Progress.from_json(learner.progress or {})
    head = feedback_head(session, learner.endpoint_id)
    last = session.scalar(
        select(LearnerSampleRow)
        .where(LearnerSampleRow.endpoint_id == learner.endpoint_id)
        .where(LearnerSampleRow.variant == variant.name)
        .order_by(LearnerSampleRow.id.desc())
        .limit(1)
    )
    if not running:
        state = "stopped"
    elif learner.paused:
        state = "paused"
    else:
        state = "learning" if alive else "starting"
    scored = progress.scored
    prequential: dict[str, float | None]
    if progress.abs_sum or progress.sq_sum:
        prequential = {
            "mae": progress.abs_sum / scored if scored else None,
            "rmse": (progress.sq_sum / scored) ** 0.5 if scored else None,
        }
    else:
        prequential = {"accuracy": progress.correct / scored if scored else None}
    model = session.get(ModelRow, variant.model_id)
    serving = f"{model.name if model else '?'} as registered"
    if learner.state_sha256:
        serving = f"learned state {learner.state_sha256[:12]}"
    return LearnerPublic(
        variant=variant.name,
        state=state,
        paused=learner.paused,
        cursor=learner.cursor,
        head=head,
        lag_events=max(0, head - learner.cursor),
        lag_seconds=last.lag_seconds if last is not None else 0.0,
        publications=learner.state_seq,
        published_at=learner.published_at,
        learned=progress.learned,
        scored=scored,
        skipped=progress.skipped,
        late=progress.late,
        prequential=prequential,
        drifts=progress.drifts,
        checkpoint_version=learner.checkpoint_version,
        checkpointed_at=learner.checkpointed_at,
        serving=serving,
        error=learner.error,
    )
