"""create_app(settings): the control plane as one FastAPI application."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from modelyard import __version__, http_errors
from modelyard.accounts import api as accounts_api
from modelyard.accounts.passwords import Passwords
from modelyard.accounts.schemas import Health
from modelyard.accounts.throttle import LoginThrottle
from modelyard.code import api as code_api
from modelyard.code import githttp
from modelyard.code import service as code_service
from modelyard.code.repos import RepoStore
from modelyard.config import Settings
from modelyard.data import api as data_api
from modelyard.data import connections_api
from modelyard.data.keys import secret_box
from modelyard.data.snapshots import snapshot_columns
from modelyard.db import make_engine, make_session_factory
from modelyard.experiments import api as experiments_api
from modelyard.experiments import remote_api
from modelyard.experiments.executor import LocalExecutor
from modelyard.middleware import RequestHygiene
from modelyard.monitoring import api as monitoring_api
from modelyard.monitoring.alerts_loop import AlertsLoop
from modelyard.online import api as online_api
from modelyard.online import internal_api as online_internal_api
from modelyard.online.runtime import Online
from modelyard.projects import api as projects_api
from modelyard.registry import api as registry_api
from modelyard.serving import api as serving_api
from modelyard.serving import exposition, gateway, internal_api
from modelyard.serving.runtime import Serving
from modelyard.storage import ArtifactStore
from modelyard.web.portal import mount_portal, render_error


def create_app(settings: Settings) -> FastAPI:
    """Build the control plane. `settings` must have been through `Settings.prepare_home()`."""
    if not settings.secret_key:
        raise ValueError("settings.secret_key is empty: call settings.prepare_home() first")
    engine = make_engine(settings.resolved_database_url)
    session_factory = make_session_factory(engine)
    repos = RepoStore(settings.repos_dir, max_push_bytes=settings.git_max_push_bytes)
    executor = LocalExecutor(
        session_factory, settings, export=functools.partial(code_service.export_tree, repos)
    )
    artifacts = ArtifactStore(settings.resolved_artifact_root)
    serving = Serving(session_factory, settings, artifacts, repos)

    def read_snapshot(
        dataset: str, snapshot: int, columns: Sequence[str], limit: int
    ) -> dict[str, list[object]]:
        with session_factory() as session:
            return snapshot_columns(session, artifacts, snapshot, columns, limit)

    online = Online(session_factory, settings, artifacts, serving, read_snapshot)
    alerts = AlertsLoop(
        session_factory,
        secret_box(settings),
        settings.alerts_interval_seconds,
        replicas_of=serving.supervisor.replicas,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(executor.start)
        serving.start()
        online.start()
        alerts.start()
        try:
            yield
        finally:
            await run_in_threadpool(alerts.stop)
            await run_in_threadpool(online.stop)  # learners keep what they published
            await run_in_threadpool(serving.stop)  # replicas finish their in-flight requests
            await serving.aclose()
            await run_in_threadpool(executor.stop)  # ends the runs' processes
            engine.dispose()

    app = FastAPI(
        title="modelyard",
        version=__version__,
        description="Self-hosted ML platform: projects, code, data, experiments, models, services.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.passwords = Passwords.from_settings(settings)
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    app.state.repos = repos
    app.state.executor = executor
    app.state.secret_box = secret_box(settings)
    app.state.artifacts = artifacts
    app.state.serving = serving
    app.state.online = online
    app.state.alerts = alerts

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        return Health(status="ok", version=__version__)

    app.include_router(accounts_api.router)
    app.include_router(projects_api.router)
    app.include_router(code_api.router)
    app.include_router(githttp.router)
    app.include_router(connections_api.router)
    app.include_router(data_api.router)
    app.include_router(experiments_api.router)
    app.include_router(remote_api.router)
    app.include_router(registry_api.router)
    app.include_router(serving_api.router)
    app.include_router(monitoring_api.router)
    app.include_router(online_api.feedback_router)
    app.include_router(gateway.router)
    app.include_router(online_api.router)
    app.include_router(online_internal_api.router)
    app.include_router(internal_api.router)
    app.include_router(exposition.router)
    mount_portal(app)
    http_errors.install(app, render_html=render_error)
    app.add_middleware(RequestHygiene)
    return app
