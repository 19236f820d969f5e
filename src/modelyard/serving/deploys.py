"""Deploying a model version in one step, the way the portal, the SDK and the CLI all do it:
onto an existing endpoint as a new variant, or as the only variant of a new endpoint that
starts at once. Deploying never moves traffic the caller did not ask to move: beside live
traffic a new variant gets weight 0 unless a weight is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.code.service import RepoStore
from modelyard.errors import ConflictError, InvalidInputError, ModelyardError
from modelyard.projects.schemas import Role
from modelyard.registry.service import get_model, version_of
from modelyard.serving import service, variants
from modelyard.serving.schemas import DeployCreate, EndpointCreate, VariantCreate
from modelyard.serving.tables import VariantRow
from modelyard.validation import parse

FIRST_WEIGHT = 100.0
MAX_VARIANT_NAME = 64


@dataclass(frozen=True)
class Deployed:
    endpoint: str
    variant: str
    created: bool  # a new endpoint
    started: bool  # this deploy started it


def variant_name(ref: str, model_id: int, existing: Sequence[VariantRow]) -> str:
    """The alias (`champion`) or `v3`, made unique on the endpoint (`v3-2`…). A second copy
    of the very model@ref the endpoint already serves under that name is refused: it is
    almost always a double click; name the variant to add one on purpose."""
    base = (ref if not ref.isdigit() else f"v{ref}")[: MAX_VARIANT_NAME - 4]
    taken = {v.name: v for v in existing}
    same = taken.get(base)
    if same is not None and same.model_id == model_id and (same.alias or str(same.version)) == ref:
        raise ConflictError(
            f"this endpoint already serves {ref} of the model as variant {base!r}; "
            "name the variant to add a second copy",
            field="variant",
        )
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


def deploy(
    session: Session,
    actor: Actor,
    repos: RepoStore,
    slug: str,
    endpoint: str,
    data: DeployCreate,
) -> Deployed:
    model, project = get_model(session, actor, slug, data.model, min_role=Role.editor)
    version_of(session, model, data.version)  # a wrong version fails before anything is made
    found = service.find_endpoint(session, project, endpoint)
    created = found is None
    if found is None:
        if data.mode == "shadow":
            raise InvalidInputError(
                f"a shadow variant gets a copy of live traffic, and {slug}/{endpoint} has none "
                "yet: deploy a live variant first",
                field="mode",
            )
        found = service.create_endpoint(
            session, actor, slug, parse(EndpointCreate, {"name": endpoint})
        )
    existing = service.variants_of(session, [found.id])[found.id]
    had_traffic = any(v.mode == "live" and v.weight > 0 for v in existing)
    weight = data.weight
    if weight is None:
        weight = 0.0 if had_traffic or data.mode == "shadow" else FIRST_WEIGHT
    try:
        name = data.variant or variant_name(data.version, model.id, existing)
        variants.add_variant(
            session,
            actor,
            repos,
            slug,
            endpoint,
            VariantCreate(
                name=name,
                model=data.model,
                version=data.version,
                code=data.code,
                weight=weight,
                mode=data.mode,
            ),
        )
    except ModelyardError:
        if created:  # leave nothing half-made: the endpoint was for this variant alone
            session.rollback()
            service.delete_endpoint(session, actor, slug, endpoint)
        raise
    started = not had_traffic and weight > 0 and data.mode == "live" and found.state != "running"
    if started:
        service.set_state(session, actor, slug, endpoint, "running")
    return Deployed(endpoint, name, created, started)
