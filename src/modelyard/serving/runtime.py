"""The serving part of a running control plane: the supervisor, the spec builder, the
Prometheus totals and the gateway's HTTP client, built by `create_app` and held in
`app.state.serving`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.code.service import RepoStore
from modelyard.config import Settings
from modelyard.projects.service import ProjectRow
from modelyard.serving.ingest import Totals
from modelyard.serving.spec import EndpointSpec, Telemetry
from modelyard.serving.specs import SpecBuilder
from modelyard.serving.supervisor import Supervisor
from modelyard.serving.tables import EndpointRow
from modelyard.storage import ArtifactStore

# What another capability does with each stored replica report (online learning counts live
# inputs into drift summaries): called with the session the report was stored in.
ReportListener = Callable[[Session, int, Telemetry], None]

SPEC_TTL_SECONDS = 0.2  # replicas poll 4 times a second each; one build serves them all
ROUTE_TTL_SECONDS = 0.5


class Serving:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        artifacts: ArtifactStore,
        repos: RepoStore,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.supervisor = Supervisor(session_factory, settings)
        self.specs = SpecBuilder(settings, artifacts, repos)
        self.totals = Totals()
        self._specs: dict[int, tuple[float, EndpointSpec]] = {}
        self._routes: dict[tuple[str, str], tuple[float, tuple[int, str] | None]] = {}
        self._lock = threading.Lock()
        self.http: httpx.AsyncClient | None = None
        self.report_listeners: list[ReportListener] = []

    def start(self) -> None:
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    def changed(self) -> None:
        """The desired state changed: forget cached specs and routes, reconcile now."""
        with self._lock:
            self._specs.clear()
            self._routes.clear()
        self.supervisor.wake()

    def spec_changed(self, endpoint_id: int) -> None:
        """Only what one endpoint's replicas serve changed (a learner published a state):
        its cached spec goes; routes, pools and the other endpoints' specs stay."""
        with self._lock:
            self._specs.pop(endpoint_id, None)

    def spec(self, session: Session, endpoint_id: int) -> EndpointSpec:
        now = time.monotonic()
        cached = self._specs.get(endpoint_id)
        if cached is not None and now - cached[0] < SPEC_TTL_SECONDS:
            return cached[1]
        spec = self.specs.build(session, endpoint_id)
        with self._lock:
            self._specs[endpoint_id] = (now, spec)
        return spec

    def route(self, project: str, endpoint: str) -> tuple[int, str] | None:
        """(endpoint id, desired state) of /serve/{project}/{endpoint}, or None."""
        now = time.monotonic()
        cached = self._routes.get((project, endpoint))
        if cached is not None and now - cached[0] < ROUTE_TTL_SECONDS:
            return cached[1]
        with self.session_factory() as session:
            row = session.execute(
                select(EndpointRow.id, EndpointRow.state)
                .join(ProjectRow, ProjectRow.id == EndpointRow.project_id)
                .where(ProjectRow.slug == project, EndpointRow.name == endpoint)
            ).first()
        found = (row.id, row.state) if row is not None else None
        with self._lock:
            self._routes[(project, endpoint)] = (now, found)
        return found


def get_serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


ServingDep = Annotated[Serving, Depends(get_serving)]
