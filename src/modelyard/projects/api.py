from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from modelyard.accounts.deps import CurrentUser, SessionDep
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.projects import service
from modelyard.projects.schemas import (
    MemberList,
    MemberPublic,
    MemberSet,
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/v1/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.get("", response_model=ProjectList)
def list_projects(
    actor: CurrentUser,
    session: SessionDep,
    archived: Annotated[bool, Query(description="include archived projects")] = False,
) -> ProjectList:
    projects = service.list_projects(session, actor, include_archived=archived)
    return ProjectList(items=service.describe(session, actor, projects))


@router.post("", response_model=ProjectPublic, status_code=status.HTTP_201_CREATED)
def create_project(body: ProjectCreate, actor: CurrentUser, session: SessionDep) -> ProjectPublic:
    project = service.create_project(session, actor, body)
    return service.describe(session, actor, [project])[0]


@router.get("/{project}", response_model=ProjectPublic)
def get_project(project: str, actor: CurrentUser, session: SessionDep) -> ProjectPublic:
    return service.describe(session, actor, [service.get_project(session, actor, project)])[0]


@router.patch("/{project}", response_model=ProjectPublic)
def update_project(
    project: str, body: ProjectUpdate, actor: CurrentUser, session: SessionDep
) -> ProjectPublic:
    row = service.update_project(session, actor, project, body)
    return service.describe(session, actor, [row])[0]


@router.post("/{project}/archive", response_model=ProjectPublic)
def archive_project(project: str, actor: CurrentUser, session: SessionDep) -> ProjectPublic:
    row = service.set_archived(session, actor, project, archived=True)
    return service.describe(session, actor, [row])[0]


@router.post("/{project}/unarchive", response_model=ProjectPublic)
def unarchive_project(project: str, actor: CurrentUser, session: SessionDep) -> ProjectPublic:
    row = service.set_archived(session, actor, project, archived=False)
    return service.describe(session, actor, [row])[0]


@router.get("/{project}/members", response_model=MemberList)
def list_members(project: str, actor: CurrentUser, session: SessionDep) -> MemberList:
    return MemberList(items=service.list_members(session, actor, project))


@router.put("/{project}/members/{username}", response_model=MemberPublic)
def set_member(
    project: str, username: str, body: MemberSet, actor: CurrentUser, session: SessionDep
) -> MemberPublic:
    return service.set_member(session, actor, project, username, body.role)


@router.delete("/{project}/members/{username}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(project: str, username: str, actor: CurrentUser, session: SessionDep) -> None:
    service.remove_member(session, actor, project, username)
