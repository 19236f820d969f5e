"""Serving on the portal: a project's endpoints (state, split, replicas, live requests/s) with
a form to create one, and one endpoint's page: its URLs and a curl example, variants and
their weights, replicas, the supervisor's events, keys, live charts, model quality over a
chosen range and the learners of its online variants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.errors import ModelyardError
from modelyard.online.runtime import Online
from modelyard.online.schemas import LearnerPublic
from modelyard.online.service import learners_of
from modelyard.projects.service import describe
from modelyard.registry import service as registry
from modelyard.serving import keys, monitoring, service, views
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.serving.schemas import MAX_REPLICAS, EndpointCreate, EndpointName
from modelyard.web.charts import plotly_context
from modelyard.web.deploys import filled
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.endpoint_examples import (
    KEY_VARIABLE,
    curl_example,
    direct_url,
    example_inputs,
    signature_of,
)
from modelyard.web.endpoint_traffic import endpoint_lines
from modelyard.web.forms import parse
from modelyard.web.model_pages import may_edit
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

METRICS_WINDOW = 900
REFRESH_MS = 2000
QUALITY_REFRESH_MS = 10_000
# The model-quality range selector: a link each, so a chosen range survives a reload.
QUALITY_RANGES = {"15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400}
DEFAULT_RANGE = "15m"
RECENT_EVENTS = 20
DEPLOY_COMMAND = "modelyard deploy {model}@champion --endpoint {endpoint} --project {slug}"
NOTICES = {
    "created": "Endpoint created. Add a variant below, then start it.",
    "deployed": "Deployed: the endpoint is starting; its replicas answer within seconds.",
    "variant-added": "Variant added. Give it a weight below to send it traffic.",
    "variant-removed": "Variant removed.",
    "traffic-set": "Traffic split saved. Every replica follows it within a second.",
    "rolled-back": "Rolled back to the previous traffic split.",
    "started": "Endpoint starting: its replicas answer within seconds.",
    "stopped": "Endpoint stopped. Requests get 503 until it is started again.",
    "key-revoked": "Key revoked: requests carrying it are refused from now on.",
    "public": "The endpoint is public: anyone who can reach it may call it without a key.",
    "private": "The endpoint needs a key again.",
    "saved": "Settings saved.",
    "deleted": "Endpoint deleted: its replicas stop and its URL answers 404.",
    "learner-paused": "Learning paused: the variant keeps serving what it learned so far.",
    "learner-resumed": "Learning resumed: the learner catches up on the labels it missed.",
    "checkpointed": "Checkpoint saved: the learned state is now a registered model version.",
    "learner-rolled-back": "Rolled back: replicas serve that version within a second, and "
    "learning goes on from it.",
}
Replicas = Annotated[int, Field(ge=1, le=MAX_REPLICAS)]


class EndpointForm(BaseModel):
    """The "New endpoint" form; numbers arrive as text."""

    name: EndpointName
    description: str = ""
    min_replicas: Replicas = 1
    max_replicas: Replicas | None = None


def project_endpoints(
    request: Request,
    session: Session,
    actor: Actor,
    serving: Serving,
    slug: str,
    *,
    error: ModelyardError | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    rows, project = service.list_endpoints(session, actor, slug)
    base_url = request.app.state.settings.base_url
    models = registry.list_models(session, actor, slug)
    example_model = models[0].name if models else "MODEL"
    context: dict[str, Any] = {
        "project": describe(session, actor, [project])[0],
        "tab": "endpoints",
        "endpoints": endpoint_lines(
            session, [project], rows, serving.supervisor.replicas, base_url
        ),
        "has_models": bool(models),
        "deploy_command": DEPLOY_COMMAND.format(model=example_model, endpoint="NAME", slug=slug),
        "can_edit": may_edit(session, actor, project),
        "error": error,
        "notice": NOTICES.get(done or ""),
        "form": form or {},
    }
    return render(request, "endpoints.html", context, status=error.status_code if error else 200)


@router.get("/projects/{slug}/endpoints")
def endpoints_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    done: str | None = None,
) -> Response:
    return project_endpoints(request, session, actor, serving, slug, done=done)


@router.post("/projects/{slug}/endpoints")
def create_endpoint_submit(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    fields = {
        k: text_field(form, k) for k in ("name", "description", "min_replicas", "max_replicas")
    }
    try:
        data = parse(EndpointForm, filled(fields)).model_dump(exclude_none=True)
        data["public"] = text_field(form, "public") == "true"
        row = service.create_endpoint(session, actor, slug, parse(EndpointCreate, data))
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return project_endpoints(request, session, actor, serving, slug, error=error, form=fields)
    serving.changed()
    return RedirectResponse(f"/projects/{slug}/endpoints/{row.name}?done=created", status_code=303)


def endpoint_view(
    request: Request,
    session: Session,
    actor: Actor,
    serving: Serving,
    slug: str,
    name: str,
    *,
    error: ModelyardError | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
    new_key: str | None = None,
    quality_range: str = DEFAULT_RANGE,
) -> Response:
    row, project = service.get_endpoint(session, actor, slug, name)
    settings = request.app.state.settings
    endpoint = views.describe_endpoints(
        session, project, [row], serving.supervisor.replicas, settings.base_url
    )[0]
    can_edit = may_edit(session, actor, project)
    inputs = example_inputs(signature_of(session, project, endpoint.variants))
    api = f"/api/v1/projects/{slug}/endpoints/{name}"
    metrics_url = f"{api}/metrics?window={METRICS_WINDOW}"
    if quality_range not in QUALITY_RANGES:
        quality_range = DEFAULT_RANGE
    context: dict[str, Any] = {
        "project": describe(session, actor, [project])[0],
        "tab": "endpoints",
        "endpoint": endpoint,
        "live_variants": [v for v in endpoint.variants if v.mode == "live"],
        "can_edit": can_edit,
        "direct_url": direct_url(settings, endpoint),
        "curl": curl_example(endpoint.url, inputs, public=endpoint.public),
        "key_variable": KEY_VARIABLE,
        "summary": monitoring.endpoint_metrics(
            session,
            row.id,
            monitoring.SUMMARY_SECONDS,
            monitoring.SUMMARY_SECONDS,
            frozenset(v.name for v in endpoint.variants if v.mode == "shadow"),
        ).summary,
        "events": views.events(session, row.id, limit=RECENT_EVENTS),
        "keys": keys.list_keys(session, actor, slug, name) if can_edit else [],
        "models": registry.list_models(session, actor, slug) if can_edit else [],
        "plotly": plotly_context(),
        "chart_config": {
            "metrics": metrics_url,
            "endpoint": f"/api/v1/projects/{slug}/endpoints/{name}",
            "events": f"/api/v1/projects/{slug}/endpoints/{name}/events",
            "refresh_ms": REFRESH_MS,
            "shadows": [v.name for v in endpoint.variants if v.mode == "shadow"],
        },
        "learners": _learners(request, session, row),
        "quality_range": quality_range,
        "quality_ranges": list(QUALITY_RANGES),
        "quality_config": {
            "quality": f"{api}/quality",
            "drift": f"{api}/drift",
            "ranges": QUALITY_RANGES,
            "range": quality_range,
            "refresh_ms": QUALITY_REFRESH_MS,
        },
        "feedback_url": endpoint.url.removesuffix("/predict") + "/feedback",
        "new_key": new_key,
        "error": error,
        "notice": NOTICES.get(done or ""),
        "form": form or {},
    }
    return render(request, "endpoint.html", context, status=error.status_code if error else 200)


@router.get("/projects/{slug}/endpoints/{name}")
def endpoint_page(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    done: str | None = None,
    quality_range: Annotated[str, Query(alias="range", max_length=8)] = DEFAULT_RANGE,
) -> Response:
    return endpoint_view(
        request, session, actor, serving, slug, name, done=done, quality_range=quality_range
    )


def _learners(request: Request, session: Session, row: service.EndpointRow) -> list[LearnerPublic]:
    """The learners of the endpoint's online variants; "learning" only where a process runs."""
    online: Online = request.app.state.online
    alive = online.fleet.alive_ids()
    return learners_of(session, row, alive)
