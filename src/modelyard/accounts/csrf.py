"""CSRF protection: a signed double-submit token bound to the login session.

The token lives in a cookie and is repeated in every form (hidden field) or cookie-authenticated
API call (`X-CSRF-Token`). A cross-site page can make the browser send the cookie but can
neither read it nor mint a validly signed one, so it cannot repeat it.

The signature covers a hash of the session cookie the token was minted for, so a token is good
only with that session: someone who can plant cookies (a sibling subdomain) cannot pair a token
from their own session with a victim's. Before sign-in there is no session and the token is
bound to the empty one; signing in mints a new token for the new session. A token signed with
an earlier secret key, for another session or in the older unbound format is refused; the next
page rendered for the request puts a fresh one in the cookie (`web.templating`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from modelyard.accounts.credentials import digest

# Tells these signatures apart from the unbound ones of earlier versions (HMAC of the nonce
# alone), so an old token never verifies as a token of the anonymous session.
_PURPOSE = "csrf-v2"


def _sign(secret_key: str, nonce: str, session_id: str | None) -> str:
    bound_to = digest(session_id) if session_id else ""
    message = f"{_PURPOSE}|{nonce}|{bound_to}"
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def new_csrf_token(secret_key: str, session_id: str | None) -> str:
    """A token for the session with this cookie value (None before sign-in)."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(secret_key, nonce, session_id)}"


def is_valid_for(secret_key: str, token: str, session_id: str | None) -> bool:
    """Whether the token was signed with this key for the session with this cookie value."""
    nonce, _, signature = token.partition(".")
    return bool(nonce) and hmac.compare_digest(signature, _sign(secret_key, nonce, session_id))


def check_csrf(
    secret_key: str, cookie_value: str | None, submitted: str | None, session_id: str | None
) -> bool:
    """The double-submit check: the cookie repeated in the request, and minted for the session
    cookie the request carries (`session_id`, None when it carries none)."""
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(cookie_value, submitted) and is_valid_for(
        secret_key, cookie_value, session_id
    )
