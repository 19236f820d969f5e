"""/api/v1/projects/{p}/models: models, versions (with their files) and aliases."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from modelyard.accounts.deps import CurrentUser, SessionDep, SettingsDep
from modelyard.errors import InvalidInputError
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.projects.schemas import Role
from modelyard.registry import service
from modelyard.registry.schemas import (
    Alias,
    AliasEvent,
    AliasSet,
    ModelList,
    ModelName,
    ModelPublic,
    ModelUpdate,
    VersionCreate,
    VersionList,
    VersionPublic,
)
from modelyard.storage import StoreDep
from modelyard.uploads import spool
from modelyard.validation import describe_validation

router = APIRouter(
    prefix="/api/v1/projects/{project}/models", tags=["models"], responses=ERROR_RESPONSES
)
VersionRef = Annotated[str, Path(max_length=64, description="a version number or an alias")]
METADATA_HEADER = "X-Modelyard-Version"


@router.get("", response_model=ModelList)
def list_models(project: str, actor: CurrentUser, session: SessionDep) -> ModelList:
    return ModelList(items=service.list_models(session, actor, project))


@router.get("/{name}", response_model=ModelPublic)
def get_model(project: str, name: str, actor: CurrentUser, session: SessionDep) -> ModelPublic:
    model, row = service.get_model(session, actor, project, name)
    return service.describe_models(session, row, [model])[0]


@router.patch("/{name}", response_model=ModelPublic)
def update_model(
    project: str, name: str, body: ModelUpdate, actor: CurrentUser, session: SessionDep
) -> ModelPublic:
    model, row = service.get_model(session, actor, project, name, min_role=Role.editor)
    if body.description is not None:
        model.description = body.description
        session.commit()
    return service.describe_models(session, row, [model])[0]


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_model(
    project: str, name: str, actor: CurrentUser, session: SessionDep, store: StoreDep
) -> None:
    service.delete_model(session, actor, store, project, name)


@router.get("/{name}/versions", response_model=VersionList)
def list_versions(project: str, name: str, actor: CurrentUser, session: SessionDep) -> VersionList:
    return VersionList(items=service.list_versions(session, actor, project, name))


@router.post(
    "/{name}/versions",
    response_model=VersionPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
)
async def create_version(
    project: str,
    name: ModelName,
    request: Request,
    actor: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
) -> VersionPublic:
    """The body is the model file; its metadata (flavor, run_id, signature…) comes as JSON
    in the `X-Modelyard-Version` header, so the file streams without a multipart parser."""
    data = _metadata(request.headers.get(METADATA_HEADER, ""))
    with request.app.state.session_factory() as session:
        service.get_model_project_for_upload(session, actor, project)
    upload = await spool(
        request.stream(), max_bytes=settings.artifact_max_bytes, folder=str(settings.uploads_dir)
    )
    with request.app.state.session_factory() as session:
        version, _ = service.create_version(session, actor, store, project, name, data, upload)
        model_row, row = service.get_model(session, actor, project, name)
        return service.describe_versions(session, row, model_row, [version])[0]


def _metadata(header: str) -> VersionCreate:
    if not header:
        raise InvalidInputError(
            f"send the version's metadata as JSON in {METADATA_HEADER}", field="flavor"
        )
    try:
        return VersionCreate.model_validate(json.loads(header))
    except json.JSONDecodeError:
        raise InvalidInputError(
            f"{METADATA_HEADER} is not valid JSON", field=METADATA_HEADER
        ) from None
    except ValidationError as exc:
        _, message, field = describe_validation(exc.errors())
        raise InvalidInputError(message, field=field) from None


@router.get("/{name}/versions/{ref}", response_model=VersionPublic)
def get_version(
    project: str, name: str, ref: VersionRef, actor: CurrentUser, session: SessionDep
) -> VersionPublic:
    version, model, row = service.get_version(session, actor, project, name, ref)
    return service.describe_versions(session, row, model, [version])[0]


@router.get(
    "/{name}/versions/{ref}/file",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the model file"}},
)
def download_version(
    project: str,
    name: str,
    ref: VersionRef,
    actor: CurrentUser,
    session: SessionDep,
    store: StoreDep,
) -> StreamingResponse:
    """The model file. It is a pickle, i.e. code that runs when loaded: editors only."""
    version, _, _ = service.get_version(session, actor, project, name, ref, min_role=Role.editor)
    handle = store.open(version.key)

    def chunks() -> object:
        with handle:
            while block := handle.read(1 << 20):
                yield block

    return StreamingResponse(
        chunks(),  # type: ignore[arg-type]
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-v{version.version}.bin"',
            "Content-Length": str(version.size_bytes),
            "X-Modelyard-Sha256": version.sha256,
            "X-Modelyard-Flavor": version.flavor,
            "X-Modelyard-Version": str(version.version),
        },
    )


@router.put("/{name}/aliases/{alias}", response_model=VersionPublic)
def set_alias(
    project: str, name: str, alias: Alias, body: AliasSet, actor: CurrentUser, session: SessionDep
) -> VersionPublic:
    service.set_alias(session, actor, project, name, alias, body.version)
    version, model, row = service.get_version(session, actor, project, name, alias)
    return service.describe_versions(session, row, model, [version])[0]


@router.delete("/{name}/aliases/{alias}", status_code=status.HTTP_204_NO_CONTENT)
def delete_alias(
    project: str, name: str, alias: str, actor: CurrentUser, session: SessionDep
) -> None:
    service.delete_alias(session, actor, project, name, alias)


@router.get("/{name}/aliases", response_model=list[AliasEvent])
def alias_history(
    project: str, name: str, actor: CurrentUser, session: SessionDep
) -> list[AliasEvent]:
    """Every move of every alias of the model, newest first."""
    return service.alias_history(session, actor, project, name)
