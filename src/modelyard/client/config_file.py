"""Where `modelyard login` keeps the server URL and token: one JSON file, mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def config_path() -> Path:
    explicit = os.environ.get("MODELYARD_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modelyard" / "config.json"


@dataclass(frozen=True)
class SavedLogin:
    url: str
    token: str
    username: str = ""


def load_login(path: Path | None = None) -> SavedLogin | None:
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not data.get("url") or not data.get("token"):
        return None
    return SavedLogin(str(data["url"]), str(data["token"]), str(data.get("username", "")))


def save_login(login: SavedLogin, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": login.url, "token": login.token, "username": login.username}, handle)
    os.chmod(path, 0o600)
    return path


def forget_login(path: Path | None = None) -> bool:
    path = path or config_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
