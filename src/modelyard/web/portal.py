"""The portal: every page router, static files and the HTML error page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from modelyard.accounts.sessions import COOKIE_NAME
from modelyard.errors import AuthenticationError, ModelyardError
from modelyard.web import (
    account_pages,
    admin_pages,
    alert_pages,
    auth_pages,
    charts,
    code_pages,
    compare_pages,
    connection_pages,
    data_pages,
    dataset_edit_pages,
    endpoint_actions,
    endpoint_pages,
    model_pages,
    online_actions,
    project_pages,
    run_pages,
    start_pages,
)
from modelyard.web.templating import make_templates, render

STATIC_DIR = Path(__file__).parent / "static"


def render_error(request: Request, error: ModelyardError) -> Response:
    if isinstance(error, AuthenticationError):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expired = "&expired=1" if request.cookies.get(COOKIE_NAME) else ""
        response = RedirectResponse(f"/login?next={quote(target)}{expired}", status_code=303)
        if expired:
            response.delete_cookie(COOKIE_NAME, path="/")
        return response
    return render(request, "error.html", {"error": error}, status=error.status_code)


def mount_portal(app: FastAPI) -> None:
    app.state.templates = make_templates()
    # Plotly.js is served from the installed package, under /static: before the mount.
    app.include_router(charts.router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    pages = (
        auth_pages,
        project_pages,
        start_pages,
        code_pages,
        account_pages,
        admin_pages,
        connection_pages,
        dataset_edit_pages,  # /data/new before /data/{name}
        data_pages,
        compare_pages,  # /projects/{slug}/runs/compare
        run_pages,
        model_pages,
        endpoint_pages,
        endpoint_actions,
        online_actions,
        alert_pages,
    )
    for module in pages:
        app.include_router(module.router)
