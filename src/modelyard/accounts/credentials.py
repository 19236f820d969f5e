"""Random credentials (API tokens, session ids) and the one-way hash they are stored under."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "myd_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """What may be shown of a token later: enough to tell tokens apart, too little to use."""
    return token[: len(TOKEN_PREFIX) + 4]
