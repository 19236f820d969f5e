"""The secret key's files in the home folder, and rotating it.

Rotation writes the new key to `secret.key.new` first, re-seals every connection's
secrets in one transaction, then swaps the files (keeping `secret.key.old`). A server
started between those steps still opens every secret: it decrypts with any key file
present, and seals with the current one. `secret.key.old` is a backup for restoring a
database dump taken before the rotation; delete it once that is no longer needed.
"""

from __future__ import annotations

import os
import secrets as random
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from modelyard.config import SECRET_KEY_FILE, Settings
from modelyard.data.connections import rotate_secrets
from modelyard.data.secrets import SecretBox
from modelyard.errors import InvalidInputError


def _files(settings: Settings) -> tuple[Path, Path, Path]:
    current = settings.home / SECRET_KEY_FILE
    return (
        current,
        current.with_name(SECRET_KEY_FILE + ".new"),
        current.with_name(SECRET_KEY_FILE + ".old"),
    )


def secret_box(settings: Settings) -> SecretBox:
    _, new, _ = _files(settings)
    fallback = new.read_text().strip() if new.is_file() else ""
    return SecretBox(settings.secret_key, [fallback] if fallback else [])


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode given to os.open applies only to a file it creates
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def rotate_key(
    settings: Settings, factory: sessionmaker[Session], *, new_key: str | None = None
) -> int:
    """Re-seal every secret under a new key; answer how many connections were re-sealed.

    With the key in `<home>/secret.key` (the default) a new one is generated and the file
    replaced. With `MODELYARD_SECRET_KEY` set, pass the new key and set it in the
    environment afterwards.
    """
    current, new_file, old_file = _files(settings)
    from_file = current.is_file() and current.read_text().strip() == settings.secret_key
    if new_key is None:
        if not from_file:
            raise InvalidInputError(
                "MODELYARD_SECRET_KEY is set in the environment: pass the new key with "
                "--new-key-file and put it in the environment after rotating",
                field="new_key",
            )
        new_key = random.token_urlsafe(48)
    if len(new_key) < 32:
        raise InvalidInputError("the new key must be at least 32 characters long", field="new_key")
    if from_file:
        _write_private(new_file, new_key)
    old_box = secret_box(settings)
    with factory() as session:
        count = rotate_secrets(session, old_box, SecretBox(new_key))
        session.commit()
    if from_file:
        _write_private(old_file, settings.secret_key)
        os.replace(new_file, current)
    return count
