"""The portal's login cookies: the HttpOnly session id and the readable CSRF token."""

from __future__ import annotations

from fastapi import Response

from modelyard.accounts import sessions
from modelyard.accounts.csrf import new_csrf_token
from modelyard.config import Settings


def set_login_cookies(response: Response, settings: Settings, session_id: str) -> str:
    """Put the session cookie and a CSRF token minted for that session on a response;
    answer the CSRF token."""
    csrf = new_csrf_token(settings.secret_key, session_id)
    common = {"secure": settings.secure_cookies, "samesite": "lax", "path": "/"}
    response.set_cookie(
        sessions.COOKIE_NAME,
        session_id,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        **common,  # type: ignore[arg-type]
    )
    response.set_cookie(sessions.CSRF_COOKIE_NAME, csrf, httponly=False, **common)  # type: ignore[arg-type]
    return csrf


def clear_login_cookies(response: Response) -> None:
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    response.delete_cookie(sessions.CSRF_COOKIE_NAME, path="/")
