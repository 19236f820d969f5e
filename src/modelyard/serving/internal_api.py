"""/internal/serving: what replica processes ask the control plane (their spec) and tell it
(telemetry). Authenticated by the pool token the supervisor gave the replica; not part of
the public API."""

from __future__ import annotations

import logging

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from modelyard.accounts.deps import SessionDep
from modelyard.errors import AuthenticationError, InvalidInputError
from modelyard.serving import ingest
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.serving.spec import Telemetry

log = logging.getLogger("modelyard.serving")
router = APIRouter(prefix="/internal/serving/endpoints/{endpoint_id}", include_in_schema=False)


def _authenticate(serving: Serving, endpoint_id: int, request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not serving.supervisor.check_token(endpoint_id, token):
        raise AuthenticationError("a replica's pool token is required")


@router.get("/spec")
def spec(endpoint_id: int, request: Request, serving: ServingDep, session: SessionDep) -> Response:
    _authenticate(serving, endpoint_id, request)
    current = serving.spec(session, endpoint_id)
    headers = {"ETag": current.version, "Cache-Control": "no-store"}
    if request.headers.get("if-none-match") == current.version:
        return Response(status_code=304, headers=headers)
    return Response(orjson.dumps(current.to_json()), media_type="application/json", headers=headers)


@router.post("/telemetry", status_code=204)
async def telemetry(endpoint_id: int, request: Request, serving: ServingDep) -> Response:
    _authenticate(serving, endpoint_id, request)
    try:
        report = Telemetry.from_json(orjson.loads(await request.body()))
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError) as error:
        raise InvalidInputError(f"not a telemetry report: {error}", field="body") from None
    serving.supervisor.report(endpoint_id, report)
    await run_in_threadpool(_store, serving, endpoint_id, report)
    # counted only once stored: a report the replica has to send again is not counted twice
    labels = serving.supervisor.labels(endpoint_id)
    if labels is not None:
        serving.totals.add(*labels, report)
    return Response(status_code=204)


def _store(serving: Serving, endpoint_id: int, report: Telemetry) -> None:
    with serving.session_factory() as session:
        try:
            ingest.store(session, endpoint_id, report)
        except IntegrityError:  # the endpoint was deleted while its replicas still reported
            session.rollback()
            return
        for listener in serving.report_listeners:
            # the report is stored: a listener's failure must not make the replica send it
            # again (it would be counted twice)
            try:
                listener(session, endpoint_id, report)
            except Exception:
                session.rollback()
                log.exception("endpoint %s: a report listener failed", endpoint_id)
