"""Project templates: starter code that runs as it is, shipped inside the package."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from modelyard.errors import NotFoundError

PLACEHOLDERS = ("{{project}}", "{{name}}")


def _root() -> Traversable:
    return resources.files("modelyard.code").joinpath("templates")


def list_templates() -> list[str]:
    return sorted(entry.name for entry in _root().iterdir() if entry.is_dir())


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        path = f"{prefix}{entry.name}"
        found += _walk(entry, path + "/") if entry.is_dir() else [(path, entry)]
    return found


def render_template(name: str, *, project: str, display_name: str) -> dict[str, str]:
    """Every file of template `name` with the project's slug and name filled in."""
    if name not in list_templates():
        raise NotFoundError(
            f"no template {name!r}; choose one of {', '.join(list_templates())}", field="template"
        )
    files = {}
    for path, entry in sorted(_walk(_root().joinpath(name))):
        text = entry.read_text(encoding="utf-8")
        files[path] = text.replace("{{project}}", project).replace("{{name}}", display_name)
    return files
