"""CSRF protection: a signed double-submit token.

The token lives in a cookie and is repeated in every form (hidden field) or cookie-authenticated
API call (`X-CSRF-Token`). A cross-site page can make the browser send the cookie but can
neither read it nor mint a validly signed one, so it cannot repeat it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def _sign(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]


def new_csrf_token(secret_key: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(secret_key, nonce)}"


def is_signed(secret_key: str, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    return bool(nonce) and hmac.compare_digest(signature, _sign(secret_key, nonce))


def check_csrf(secret_key: str, cookie_value: str | None, submitted: str | None) -> bool:
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(cookie_value, submitted) and is_signed(secret_key, cookie_value)
