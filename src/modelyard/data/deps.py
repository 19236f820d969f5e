"""FastAPI parameters shared by the data API and the portal's data pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modelyard.data.secrets import SecretBox
from modelyard.storage import ArtifactStore


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


BoxDep = Annotated[SecretBox, Depends(get_box)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
