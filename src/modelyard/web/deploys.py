"""Deploying a model version from the portal in one step: as a new variant of an existing
endpoint, or as the only variant of a new endpoint that starts at once.

It composes the serving services the API exposes one by one (create, add a variant, start),
so a failure half-way leaves nothing behind: a new endpoint whose variant could not be added
is deleted again."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.errors import InvalidInputError, ModelyardError
from modelyard.projects.schemas import Role
from modelyard.registry.service import get_model, version_of
from modelyard.serving import service, variants
from modelyard.serving.runtime import Serving
from modelyard.serving.schemas import EndpointCreate, EndpointName, Mode, ModelRef, VariantCreate
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


@dataclass(frozen=True)
class Deployed:
    endpoint: str
    variant: str
    created: bool  # a new endpoint, started


def filled(fields: dict[str, str]) -> dict[str, str]:
    """Form fields left empty mean "use the default"."""
    return {k: v.strip() for k, v in fields.items() if v.strip()}


def variant_name(ref: str, taken: Collection[str]) -> str:
    """The name the SDK and CLI give too: the alias (`champion`) or `v3`, made unique on the
    endpoint (`v3-2`, `v3-3`…)."""
    base = ref if not ref.isdigit() else f"v{ref}"
    name, number = base, 1
    while name in taken:
        number += 1
        tail = f"-{number}"
        name = base[: 64 - len(tail)] + tail
    return name


def add_variant(
    session: Session, actor: Actor, serving: Serving, slug: str, endpoint: str, form: VariantForm
) -> str:
    row, _ = service.get_endpoint(session, actor, slug, endpoint, min_role=Role.editor)
    taken = {v.name for v in service.variants_of(session, [row.id])[row.id]}
    name = form.name or variant_name(form.version, taken)
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
) -> Deployed:
    """Serve `model` at `form.version` on an existing endpoint (weight as given, else 0) or on
    a new one (weight 100, started)."""
    if (form.endpoint is None) == (form.new_endpoint is None):
        raise InvalidInputError(
            "choose an existing endpoint or name a new one", field="new_endpoint"
        )
    model_row, _ = get_model(session, actor, slug, model, min_role=Role.editor)
    version_of(session, model_row, form.version)  # a wrong version fails before anything
    if form.endpoint is not None:
        weight = form.weight if form.weight is not None else 0.0
        variant = VariantForm(model=model, version=form.version, weight=weight)
        name = add_variant(session, actor, serving, slug, form.endpoint, variant)
        return Deployed(form.endpoint, name, created=False)
    assert form.new_endpoint is not None
    service.create_endpoint(session, actor, slug, EndpointCreate(name=form.new_endpoint))
    try:
        variant = VariantForm(model=model, version=form.version, weight=NEW_ENDPOINT_WEIGHT)
        name = add_variant(session, actor, serving, slug, form.new_endpoint, variant)
        service.set_state(session, actor, slug, form.new_endpoint, "running")
    except ModelyardError:
        session.rollback()
        service.delete_endpoint(session, actor, slug, form.new_endpoint)
        raise
    serving.changed()
    return Deployed(form.new_endpoint, name, created=True)
