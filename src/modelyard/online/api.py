"""Feedback (`/serve/{p}/{e}/feedback`), learners and model quality of an endpoint."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts import sessions
from modelyard.accounts.csrf import check_csrf
from modelyard.accounts.deps import CurrentUser, SessionDep, find_actor
from modelyard.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.online import learners
from modelyard.online.feedback import Item, Outcome, parse
from modelyard.online.quality import endpoint_quality
from modelyard.online.runtime import Online, OnlineDep
from modelyard.online.schemas import (
    CheckpointAnswer,
    DriftReport,
    EndpointQuality,
    FeedbackAnswer,
    LearnerList,
    LearnerPublic,
    RollbackRequest,
)
from modelyard.online.service import learners_of
from modelyard.online.summaries import drift_series, feature_drift
from modelyard.projects.schemas import Role
from modelyard.serving.service import EndpointKeyRow, VariantRow, get_endpoint, key_hash

feedback_router = APIRouter(tags=["serving"], responses=ERROR_RESPONSES)
router = APIRouter(
    prefix="/api/v1/projects/{project}/endpoints/{endpoint}",
    tags=["online learning"],
    responses=ERROR_RESPONSES,
)
Window = Annotated[int, Query(ge=60, le=7 * 86400, description="seconds back from now")]
Step = Annotated[int | None, Query(ge=1, le=86400, description="seconds per point")]

LABEL = {
    "type": "object",
    "required": ["prediction_id", "label"],
    "properties": {
        "prediction_id": {"type": "string", "maxLength": 40},
        "label": {"oneOf": [{"type": "boolean"}, {"type": "string"}, {"type": "number"}]},
    },
    "additionalProperties": False,
}
FEEDBACK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    LABEL,
                    {"type": "array", "items": LABEL},
                    {
                        "type": "object",
                        "required": ["feedback"],
                        "properties": {
                            "feedback": {
                                "type": "array",
                                "items": LABEL,
                            }
                        },
                    },
                ]
            }
        }
    },
}


@feedback_router.post(
    "/serve/{project}/{endpoint}/feedback",
    response_model=FeedbackAnswer,
    summary="Labels for logged predictions, one or a batch; answered once stored",
    openapi_extra={"requestBody": FEEDBACK_BODY},
)
async def feedback(
    project: str, endpoint: str, request: Request, online: OnlineDep
) -> FeedbackAnswer:
    found = await run_in_threadpool(online.serving.route, project, endpoint)
    if found is None:
        raise NotFoundError(f"no endpoint {endpoint!r} in project {project!r}", field="endpoint")
    limit = online.settings.serving_max_body_bytes * 4
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLargeError(f"the body is over the limit of {limit} bytes", field="body")
    items = parse(body, online.settings.online_max_feedback)
    outcome = await run_in_threadpool(_ingest, online, request, project, endpoint, found[0], items)
    return FeedbackAnswer(
        accepted=outcome.accepted, duplicates=outcome.duplicates, late=outcome.late
    )


def _ingest(
    online: Online,
    request: Request,
    project: str,
    endpoint: str,
    endpoint_id: int,
    items: list[Item],
) -> Outcome:
    with online.session_factory() as session:
        _authorize(session, request, project, endpoint, endpoint_id, online.settings.secret_key)
        return online.feedback.ingest(session, endpoint_id, items)


def _authorize(
    session: Session,
    request: Request,
    project: str,
    endpoint: str,
    endpoint_id: int,
    secret_key: str,
) -> None:
    """An endpoint key (Bearer or X-API-Key), or a user who may edit the project. Labels
    teach the model, so a public endpoint still needs one of them."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = token or request.headers.get("x-api-key", "").strip()
    if token.startswith("mye_"):
        digest = key_hash(token)
        hashes = session.scalars(
            select(EndpointKeyRow.key_hash).where(
                EndpointKeyRow.endpoint_id == endpoint_id, EndpointKeyRow.revoked_at.is_(None)
            )
        )
        if any(hmac.compare_digest(digest, known) for known in hashes):
            return
        raise AuthenticationError("this endpoint key is not valid (revoked, or another endpoint's)")
    actor = find_actor(request, session)
    if actor is None:
        raise AuthenticationError(
            "feedback needs an endpoint key (Authorization: Bearer mye_...) or a project "
            "editor's token"
        )
    # a signed-in browser sends its cookie with any cross-site form post (a text/plain body
    # can be JSON), so a cookie counts only with the CSRF token, as for every other write
    if actor.via == "session" and not check_csrf(
        secret_key,
        request.cookies.get(sessions.CSRF_COOKIE_NAME),
        request.headers.get(sessions.CSRF_HEADER),
        request.cookies.get(sessions.COOKIE_NAME),
    ):
        raise PermissionDeniedError(
            f"cookie-authenticated writes must repeat the CSRF token in {sessions.CSRF_HEADER}"
        )
    get_endpoint(session, actor, project, endpoint, min_role=Role.editor)


@router.get("/learners", response_model=LearnerList)
def list_learners(
    project: str, endpoint: str, actor: CurrentUser, session: SessionDep, online: OnlineDep
) -> LearnerList:
    row, _ = get_endpoint(session, actor, project, endpoint)
    alive = online.fleet.alive_ids()
    return LearnerList(learners=learners_of(session, row, alive))


def _one(
    session: Session, online: Online, project: str, endpoint: str, variant: str, actor: CurrentUser
) -> LearnerPublic:
    row, _ = get_endpoint(session, actor, project, endpoint)
    alive = online.fleet.alive_ids()
    for learner in learners_of(session, row, alive):
        if learner.variant == variant:
            return learner
    raise NotFoundError(f"endpoint {endpoint!r} has no learner for {variant!r}", field="variant")


@router.post("/learners/{variant}/pause", response_model=LearnerPublic)
def pause(
    project: str,
    endpoint: str,
    variant: str,
    actor: CurrentUser,
    session: SessionDep,
    online: OnlineDep,
) -> LearnerPublic:
    learners.set_paused(session, actor, project, endpoint, variant, True)
    online.fleet.wake()
    return _one(session, online, project, endpoint, variant, actor)


@router.post("/learners/{variant}/resume", response_model=LearnerPublic)
def resume(
    project: str,
    endpoint: str,
    variant: str,
    actor: CurrentUser,
    session: SessionDep,
    online: OnlineDep,
) -> LearnerPublic:
    learners.set_paused(session, actor, project, endpoint, variant, False)
    online.fleet.wake()
    return _one(session, online, project, endpoint, variant, actor)


@router.post("/learners/{variant}/checkpoint", response_model=CheckpointAnswer)
def checkpoint(
    project: str,
    endpoint: str,
    variant: str,
    actor: CurrentUser,
    session: SessionDep,
    online: OnlineDep,
) -> CheckpointAnswer:
    """Register the learned state as a new model version now."""
    learner = learners.request_checkpoint(session, actor, project, endpoint, variant)
    number = online.fleet.checkpoint_now(learner.id, actor)
    return CheckpointAnswer(version=number)


@router.post("/learners/{variant}/rollback", response_model=LearnerPublic)
def rollback(
    project: str,
    endpoint: str,
    variant: str,
    body: RollbackRequest,
    actor: CurrentUser,
    session: SessionDep,
    online: OnlineDep,
) -> LearnerPublic:
    """Serve a registered version (a checkpoint) of the variant's model and learn on from it."""
    learners.rollback(session, actor, online.states, project, endpoint, variant, body.version)
    online.serving.changed()
    online.fleet.wake()
    return _one(session, online, project, endpoint, variant, actor)


@router.get("/quality", response_model=EndpointQuality)
def quality(
    project: str,
    endpoint: str,
    actor: CurrentUser,
    session: SessionDep,
    window: Window = 900,
    step: Step = None,
) -> EndpointQuality:
    """Live accuracy (or MAE/RMSE) per variant against the baseline, label coverage and
    delay, the learners' lag, an A/B read-out against the heaviest live variant, markers."""
    row, _ = get_endpoint(session, actor, project, endpoint)
    step = step or max(1, window // 120)
    champion = session.scalar(
        select(VariantRow.name)
        .where(VariantRow.endpoint_id == row.id, VariantRow.mode == "live")
        .order_by(VariantRow.weight.desc(), VariantRow.id)
        .limit(1)
    )
    return endpoint_quality(session, row.id, window, min(step, window), champion)


@router.get("/drift", response_model=DriftReport)
def drift(
    project: str,
    endpoint: str,
    actor: CurrentUser,
    session: SessionDep,
    window: Window = 3600,
    step: Step = None,
) -> DriftReport:
    """Feature and prediction drift of live traffic against the champion's reference (its
    training snapshot, or its first live predictions): PSI, KS or chi-squared per feature
    over the window, and PSI per step for a chart. Steps are whole minutes."""
    row, _ = get_endpoint(session, actor, project, endpoint)
    step = max(60, (step or window // 60) // 60 * 60)
    return DriftReport(
        features=feature_drift(session, row.id, window),
        series=drift_series(session, row.id, window, min(step, window // 60 * 60 or 60)),
    )
