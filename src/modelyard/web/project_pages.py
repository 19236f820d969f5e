from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.accounts.service import list_users
from modelyard.code import service as code_service
from modelyard.data import service as data_service
from modelyard.errors import ModelyardError
from modelyard.projects import service
from modelyard.projects.schemas import MemberSet, ProjectCreate, ProjectPublic, ProjectUpdate, Role
from modelyard.serving.views import ReplicasOf
from modelyard.web.activity import activity_of, with_activity_counts
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "created": "Project created. Add teammates below.",
    "saved": "Changes saved.",
    "member-set": "Membership updated.",
    "member-removed": "Member removed.",
    "archived": "Project archived. It is read-only until it is unarchived.",
    "unarchived": "Project unarchived.",
}


def _serving_of(request: Request) -> tuple[ReplicasOf, str]:
    """What describing endpoints needs: the supervisor's replicas and the public base URL."""
    return request.app.state.serving.supervisor.replicas, request.app.state.settings.base_url


def with_code_counts(request: Request, projects: list[ProjectPublic]) -> list[ProjectPublic]:
    """Add what the project's repository holds to the counts the overview shows."""
    for project in projects:
        project.counts["commits"] = code_service.commit_count(request.app.state.repos, project.slug)
    return projects


def with_data_counts(
    session: Session, actor: Actor, projects: list[ProjectPublic]
) -> list[ProjectPublic]:
    """Add how many datasets each project may read (two queries for the whole page)."""
    visible = data_service.list_datasets(session, actor)
    grants = data_service.grants_of(session, [row.id for row in visible])
    for project in projects:
        project.counts["datasets"] = sum(project.slug in slugs for slugs in grants.values())
    return projects


def overview(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    archived: bool = False,
    error: ModelyardError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    rows = service.list_projects(session, actor, include_archived=archived)
    projects = with_code_counts(request, service.describe(session, actor, rows))
    with_data_counts(session, actor, projects)
    with_activity_counts(session, rows, projects)
    context = {
        "projects": projects,
        "activity": activity_of(session, rows, *_serving_of(request)),
        "show_archived": archived,
        "error": error,
        "form": form or {},
    }
    return render(request, "overview.html", context, status=error.status_code if error else 200)


@router.get("/")
def overview_page(
    request: Request, actor: PortalUser, session: SessionDep, archived: bool = False
) -> Response:
    return overview(request, session, actor, archived=archived)


@router.post("/projects")
def create_project_submit(
    request: Request, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    fields = {k: text_field(form, k) for k in ("slug", "name", "description")}
    try:
        project = service.create_project(session, actor, parse(ProjectCreate, fields))
    except ModelyardError as error:
        session.rollback()
        return overview(request, session, actor, error=error, form=fields)
    return RedirectResponse(f"/projects/{project.slug}?done=created", status_code=303)


def project_view(
    request: Request,
    session: Session,
    actor: Actor,
    slug: str,
    *,
    error: ModelyardError | None = None,
    done: str | None = None,
) -> Response:
    project = service.get_project(session, actor, slug)
    described = with_code_counts(request, service.describe(session, actor, [project]))[0]
    with_data_counts(session, actor, [described])
    with_activity_counts(session, [project], [described])
    role = described.my_role
    can_edit = actor.is_admin or (role is not None and role.rank >= Role.editor.rank)
    can_manage = actor.is_admin or role == Role.owner
    member_names = {m.username for m in described.members}
    candidates = [u.username for u in list_users(session, actor) if u.username not in member_names]
    store = request.app.state.repos
    context = {
        "project": described,
        "tab": "about",
        "readme": code_service.readme(session, actor, store, slug),
        "live_code": code_service.list_code_refs(session, actor, slug)[:10],
        "activity": activity_of(session, [project], *_serving_of(request)),
        "can_edit": can_edit and not described.archived,
        "can_manage": can_manage,
        "new_member": service.joined_recently(session, actor, project.id),
        "roles": [r.value for r in Role],
        "candidates": candidates,
        "error": error,
        "notice": NOTICES.get(done or ""),
    }
    return render(request, "project.html", context, status=error.status_code if error else 200)


@router.get("/projects/{slug}")
def project_page(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, done: str | None = None
) -> Response:
    return project_view(request, session, actor, slug, done=done)


def _act(
    request: Request, session: Session, actor: Actor, slug: str, action: Callable[[], str]
) -> Response:
    """Run a form action; on a user error show the project page again with the message."""
    try:
        done = action()
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return project_view(request, session, actor, slug, error=error)
    return RedirectResponse(f"/projects/{slug}?done={done}", status_code=303)


@router.post("/projects/{slug}/edit")
def edit_project_submit(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    def action() -> str:
        data = parse(ProjectUpdate, {k: text_field(form, k) for k in ("name", "description")})
        service.update_project(session, actor, slug, data)
        return "saved"

    return _act(request, session, actor, slug, action)


@router.post("/projects/{slug}/members")
def set_member_submit(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    def action() -> str:
        data = parse(MemberSet, {"role": text_field(form, "role")})
        service.set_member(session, actor, slug, text_field(form, "username"), data.role)
        return "member-set"

    return _act(request, session, actor, slug, action)


@router.post("/projects/{slug}/members/{username}/remove")
def remove_member_submit(
    request: Request,
    slug: str,
    username: str,
    actor: PortalUser,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    def action() -> str:
        service.remove_member(session, actor, slug, username)
        return "member-removed"

    return _act(request, session, actor, slug, action)


@router.post("/projects/{slug}/archive")
def archive_submit(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, form: CheckedForm
) -> Response:
    archive = text_field(form, "archived") != "false"

    def action() -> str:
        service.set_archived(session, actor, slug, archived=archive)
        return "archived" if archive else "unarchived"

    return _act(request, session, actor, slug, action)
