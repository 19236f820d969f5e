"""Starting the control plane: prepare the home folder and database, then serve."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import uvicorn

from modelyard.accounts.passwords import Passwords
from modelyard.accounts.service import ensure_admin
from modelyard.app import create_app
from modelyard.code.repos import RepoStore
from modelyard.config import Settings
from modelyard.db import make_engine, make_session_factory, migrate
from modelyard.demo import load_demo
from modelyard.demo_data import load_demo_data


@dataclass(frozen=True)
class Prepared:
    settings: Settings
    generated_admin_password: str | None


def prepare(settings: Settings) -> Prepared:
    """Create the home folder and secret key, migrate the database, make the first admin,
    and load the demo when asked. Safe to run on every start."""
    settings = settings.prepare_home()
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        passwords = Passwords.from_settings(settings)
        with factory() as session:
            generated = ensure_admin(session, settings.admin_password or None, passwords=passwords)
        if settings.demo:
            store = RepoStore(settings.repos_dir, max_push_bytes=settings.git_max_push_bytes)
            load_demo(factory, store, passwords=passwords)
            load_demo_data(factory, settings)
    finally:
        engine.dispose()
    return Prepared(settings, generated)


def serve(settings: Settings, host: str, port: int) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs each request at INFO: the demo's traffic alone would fill the terminal
    logging.getLogger("httpx").setLevel(logging.WARNING)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if "base_url" not in settings.model_fields_set:
        # links, clone URLs and curl examples name the port this process really listens on
        settings = settings.model_copy(update={"base_url": f"http://{local}:{port}"})
    if not settings.serving_control_url:
        # replicas report to the address this process really listens on
        settings = settings.model_copy(update={"serving_control_url": f"http://{local}:{port}"})
    app = create_app(settings)
    if settings.demo:
        from modelyard.demo_runs import start_demo_runs
        from modelyard.demo_serving import start_demo_traffic

        start_demo_runs(app, f"http://{local}:{port}")
        start_demo_traffic(app, f"http://{local}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
