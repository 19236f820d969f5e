"""Telling a rule's webhook that an alert fired or resolved.

The URL may carry a token, so it is stored sealed with the server's secret box, decrypted
only here, and never logged or answered: a delivery's outcome names the HTTP status or the
kind of failure, not the address. Requests go straight to an httpx transport, because
httpx's client logs every request's full URL at INFO level.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from modelyard.errors import ModelyardError

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 3.0
_KEY = "url"


class Sealer(Protocol):
    """The server's secret box (`app.state.secret_box`), as far as webhooks need it."""

    def seal(self, secrets: Mapping[str, str]) -> str: ...

    def open(self, token: str) -> dict[str, str]: ...


def seal_webhook(box: Sealer, url: str) -> str:
    return box.seal({_KEY: url}) if url else ""


def open_webhook(box: Sealer, sealed: str) -> str | None:
    """The URL, "" when none is set, None when this server's key cannot open it (the secret
    key changed: set the webhook again)."""
    if not sealed:
        return ""
    try:
        return box.open(sealed).get(_KEY, "")
    except ModelyardError:
        return None


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> str:
    """POST `payload` and answer what happened, in words safe to show: "HTTP 200",
    "failed: ConnectTimeout". Redirects are not followed."""
    request = httpx.Request(
        "POST",
        url,
        json=payload,
        headers={"User-Agent": "modelyard-alerts"},
        extensions={"timeout": httpx.Timeout(timeout).as_dict()},
    )
    own = transport is None
    sender = transport if transport is not None else httpx.HTTPTransport(retries=0)
    try:
        response = sender.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    finally:
        if own:
            sender.close()
    return f"HTTP {response.status_code}"


def deliver(
    box: Sealer,
    sealed: str,
    payload: dict[str, Any],
    *,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Send `payload` to the sealed webhook; answer the status to record ("" when the rule
    has no webhook)."""
    url = open_webhook(box, sealed)
    if url == "":
        return ""
    if url is None:
        return "failed: the webhook cannot be decrypted with this server's key; set it again"
    status = post_json(url, payload, transport=transport)
    if not status.startswith("HTTP 2"):
        logger.warning("alert webhook of rule %s: %s", payload["rule"]["id"], status)
    return status
