"""/api/v1/projects/{p}: alert rules of an endpoint, and the project's alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from modelyard.accounts.deps import CurrentUser, SessionDep
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.monitoring import service
from modelyard.monitoring.schemas import (
    AlertList,
    AlertPublic,
    AlertRuleCreate,
    AlertRuleList,
    AlertRulePublic,
    AlertRuleUpdate,
    AlertState,
)
from modelyard.monitoring.webhooks import Sealer

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["alerts"], responses=ERROR_RESPONSES)
RULES = "/endpoints/{endpoint}/alert-rules"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_box(request: Request) -> Sealer:
    box: Sealer = request.app.state.secret_box
    return box


BoxDep = Annotated[Sealer, Depends(get_box)]


@router.get(RULES, response_model=AlertRuleList)
def list_rules(
    project: str, endpoint: str, actor: CurrentUser, session: SessionDep, box: BoxDep
) -> AlertRuleList:
    rows, project_row = service.list_rules(session, actor, project, endpoint)
    return AlertRuleList(items=service.describe_rules(session, box, project_row, rows))


@router.post(RULES, response_model=AlertRulePublic, status_code=status.HTTP_201_CREATED)
def create_rule(
    project: str,
    endpoint: str,
    body: AlertRuleCreate,
    actor: CurrentUser,
    session: SessionDep,
    box: BoxDep,
) -> AlertRulePublic:
    rule, project_row = service.create_rule(session, actor, box, project, endpoint, body)
    return service.describe_rules(session, box, project_row, [rule])[0]


@router.patch(RULES + "/{rule_id}", response_model=AlertRulePublic)
def update_rule(
    project: str,
    endpoint: str,
    rule_id: Id,
    body: AlertRuleUpdate,
    actor: CurrentUser,
    session: SessionDep,
    box: BoxDep,
) -> AlertRulePublic:
    rule, project_row = service.update_rule(session, actor, box, project, endpoint, rule_id, body)
    return service.describe_rules(session, box, project_row, [rule])[0]


@router.delete(RULES + "/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(
    project: str, endpoint: str, rule_id: Id, actor: CurrentUser, session: SessionDep
) -> None:
    service.delete_rule(session, actor, project, endpoint, rule_id)


@router.get("/alerts", response_model=AlertList)
def list_alerts(
    project: str,
    actor: CurrentUser,
    session: SessionDep,
    state: Annotated[AlertState | None, Query(description="only alerts in this state")] = None,
    endpoint: Annotated[str | None, Query(description="only this endpoint's alerts")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_ALERTS)] = 100,
) -> AlertList:
    rows, project_row = service.list_alerts(
        session, actor, project, state=state, endpoint=endpoint, limit=limit
    )
    return AlertList(items=service.describe_alerts(session, project_row, rows))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge_alert(
    project: str, alert_id: Id, actor: CurrentUser, session: SessionDep
) -> AlertPublic:
    alert, project_row = service.acknowledge_alert(session, actor, project, alert_id)
    return service.describe_alerts(session, project_row, [alert])[0]


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPublic)
def resolve_alert(
    project: str, alert_id: Id, actor: CurrentUser, session: SessionDep
) -> AlertPublic:
    alert, project_row = service.resolve_alert(session, actor, project, alert_id)
    return service.describe_alerts(session, project_row, [alert])[0]
