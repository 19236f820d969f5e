"""What editors do to the learners of an endpoint's online variants from its page: pause and
resume learning, checkpoint the learned state now, roll back to a registered version. Each
form posts here with its CSRF token; `online.learners` checks the role, as for the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.errors import ModelyardError
from modelyard.online import learners
from modelyard.online.runtime import Online, OnlineDep
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.endpoint_pages import endpoint_view
from modelyard.web.forms import parse

router = APIRouter(include_in_schema=False)
PREFIX = "/projects/{slug}/endpoints/{name}/learners/{variant}"


class RollbackForm(BaseModel):
    """The "Roll back to version" form; the number arrives as text."""

    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


def _act(
    request: Request,
    session: Session,
    actor: Actor,
    serving: Serving,
    slug: str,
    name: str,
    action: Callable[[], str],
) -> Response:
    """Run a form's action; a user error shows the endpoint page again with the message."""
    try:
        done = action()
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return endpoint_view(request, session, actor, serving, slug, name, error=error)
    return RedirectResponse(
        f"/projects/{slug}/endpoints/{name}?done={done}#learners", status_code=303
    )


def _pause(online: Online, session: Session, actor: Actor, paused: bool, *where: str) -> str:
    slug, name, variant = where
    learners.set_paused(session, actor, slug, name, variant, paused)
    online.fleet.wake()  # the fleet stops or starts the learner's process now
    return "learner-paused" if paused else "learner-resumed"


@router.post(f"{PREFIX}/pause")
def pause_submit(
    request: Request,
    slug: str,
    name: str,
    variant: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    online: OnlineDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        return _pause(online, session, actor, True, slug, name, variant)

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/resume")
def resume_submit(
    request: Request,
    slug: str,
    name: str,
    variant: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    online: OnlineDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        return _pause(online, session, actor, False, slug, name, variant)

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/checkpoint")
def checkpoint_submit(
    request: Request,
    slug: str,
    name: str,
    variant: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    online: OnlineDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        learner = learners.request_checkpoint(session, actor, slug, name, variant)
        online.fleet.checkpoint_now(learner.id, actor)
        return "checkpointed"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/rollback")
def rollback_submit(
    request: Request,
    slug: str,
    name: str,
    variant: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    online: OnlineDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        data = parse(RollbackForm, {"version": text_field(form, "version").strip()})
        learners.rollback(session, actor, online.states, slug, name, variant, data.version)
        serving.changed()  # replicas load the version's state
        online.fleet.wake()  # the learner goes on from it
        return "learner-rolled-back"

    return _act(request, session, actor, serving, slug, name, action)
