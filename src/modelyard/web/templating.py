"""Rendering portal pages: Jinja2 with autoescaping, sanitised markdown and the CSRF token."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import Response

from modelyard.accounts.csrf import is_valid_for, new_csrf_token
from modelyard.accounts.sessions import COOKIE_NAME, CSRF_COOKIE_NAME
from modelyard.web.run_format import duration, metric

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Raw HTML in markdown is escaped, and markdown-it refuses javascript:, vbscript:, file: and
# data: links, so text users write can never carry a script into a page.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def render_markdown(text: str) -> Markup:
    return Markup(_markdown.render(text or ""))


def first_line(text: str, limit: int = 180) -> str:
    """The first sentence-like line of markdown: headings are titles, not summaries."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            line = re.sub(r"[*_`]+", "", line)
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def number(value: float | None) -> str:
    """Counts with thousands separators, other numbers to four significant digits."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["markdown"] = render_markdown
    templates.env.filters["first_line"] = first_line
    templates.env.filters["timestamp"] = timestamp
    templates.env.filters["number"] = number
    templates.env.filters["percent"] = percent
    templates.env.filters["metric"] = metric
    templates.env.filters["duration"] = duration
    return templates


def csrf_token_for(request: Request) -> str:
    """The CSRF token for the session cookie this request carries: the cookie's own if it was
    minted for that session with the current key, else a new one (render puts it in the cookie).

    So a stale token (an earlier secret key, another session, the older unbound format) costs
    one refused form at most, and the next page shown works again."""
    secret_key: str = request.app.state.settings.secret_key
    session_id = request.cookies.get(COOKIE_NAME)
    current = request.cookies.get(CSRF_COOKIE_NAME)
    if current and is_valid_for(secret_key, current, session_id):
        return current
    token: str = getattr(request.state, "new_csrf", "") or new_csrf_token(secret_key, session_id)
    request.state.new_csrf = token
    return token


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    csrf = csrf_token_for(request)
    page = {"csrf_token": csrf, "actor": getattr(request.state, "actor", None)}
    response = templates.TemplateResponse(
        request, template, {**page, **(context or {})}, status_code=status
    )
    if request.cookies.get(CSRF_COOKIE_NAME) != csrf:
        response.set_cookie(
            CSRF_COOKIE_NAME,
            csrf,
            httponly=False,
            samesite="lax",
            path="/",
            secure=request.app.state.settings.secure_cookies,
        )
    response.headers["Cache-Control"] = "no-store"
    return response
