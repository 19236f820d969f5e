"""/internal/online/learners/{id}: what learner processes ask (where to start, the next
labelled examples) and tell (a new state with its cursor). Authenticated by the token the
fleet gave the learner; not part of the public API. See `online/learner.py`."""

from __future__ import annotations

import hmac

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from modelyard.accounts.deps import SessionDep
from modelyard.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
)
from modelyard.online import learners
from modelyard.online.learner import decode_publication
from modelyard.online.runtime import Online, OnlineDep
from modelyard.online.states import base_meta
from modelyard.online.tables import FeedbackRow, LearnerRow
from modelyard.serving.service import VariantRow

router = APIRouter(prefix="/internal/online/learners/{learner_id}", include_in_schema=False)


def _authenticate(online: Online, learner_id: int, request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = online.fleet.token(learner_id)
    if (
        scheme.lower() != "bearer"
        or expected is None
        or not hmac.compare_digest(expected.encode(), token.encode())
    ):
        raise AuthenticationError("a learner's token is required")


def _learner(online: Online, session: Session, learner_id: int, request: Request) -> LearnerRow:
    _authenticate(online, learner_id, request)
    learner = session.get(LearnerRow, learner_id)
    if learner is None:
        raise NotFoundError(f"no learner {learner_id}", field="learner")
    return learner


@router.get("/start")
def start(learner_id: int, request: Request, online: OnlineDep, session: SessionDep) -> Response:
    learner = _learner(online, session, learner_id, request)
    variant = session.get(VariantRow, learner.variant_id)
    assert variant is not None
    spec = online.serving.spec(session, learner.endpoint_id)
    if variant.name not in {v.name for v in spec.variants}:
        raise ConflictError(f"variant {variant.name!r} is not served", field="variant")
    body = {
        "spec": spec.to_json(),
        "variant": variant.name,
        "cursor": learner.cursor,
        "progress": learner.progress or {},
        "generation": learner.state_seq,
        "score": online.settings.online_score,
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/feedback")
def feedback(
    learner_id: int,
    request: Request,
    online: OnlineDep,
    session: SessionDep,
    after: int = Query(ge=0),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> Response:
    """Labelled examples after `after`, in order: [id, inputs, label, served output, late]."""
    learner = _learner(online, session, learner_id, request)
    # The JSON columns as the text they are stored as, spliced into the answer: decoding
    # and encoding them again cost more than the query (the learner decodes them once).
    rows = session.execute(
        select(
            FeedbackRow.id,
            cast(FeedbackRow.inputs, Text).label("inputs"),
            cast(FeedbackRow.label, Text).label("label"),
            cast(FeedbackRow.output, Text).label("output"),
            FeedbackRow.late,
            FeedbackRow.received_at,
        )
        .where(FeedbackRow.endpoint_id == learner.endpoint_id, FeedbackRow.id > after)
        .order_by(FeedbackRow.id)
        .limit(limit)
    ).all()
    events = b",".join(
        b"[%d,%s,%s,%s,%s]"
        % (
            r.id,
            r.inputs.encode(),
            r.label.encode(),
            r.output.encode(),
            b"true" if r.late else b"false",
        )
        for r in rows
    )
    head, head_at = (rows[-1].id, rows[-1].received_at) if rows else (after, 0.0)
    if len(rows) == limit:  # more to come: the lag is measured against the stream's end
        newest = session.execute(
            select(FeedbackRow.id, FeedbackRow.received_at)
            .where(FeedbackRow.endpoint_id == learner.endpoint_id)
            .order_by(FeedbackRow.id.desc())
            .limit(1)
        ).first()
        if newest is not None:
            head, head_at = newest.id, rows[-1].received_at
    tail = orjson.dumps({"head": head, "head_at": head_at})
    return Response(b'{"events":[' + events + b"]," + tail[1:], media_type="application/json")


@router.post("/state")
async def publish(
    learner_id: int, request: Request, online: OnlineDep, session: SessionDep
) -> Response:
    _authenticate(online, learner_id, request)  # before reading what may be a large body
    limit = online.settings.artifact_max_bytes
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit:
        raise PayloadTooLargeError(
            f"a learner's state is limited to MODELYARD_ARTIFACT_MAX_BYTES ({limit} bytes)",
            field="body",
        )
    body = await request.body()
    try:
        header, state = decode_publication(body)
        int(header["cursor"])
        dict(header["progress"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as error:
        raise InvalidInputError(f"not a learner publication: {error}", field="body") from None
    generation = await run_in_threadpool(
        _accept, online, session, learner_id, request, header, state
    )
    return Response(orjson.dumps({"generation": generation}), media_type="application/json")


def _accept(
    online: Online,
    session: Session,
    learner_id: int,
    request: Request,
    header: dict[str, object],
    state: bytes,
) -> int:
    learner = _learner(online, session, learner_id, request)
    if learner.paused:
        raise ConflictError("learning is paused", field="paused")
    variant = session.get(VariantRow, learner.variant_id)
    assert variant is not None
    model, version = learners.base_version(session, variant)
    if version.sha256 != learner.base_sha256:
        raise ConflictError("the variant now serves another version", field="version")
    generation = learners.accept(
        session, online.states, learner, header, state, base_meta(model, version)
    )
    if state:
        # replicas fetch the spec naming the new state at their next poll
        online.serving.spec_changed(learner.endpoint_id)
    online.fleet.after_publication(learner_id)
    return generation
