"""The model registry on the portal: a project's models, and one model's versions, aliases
(with who moved them when), signature, and a form for editors to move an alias."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.errors import ModelyardError, NotFoundError
from modelyard.projects.schemas import Role
from modelyard.projects.service import ProjectRow, describe, find_role, get_project
from modelyard.registry import service
from modelyard.registry.schemas import Alias, VersionPublic
from modelyard.serving import service as serving_service
from modelyard.serving import views as serving_views
from modelyard.serving.runtime import ServingDep
from modelyard.serving.schemas import Deployment
from modelyard.web.deploys import DeployForm, deploy, filled
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

KEY_METRICS = 4
NOTICES = {
    "alias-moved": "Alias moved. Code that loads the model by this alias gets the new version."
}
DEPLOY_FIELDS = ("version", "endpoint", "new_endpoint", "weight")
LOG_SNIPPET = """import modelyard

with modelyard.start_run(project="{slug}") as run:
    model = train()  # e.g. a fitted scikit-learn estimator
    run.log_model(model, "churn-clf", input_example=features.head())"""


class AliasMove(BaseModel):
    alias: Alias
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


def may_edit(session: Session, actor: Actor, project: ProjectRow) -> bool:
    if project.archived_at is not None:
        return False
    role = find_role(session, actor, project)
    return actor.is_admin or (role is not None and role.rank >= Role.editor.rank)


def key_metrics(versions: list[VersionPublic]) -> list[str]:
    """The metrics most versions carry: the ones worth a column."""
    counts = Counter(k for v in versions for k in v.metrics)
    return sorted(counts, key=lambda k: (-counts[k], k))[:KEY_METRICS]


def by_version(deployments: list[Deployment]) -> dict[int, list[Deployment]]:
    """Where each version serves now (a variant following an alias counts for its version)."""
    found: dict[int, list[Deployment]] = {}
    for d in deployments:
        if d.version is not None:
            found.setdefault(d.version, []).append(d)
    return found


@router.get("/projects/{slug}/models")
def models_page(request: Request, slug: str, actor: PortalUser, session: SessionDep) -> Response:
    project = get_project(session, actor, slug)
    context = {
        "project": describe(session, actor, [project])[0],
        "tab": "models",
        "models": service.list_models(session, actor, slug),
        "snippet": LOG_SNIPPET.format(slug=slug),
    }
    return render(request, "models.html", context)


def model_view(
    request: Request,
    session: Session,
    actor: Actor,
    slug: str,
    name: str,
    *,
    version: int | None = None,
    error: ModelyardError | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    model, project = service.get_model(session, actor, slug, name)
    versions = service.list_versions(session, actor, slug, name)
    chosen = versions[0] if versions else None
    if version is not None:
        chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            raise NotFoundError(f"model {name!r} has no version {version}", field="version")
    can_edit = may_edit(session, actor, project)
    deployments = serving_views.deployments_of_model(session, project, model.id)
    endpoints = serving_service.list_endpoints(session, actor, slug)[0] if can_edit else []
    context: dict[str, Any] = {
        "project": describe(session, actor, [project])[0],
        "tab": "models",
        "model": service.describe_models(session, project, [model])[0],
        "deployments": deployments,
        "deployed_at": by_version(deployments),
        "endpoint_names": [e.name for e in endpoints],
        "versions": versions,
        "chosen": chosen,
        "key_metrics": key_metrics(versions),
        "history": service.alias_history(session, actor, slug, name),
        "can_edit": can_edit,
        "form": form or {},
        "error": error,
        "notice": NOTICES.get(done or ""),
    }
    return render(request, "model.html", context, status=error.status_code if error else 200)


@router.get("/projects/{slug}/models/{name}")
def model_page(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    done: str | None = None,
) -> Response:
    return model_view(request, session, actor, slug, name, version=version, done=done)


@router.post("/projects/{slug}/models/{name}/aliases")
def move_alias_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    fields = {"alias": text_field(form, "alias"), "version": text_field(form, "version")}
    try:
        move = parse(AliasMove, fields)
        service.set_alias(session, actor, slug, name, move.alias, move.version)
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return model_view(request, session, actor, slug, name, error=error, form=fields)
    return RedirectResponse(
        f"/projects/{slug}/models/{name}?done=alias-moved#aliases", status_code=303
    )


@router.post("/projects/{slug}/models/{name}/deploy")
def deploy_submit(
    request: Request,
    slug: str,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    serving: ServingDep,
    form: CheckedForm,
) -> Response:
    """Deploy a version: a new variant of an existing endpoint, or a new endpoint, started."""
    fields = {k: text_field(form, k) for k in DEPLOY_FIELDS}
    try:
        done = deploy(session, actor, serving, slug, name, parse(DeployForm, filled(fields)))
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404 and error.field not in ("version", "endpoint"):
            raise
        ref = fields["version"]
        try:
            return model_view(
                request,
                session,
                actor,
                slug,
                name,
                version=int(ref) if ref.isdigit() else None,
                error=error,
                form=fields,
            )
        except NotFoundError:  # the version asked for does not exist: show the latest
            return model_view(request, session, actor, slug, name, error=error, form=fields)
    target = f"/projects/{slug}/endpoints/{done.endpoint}"
    return RedirectResponse(
        f"{target}?done={'deployed' if done.created else 'variant-added'}", status_code=303
    )
