from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from modelyard.accounts import service, sessions
from modelyard.accounts.cookies import clear_login_cookies, set_login_cookies
from modelyard.accounts.deps import PasswordsDep, SessionDep, SettingsDep, client_ip, find_actor
from modelyard.accounts.throttle import LoginThrottleDep
from modelyard.errors import AuthenticationError, ModelyardError, RateLimitedError
from modelyard.web.deps import CheckedForm, text_field
from modelyard.web.forms import safe_next
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(
    request: Request,
    session: SessionDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    expired: bool = False,
) -> Response:
    try:
        if find_actor(request, session) is not None:
            return RedirectResponse(safe_next(next_path), status_code=303)
    except ModelyardError:
        expired = True
    notice = "Your session has ended. Sign in again to continue." if expired else None
    return render(request, "login.html", {"next": safe_next(next_path), "notice": notice})


@router.post("/login")
def login_submit(
    request: Request,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    throttle: LoginThrottleDep,
) -> Response:
    username = text_field(form, "username")[:64]
    next_path = safe_next(text_field(form, "next"))
    ip = client_ip(request)
    context = {"next": next_path, "username": username}
    try:
        password = text_field(form, "password")
        user = service.authenticate_password(
            session, username, password, ip=ip, passwords=passwords, throttle=throttle
        )
    except AuthenticationError:
        error = AuthenticationError("Wrong username or password.")
        return render(request, "login.html", {**context, "error": error}, status=401)
    except RateLimitedError as refused:
        shown = RateLimitedError(refused.message[:1].upper() + refused.message[1:] + ".")
        page = render(request, "login.html", {**context, "error": shown}, status=429)
        page.headers["Retry-After"] = str(refused.retry_after)
        return page
    session_id = sessions.start_session(
        session, user, ttl_seconds=settings.session_ttl_seconds, ip=ip
    )
    response = RedirectResponse(next_path, status_code=303)
    set_login_cookies(response, settings, session_id)
    return response


@router.post("/logout")
def logout_submit(request: Request, form: CheckedForm, session: SessionDep) -> Response:
    session_id = request.cookies.get(sessions.COOKIE_NAME)
    if session_id:
        sessions.end_session(session, session_id, ip=client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    clear_login_cookies(response)
    return response
