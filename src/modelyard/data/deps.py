"""FastAPI parameters shared by the data API and the portal's data pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modelyard.data.secrets import SecretBox


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


BoxDep = Annotated[SecretBox, Depends(get_box)]
