"""What online learning needs from the serving runtime, which it is handed at start (a
capability imports another's `service` only, never its runtime)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from modelyard.registry.service import ModelVersionRow
from modelyard.serving.service import VariantRow
from modelyard.serving.spec import EndpointSpec, Telemetry

ModelSource = Callable[[Session, VariantRow, ModelVersionRow], "tuple[Path, str] | None"]
ReportListener = Callable[[Session, int, Telemetry], None]


class SpecsLike(Protocol):
    @property
    def model_sources(self) -> list[ModelSource]: ...


class ServingLike(Protocol):
    @property
    def specs(self) -> SpecsLike: ...

    report_listeners: list[ReportListener]

    def spec(self, session: Session, endpoint_id: int) -> EndpointSpec: ...

    def changed(self) -> None: ...

    def spec_changed(self, endpoint_id: int) -> None: ...

    def route(self, project: str, endpoint: str) -> tuple[int, str] | None: ...
