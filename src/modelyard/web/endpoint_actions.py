"""What editors do on an endpoint's page: start, stop, roll back, set the traffic split, add
and remove variants, create and revoke keys, make it public, change its settings, delete it.
Each form posts here with its CSRF token; the services check the role."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.errors import InvalidInputError, ModelyardError
from modelyard.serving import keys, service, variants
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.serving.schemas import EndpointUpdate, KeyCreate, TrafficSet
from modelyard.web.deploys import VariantForm, add_variant, filled
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.endpoint_pages import Replicas, endpoint_view
from modelyard.web.forms import parse

router = APIRouter(include_in_schema=False)
PREFIX = "/projects/{slug}/endpoints/{name}"
WEIGHT_FIELD = "weight."
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class SettingsForm(BaseModel):
    description: str = ""
    min_replicas: Replicas | None = None
    max_replicas: Replicas | None = None
    target_inflight: Annotated[float, Field(gt=0, le=10_000)] | None = None


def _act(
    request: Request,
    session: Session,
    actor: Actor,
    serving: Serving,
    slug: str,
    name: str,
    action: Callable[[], str],
    form: dict[str, str] | None = None,
) -> Response:
    """Run a form's action; a user error shows the endpoint page again with the message."""
    try:
        done = action()
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return endpoint_view(request, session, actor, serving, slug, name, error=error, form=form)
    serving.changed()
    return RedirectResponse(f"/projects/{slug}/endpoints/{name}?done={done}", status_code=303)


@router.post(f"{PREFIX}/start")
def start_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        service.set_state(session, actor, slug, name, "running")
        return "started"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/stop")
def stop_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        service.set_state(session, actor, slug, name, "stopped")
        return "stopped"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/rollback")
def rollback_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        service.rollback(session, actor, slug, name)
        return "rolled-back"

    return _act(request, session, actor, serving, slug, name, action)


def weights_of(form: FormData) -> dict[str, float]:
    """`weight.<variant>` fields; an empty one means 0."""
    weights = {}
    for key, value in form.multi_items():
        if not key.startswith(WEIGHT_FIELD) or not isinstance(value, str):
            continue
        variant = key[len(WEIGHT_FIELD) :]
        try:
            weight = float(value.strip() or 0)
        except ValueError:
            raise InvalidInputError(
                f"the weight of {variant!r} is not a number: {value[:50]!r}", field="weights"
            ) from None
        if not math.isfinite(weight):
            raise InvalidInputError(f"the weight of {variant!r} must be finite", field="weights")
        weights[variant] = weight
    return weights


@router.post(f"{PREFIX}/traffic")
def traffic_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        data = parse(TrafficSet, {"weights": weights_of(form)})
        service.set_traffic(session, actor, slug, name, data)
        return "traffic-set"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/variants")
def add_variant_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    fields = {k: text_field(form, k) for k in ("model", "version", "name", "weight", "mode")}

    def action() -> str:
        add_variant(session, actor, serving, slug, name, parse(VariantForm, filled(fields)))
        return "variant-added"

    return _act(request, session, actor, serving, slug, name, action, form=fields)


@router.post(f"{PREFIX}/variants/{{variant}}/remove")
def remove_variant_submit(
    request: Request,
    slug: str,
    name: str,
    variant: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        variants.remove_variant(session, actor, slug, name, variant)
        return "variant-removed"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/keys")
def create_key_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    try:
        data = parse(KeyCreate, {"name": text_field(form, "key_name")})
        _, secret = keys.create_key(session, actor, slug, name, data.name)
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return endpoint_view(request, session, actor, serving, slug, name, error=error)
    serving.changed()
    # Shown in this answer only: the page is marked no-store and only a hash is kept.
    return endpoint_view(request, session, actor, serving, slug, name, new_key=secret)


@router.post(f"{PREFIX}/keys/{{key_id}}/revoke")
def revoke_key_submit(
    request: Request,
    slug: str,
    name: str,
    key_id: KeyId,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        keys.revoke_key(session, actor, slug, name, key_id)
        return "key-revoked"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/public")
def public_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    public = text_field(form, "public") == "true"

    def action() -> str:
        service.update_endpoint(session, actor, slug, name, EndpointUpdate(public=public))
        return "public" if public else "private"

    return _act(request, session, actor, serving, slug, name, action)


@router.post(f"{PREFIX}/settings")
def settings_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    fields = {
        k: text_field(form, k)
        for k in ("description", "min_replicas", "max_replicas", "target_inflight")
    }

    def action() -> str:
        values = parse(SettingsForm, filled(fields)).model_dump(exclude_none=True)
        values.setdefault("description", "")
        service.update_endpoint(session, actor, slug, name, parse(EndpointUpdate, values))
        return "saved"

    return _act(request, session, actor, serving, slug, name, action, form=fields)


@router.post(f"{PREFIX}/delete")
def delete_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    try:
        service.delete_endpoint(session, actor, slug, name)
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return endpoint_view(request, session, actor, serving, slug, name, error=error)
    serving.changed()
    return RedirectResponse(f"/projects/{slug}/endpoints?done=deleted", status_code=303)
