"""Projects and their membership. Every read and write checks the acting user's role here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.service import get_user
from modelyard.accounts.tables import UserRow
from modelyard.db import utcnow
from modelyard.errors import ConflictError, NotFoundError, PermissionDeniedError
from modelyard.projects.schemas import (
    MemberPublic,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    Role,
)
from modelyard.projects.tables import MembershipRow
from modelyard.projects.tables import ProjectRow as ProjectRow  # re-exported: callers type with it


def find_role(session: Session, actor: Actor, project: ProjectRow) -> Role | None:
    role = session.scalar(
        select(MembershipRow.role).where(
            MembershipRow.project_id == project.id, MembershipRow.user_id == actor.id
        )
    )
    return Role(role) if role else None


def get_project(
    session: Session, actor: Actor, slug: str, *, min_role: Role = Role.viewer
) -> ProjectRow:
    """The project if the actor may act on it with `min_role`.

    Non-members get NotFoundError, exactly as for a project that does not exist, so a
    project's name is not disclosed to people outside it.
    """
    project = session.scalars(select(ProjectRow).where(ProjectRow.slug == slug)).first()
    if project is None:
        raise NotFoundError(f"no project {slug!r}", field="project")
    if actor.is_admin:
        return project
    role = find_role(session, actor, project)
    if role is None:
        raise NotFoundError(f"no project {slug!r}", field="project")
    if role.rank < min_role.rank:
        raise PermissionDeniedError(
            f"you are a {role.value} of {slug!r}; this needs the {min_role.value} role"
        )
    return project


def find_project(session: Session, slug: str) -> ProjectRow | None:
    """The project named `slug`, without an access check (callers check their own rules)."""
    return session.scalars(select(ProjectRow).where(ProjectRow.slug == slug)).first()


def member_project_ids(user_id: int) -> Select[int]:
    """A subquery of the ids of the projects `user_id` is a member of."""
    return select(MembershipRow.project_id).where(MembershipRow.user_id == user_id)


def slugs_by_id(session: Session, ids: Collection[int]) -> dict[int, str]:
    rows = session.execute(select(ProjectRow.id, ProjectRow.slug).where(ProjectRow.id.in_(ids)))
    return {project_id: slug for project_id, slug in rows.all()}


def require_writable(project: ProjectRow) -> ProjectRow:
    """The project, or ConflictError when it is archived (archived projects are read-only)."""
    if project.archived_at is not None:
        raise ConflictError(f"project {project.slug!r} is archived; unarchive it to change it")
    return project


def list_projects(
    session: Session, actor: Actor, *, include_archived: bool = False
) -> Sequence[ProjectRow]:
    query = select(ProjectRow).order_by(ProjectRow.name, ProjectRow.slug)
    if not actor.is_admin:
        query = query.join(MembershipRow, MembershipRow.project_id == ProjectRow.id).where(
            MembershipRow.user_id == actor.id
        )
    if not include_archived:
        query = query.where(ProjectRow.archived_at.is_(None))
    return session.scalars(query).all()


def create_project(session: Session, actor: Actor, data: ProjectCreate) -> ProjectRow:
    exists = session.scalar(select(ProjectRow.id).where(ProjectRow.slug == data.slug))
    if exists is not None:
        raise ConflictError(f"a project with slug {data.slug!r} exists already", field="slug")
    project = ProjectRow(
        slug=data.slug, name=data.name, description=data.description, created_by_id=actor.id
    )
    session.add(project)
    session.flush()
    session.add(MembershipRow(project_id=project.id, user_id=actor.id, role=Role.owner.value))
    audit.record(session, "project.created", actor=actor.username, target=data.slug, ip=actor.ip)
    session.commit()
    return project


def update_project(session: Session, actor: Actor, slug: str, data: ProjectUpdate) -> ProjectRow:
    project = require_writable(get_project(session, actor, slug, min_role=Role.editor))
    if data.name is not None:
        project.name = data.name
    if data.description is not None:
        project.description = data.description
    session.commit()
    return project


def set_archived(session: Session, actor: Actor, slug: str, *, archived: bool) -> ProjectRow:
    project = get_project(session, actor, slug, min_role=Role.owner)
    if (project.archived_at is not None) != archived:
        project.archived_at = utcnow() if archived else None
        action = "project.archived" if archived else "project.unarchived"
        audit.record(session, action, actor=actor.username, target=slug, ip=actor.ip)
        session.commit()
    return project


def list_members(session: Session, actor: Actor, slug: str) -> list[MemberPublic]:
    project = get_project(session, actor, slug)
    return _members_of(session, [project.id])[project.id]


def set_member(
    session: Session, actor: Actor, slug: str, username: str, role: Role
) -> MemberPublic:
    """Add a user to the project or change their role (owners and admins)."""
    project = require_writable(get_project(session, actor, slug, min_role=Role.owner))
    user = get_user(session, username)
    membership = session.scalars(
        select(MembershipRow).where(
            MembershipRow.project_id == project.id, MembershipRow.user_id == user.id
        )
    ).first()
    previous = membership.role if membership else None
    if previous == Role.owner.value and role != Role.owner:
        _keep_an_owner(session, project, user.id)
    if membership is None:
        session.add(MembershipRow(project_id=project.id, user_id=user.id, role=role.value))
    else:
        membership.role = role.value
    if previous != role.value:
        audit.record(
            session,
            "project.member_set",
            actor=actor.username,
            target=f"{slug}/{username}",
            ip=actor.ip,
            role=role.value,
            previous=previous,
        )
    session.commit()
    return MemberPublic(username=user.username, display_name=user.display_name, role=role)


def remove_member(session: Session, actor: Actor, slug: str, username: str) -> None:
    project = require_writable(get_project(session, actor, slug, min_role=Role.owner))
    user = get_user(session, username)
    membership = session.scalars(
        select(MembershipRow).where(
            MembershipRow.project_id == project.id, MembershipRow.user_id == user.id
        )
    ).first()
    if membership is None:
        raise NotFoundError(f"{username!r} is not a member of {slug!r}", field="username")
    if membership.role == Role.owner.value:
        _keep_an_owner(session, project, user.id)
    session.delete(membership)
    audit.record(
        session,
        "project.member_removed",
        actor=actor.username,
        target=f"{slug}/{username}",
        ip=actor.ip,
        previous=membership.role,
    )
    session.commit()


def _keep_an_owner(session: Session, project: ProjectRow, leaving_user_id: int) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(MembershipRow)
        .where(
            MembershipRow.project_id == project.id,
            MembershipRow.role == Role.owner.value,
            MembershipRow.user_id != leaving_user_id,
        )
    )
    if not others:
        raise ConflictError(f"{project.slug!r} needs at least one owner", field="role")


def _members_of(session: Session, project_ids: list[int]) -> dict[int, list[MemberPublic]]:
    members: dict[int, list[MemberPublic]] = defaultdict(list)
    rows = session.execute(
        select(MembershipRow.project_id, UserRow.username, UserRow.display_name, MembershipRow.role)
        .join(UserRow, UserRow.id == MembershipRow.user_id)
        .where(MembershipRow.project_id.in_(project_ids))
        .order_by(UserRow.username)
    )
    for project_id, username, display_name, role in rows:
        members[project_id].append(
            MemberPublic(username=username, display_name=display_name, role=Role(role))
        )
    return members


def describe(session: Session, actor: Actor, projects: Sequence[ProjectRow]) -> list[ProjectPublic]:
    """Everything the overview shows about each project, in a fixed number of queries."""
    members = _members_of(session, [p.id for p in projects])
    described = []
    for project in projects:
        people = members[project.id]
        mine = next((m.role for m in people if m.username == actor.username), None)
        described.append(
            ProjectPublic(
                slug=project.slug,
                name=project.name,
                description=project.description,
                owners=[m.username for m in people if m.role == Role.owner],
                members=people,
                my_role=mine,
                counts={"members": len(people)},
                created_at=project.created_at,
                archived=project.archived_at is not None,
                archived_at=project.archived_at,
            )
        )
    return described


NEW_MEMBER_DAYS = 14  # who is "new here" and gets the Start here banner


def joined_recently(session: Session, actor: Actor, project_id: int) -> bool:
    """Whether the actor became a member of the project in the last NEW_MEMBER_DAYS days."""
    joined = member_since(session, actor, project_id)
    return joined is not None and joined >= utcnow() - timedelta(days=NEW_MEMBER_DAYS)


def member_since(session: Session, actor: Actor, project_id: int) -> datetime | None:
    """When the actor became a member of the project (None: not a member)."""
    return session.scalar(
        select(MembershipRow.created_at).where(
            MembershipRow.project_id == project_id, MembershipRow.user_id == actor.id
        )
    )
