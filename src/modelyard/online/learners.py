"""Learners of online variants: which variants learn, their rows, pause/resume, checkpoint
on demand, rollback to a checkpoint, and what a learner publishes."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.db import utcnow
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.online.feedback import feedback_head
from modelyard.online.learning import Progress
from modelyard.online.schemas import LearnerPublic
from modelyard.online.states import StateStore
from modelyard.online.tables import FeedbackRow, LearnerRow, LearnerSampleRow
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
        swap(session, learner, base_sha256=base_sha256, state_sha256="", updated_at=utcnow())
        session.commit()
        session.refresh(learner)
    return learner


def swap(session: Session, learner: LearnerRow, **values: Any) -> int:
    """Replace a learner's state only if no one else did since it was read: compare-and-set
    on `state_seq`, the generation a learner publishes against (a rollback racing a
    publication must not be undone by it). Answers the new generation; 409 if it moved."""
    expected = learner.state_seq
    done = session.execute(
        update(LearnerRow)
        .where(LearnerRow.id == learner.id, LearnerRow.state_seq == expected)
        .values(state_seq=expected + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ConflictError("the learner's state changed meanwhile; try again", field="generation")
    return expected + 1


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
    sha256 = states.import_version(chosen, model)  # slow on S3: a publication may land first
    swap(session, learner, state_sha256=sha256, published_at=utcnow(), updated_at=utcnow())
    event(
        session,
        endpoint.id,
        "rollback",
        f"{actor.username} rolled {row.name} back to {model.name} v{chosen.version}",
    )
    session.commit()
    session.refresh(learner)
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
    values: dict[str, Any] = {
        "cursor": int(header["cursor"]),
        "progress": dict(header["progress"]),
        "updated_at": now,
        "error": "",
    }
    if state:
        values["state_sha256"] = states.write(state, meta)
        values["published_at"] = now
    generation = swap(session, learner, **values)
    cursor = values["cursor"]
    lag_events = unlearned(session, learner.endpoint_id, cursor)
    delta = Progress.from_json(header.get("delta") or {})
    session.execute(
        insert(LearnerSampleRow),
        [
            {
                "endpoint_id": learner.endpoint_id,
                "variant": _variant_name(session, learner),
                "ts": now.timestamp(),
                "cursor": cursor,
                "lag_events": lag_events,
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
            f"(ADWIN, at label #{Progress.from_json(values['progress']).last_drift_event})",
        )
    session.commit()
    return generation


def unlearned(session: Session, endpoint_id: int, cursor: int) -> int:
    """Labels of the endpoint after `cursor` (ids are shared by all endpoints: counted)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(FeedbackRow)
            .where(FeedbackRow.endpoint_id == endpoint_id, FeedbackRow.id > cursor)
        )
        or 0
    )


def lag_seconds(session: Session, endpoint_id: int, cursor: int, now: float) -> float:
    """How long the oldest label not yet learned has waited (0 when none waits): read from
    the stream itself, so a learner that died still shows its growing lag."""
    oldest = session.scalar(
        select(FeedbackRow.received_at)
        .where(FeedbackRow.endpoint_id == endpoint_id, FeedbackRow.id > cursor)
        .order_by(FeedbackRow.id)
        .limit(1)
    )
    return max(0.0, now - oldest) if oldest is not None else 0.0


def _variant_name(session: Session, learner: LearnerRow) -> str:
    row = session.get(VariantRow, learner.variant_id)
    return row.name if row is not None else ""


def describe(
    session: Session, learner: LearnerRow, variant: VariantRow, running: bool, alive: bool
) -> LearnerPublic:
    progress = Progress.from_json(learner.progress or {})
    head = feedback_head(session, learner.endpoint_id)
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
        lag_events=unlearned(session, learner.endpoint_id, learner.cursor),
        lag_seconds=lag_seconds(session, learner.endpoint_id, learner.cursor, time.time()),
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
