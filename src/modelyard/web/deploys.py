"""Deploying a model version from the portal in one step: as a new variant of an existing
endpoint, or as the only variant of a new endpoint that starts at once.

The work is serving.deploys.deploy, which the API's `POST .../deploy` (and so the SDK and
CLI) use too; this module reads the portal's forms."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.errors import ConflictError, InvalidInputError, NotFoundError
from modelyard.projects.schemas import Role
from modelyard.projects.service import get_project
from modelyard.registry.service import get_model
from modelyard.serving import deploys, service, variants
from modelyard.serving.runtime import Serving
from modelyard.serving.schemas import DeployCreate, EndpointName, Mode, ModelRef, VariantCreate
from modelyard.validation import parse

NEW_ENDPOINT_WEIGHT = 100.0
FormWeight = Annotated[float, Field(ge=0, le=1_000_000)]


class DeployForm(BaseModel):
    """The model page's deploy form; empty fields arrive as None."""

    version: ModelRef
    endpoint: EndpointName | None = None  # an existing endpoint
    new_endpoint: EndpointName | None = None
    weight: FormWeight | None = None


class VariantForm(BaseModel):
    """The endpoint page's "Add variant" form."""

    model: str = Field(min_length=1, max_length=64)
    version: ModelRef
    name: str | None = None
    weight: FormWeight = 0.0
    mode: Mode = "live"


def filled(fields: dict[str, str]) -> dict[str, str]:
    """Form fields left empty mean "use the default"."""
    return {k: v.strip() for k, v in fields.items() if v.strip()}


def add_variant(
    session: Session, actor: Actor, serving: Serving, slug: str, endpoint: str, form: VariantForm
) -> str:
    row, _ = service.get_endpoint(session, actor, slug, endpoint, min_role=Role.editor)
    model, _ = get_model(session, actor, slug, form.model, min_role=Role.editor)
    existing = service.variants_of(session, [row.id])[row.id]
    name = form.name or deploys.variant_name(form.version, model.id, existing)
    data = parse(
        VariantCreate,
        {
            "name": name,
            "model": form.model,
            "version": form.version,
            "weight": form.weight,
            "mode": form.mode,
        },
    )
    variants.add_variant(session, actor, serving.specs.repos, slug, endpoint, data)
    serving.changed()
    return name


def deploy(
    session: Session, actor: Actor, serving: Serving, slug: str, model: str, form: DeployForm
) -> deploys.Deployed:
    """Serve `model` at `form.version` on an existing endpoint (weight as given, else 0
    beside traffic) or on a new one (weight 100, started): serving.deploys does the work."""
    if (form.endpoint is None) == (form.new_endpoint is None):
        raise InvalidInputError(
            "choose an existing endpoint or name a new one", field="new_endpoint"
        )
    name = form.endpoint or form.new_endpoint
    assert name is not None
    if form.new_endpoint is not None:
        project = get_project(session, actor, slug, min_role=Role.editor)
        if service.find_endpoint(session, project, form.new_endpoint) is not None:
            raise ConflictError(
                f"project {slug!r} already has an endpoint {name!r}: choose it above",
                field="new_endpoint",
            )
    elif service.find_endpoint(session, get_project(session, actor, slug), name) is None:
        raise NotFoundError(f"no endpoint {name!r} in project {slug!r}", field="endpoint")
    data = DeployCreate(model=model, version=form.version, weight=form.weight)
    done = deploys.deploy(session, actor, serving.specs.repos, slug, name, data)
    serving.changed()
    return done
