"""Connection secrets at rest: Fernet under a key derived from the server's secret key.

The Fernet key is HKDF-SHA256 of `MODELYARD_SECRET_KEY` with a purpose label, so the same
server secret never serves two purposes directly. Decryption accepts older keys too
(`fallback_keys`), which lets a key rotation be finished or recovered after a crash.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from modelyard.errors import ModelyardError

MASK = "********"
_PURPOSE = b"modelyard connection secrets v1"


def fernet_for(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts a connection's secrets with the current key; decrypts with any known key."""

    def __init__(self, secret_key: str, fallback_keys: Sequence[str] = ()) -> None:
        self._current = fernet_for(secret_key)
        self._any = MultiFernet([self._current, *(fernet_for(k) for k in fallback_keys)])

    def seal(self, secrets: Mapping[str, str]) -> str:
        if not secrets:
            return ""
        return self._current.encrypt(json.dumps(dict(secrets)).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        if not token:
            return {}
        try:
            plain = self._any.decrypt(token.encode())
        except InvalidToken:
            raise ModelyardError(
                "a connection's secrets cannot be decrypted with this server's secret key; "
                "was MODELYARD_SECRET_KEY changed without `modelyard admin rotate-key`?"
            ) from None
        data = json.loads(plain)
        return {str(k): str(v) for k, v in data.items()}


def masked(keys: Sequence[str]) -> dict[str, str]:
    """What every response shows of a connection's secrets: their names, never values."""
    return dict.fromkeys(sorted(keys), MASK)


def scrub(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with every secret value (and its URL-encoded form) replaced by the mask."""
    for value in secrets.values():
        if len(value) >= 1:
            for form in {value, quote(value, safe=""), quote(value)}:
                text = text.replace(form, MASK)
    return text
