"""Alerts on the portal: a project's alerts with their history (state, values, webhook
outcome), acknowledge and resolve buttons for editors, and the rules of its endpoints with a
form to add one and a button to delete one. Webhook URLs are shown only by their host."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.errors import InvalidInputError, ModelyardError
from modelyard.monitoring import service
from modelyard.monitoring.schemas import FIGURES, AlertRuleCreate, AlertState
from modelyard.monitoring.webhooks import Sealer
from modelyard.projects.service import describe
from modelyard.serving import service as serving
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.model_pages import may_edit
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
STATES = ("firing", "acknowledged", "resolved")
RULE_FIELDS = (
    "endpoint",
    "name",
    "figure",
    "variant",
    "op",
    "threshold",
    "window_seconds",
    "for_seconds",
    "severity",
    "webhook",
)
NOTICES = {
    "acknowledged": "Alert acknowledged: it stays open until its figure recovers.",
    "resolved": "Alert resolved. It fires again if its figure stays beyond the threshold.",
    "rule-added": "Rule added: it is evaluated every few seconds from now on.",
    "rule-deleted": "Rule deleted, with the history of its alerts.",
}


class RuleForm(BaseModel):
    """The "New rule" form; numbers arrive as text."""

    name: str
    figure: str
    variant: str | None = None
    op: str
    threshold: float
    window_seconds: int = 300
    for_seconds: int = 0
    severity: str = "warning"
    webhook: str = ""


def _box(request: Request) -> Sealer:
    box: Sealer = request.app.state.secret_box
    return box


def alerts_view(
    request: Request,
    session: Session,
    actor: Actor,
    slug: str,
    *,
    state: str | None = None,
    error: ModelyardError | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    wanted: AlertState | None = state if state in STATES else None  # type: ignore[assignment]
    rows, project = service.list_alerts(session, actor, slug, state=wanted)
    rules, _ = service.list_rules(session, actor, slug)
    endpoints, _ = serving.list_endpoints(session, actor, slug)
    context: dict[str, Any] = {
        "project": describe(session, actor, [project])[0],
        "tab": "alerts",
        "alerts": service.describe_alerts(session, project, rows),
        "rules": service.describe_rules(session, _box(request), project, rules),
        "endpoints": [e.name for e in endpoints],
        "figures": FIGURES,
        "state": wanted,
        "states": STATES,
        "can_edit": may_edit(session, actor, project),
        "error": error,
        "notice": NOTICES.get(done or ""),
        "form": form or {},
    }
    return render(request, "alerts.html", context, status=error.status_code if error else 200)


@router.get("/projects/{slug}/alerts")
def alerts_page(
    request: Request,
    slug: str,
    actor: PortalUser,
    session: SessionDep,
    state: str | None = None,
    done: str | None = None,
) -> Response:
    return alerts_view(request, session, actor, slug, state=state, done=done)


def _done(slug: str, done: str) -> Response:
    return RedirectResponse(f"/projects/{slug}/alerts?done={done}", status_code=303)


def _failed(
    request: Request,
    session: Session,
    actor: Actor,
    slug: str,
    error: ModelyardError,
    form: dict[str, str] | None = None,
) -> Response:
    session.rollback()
    if error.status_code == 404 and error.field != "endpoint":
        raise error
    return alerts_view(request, session, actor, slug, error=error, form=form)


@router.post("/projects/{slug}/alerts/{alert_id}/acknowledge")
def acknowledge_submit(
    request: Request,
    slug: str,
    alert_id: Id,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    try:
        service.acknowledge_alert(session, actor, slug, alert_id)
    except ModelyardError as error:
        return _failed(request, session, actor, slug, error)
    return _done(slug, "acknowledged")


@router.post("/projects/{slug}/alerts/{alert_id}/resolve")
def resolve_submit(
    request: Request,
    slug: str,
    alert_id: Id,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    try:
        service.resolve_alert(session, actor, slug, alert_id)
    except ModelyardError as error:
        return _failed(request, session, actor, slug, error)
    return _done(slug, "resolved")


@router.post("/projects/{slug}/alert-rules")
def create_rule_submit(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    fields = {k: text_field(form, k).strip() for k in RULE_FIELDS}
    try:
        if not fields["endpoint"]:
            raise InvalidInputError("choose the endpoint the rule watches", field="endpoint")
        given = {k: v for k, v in fields.items() if v != "" and k != "endpoint"}
        data = parse(RuleForm, given).model_dump(exclude_none=True)
        rule = parse(AlertRuleCreate, data)
        service.create_rule(session, actor, _box(request), slug, fields["endpoint"], rule)
    except ModelyardError as error:
        fields.pop("webhook")  # a secret is not sent back into the page
        return _failed(request, session, actor, slug, error, form=fields)
    return _done(slug, "rule-added")


@router.post("/projects/{slug}/alert-rules/{rule_id}/delete")
def delete_rule_submit(
    request: Request,
    slug: str,
    rule_id: Id,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    try:
        service.delete_rule(session, actor, slug, text_field(form, "endpoint"), rule_id)
    except ModelyardError as error:
        return _failed(request, session, actor, slug, error)
    return _done(slug, "rule-deleted")
