"""A connection's form fields, one per setting of its kind (read from the settings schema), and
the submitted form turned back into settings and secrets."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from starlette.datastructures import FormData

from modelyard.data.schemas import SECRET_KEYS, SETTINGS
from modelyard.errors import InvalidInputError
from modelyard.web.deps import text_field

KINDS = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL / MariaDB",
    "sqlite": "SQLite file",
    "duckdb": "DuckDB file",
    "files": "Parquet, CSV or JSON files in a folder",
    "s3": "S3-compatible bucket",
}
LABELS = {"endpoint_url": "Endpoint URL", "sslmode": "SSL mode", "user": "User name"}


@dataclass
class FieldSpec:
    name: str
    label: str
    input: Literal["text", "number", "select"]
    required: bool
    default: str = ""
    hint: str = ""
    choices: list[str] = field(default_factory=list)
    low: int | None = None
    high: int | None = None


def _choices(annotation: Any) -> list[str]:
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    if get_origin(annotation) in (Union, types.UnionType):
        return [c for arg in get_args(annotation) for c in _choices(arg)]
    return []


def settings_fields(kind: str) -> list[FieldSpec]:
    specs = []
    for name, info in SETTINGS[kind].model_fields.items():
        choices = _choices(info.annotation)
        number = info.annotation is int
        spec = FieldSpec(
            name=name,
            label=LABELS.get(name, name.replace("_", " ").capitalize()),
            input="select" if choices else "number" if number else "text",
            required=info.is_required(),
            default="" if info.is_required() or info.default is None else str(info.default),
            hint=info.description or "",
            choices=choices,
        )
        for rule in info.metadata:
            if isinstance(rule, Ge) and isinstance(rule.ge, int):
                spec.low = rule.ge
            if isinstance(rule, Le) and isinstance(rule.le, int):
                spec.high = rule.le
        specs.append(spec)
    return specs


def secret_names(kind: str) -> list[str]:
    return sorted(SECRET_KEYS.get(kind, frozenset()))


def settings_from(form: FormData, kind: str) -> dict[str, Any]:
    """The settings the form gives; an empty field takes the setting's default."""
    settings: dict[str, Any] = {}
    for spec in settings_fields(kind):
        raw = text_field(form, f"settings.{spec.name}").strip()
        if not raw:
            continue
        if spec.input == "number":
            try:
                settings[spec.name] = int(raw)
            except ValueError:
                raise InvalidInputError(
                    f"{spec.label} must be a whole number", field=f"settings.{spec.name}"
                ) from None
        else:
            settings[spec.name] = raw
    return settings


def new_secrets_from(form: FormData, kind: str) -> dict[str, str]:
    return {k: v for k in secret_names(kind) if (v := text_field(form, f"secrets.{k}"))}


def changed_secrets_from(form: FormData, kind: str) -> dict[str, str] | None:
    """Secrets to replace (a new value) or remove (an empty value); None leaves them all."""
    changes: dict[str, str] = {}
    for key in secret_names(kind):
        if value := text_field(form, f"secrets.{key}"):
            changes[key] = value
        elif text_field(form, f"clear.{key}") == "on":
            changes[key] = ""
    return changes or None


def form_values(settings: dict[str, Any]) -> dict[str, str]:
    """Stored settings as the strings the form shows (never secrets: they are not settings)."""
    return {k: "" if v is None else str(v) for k, v in settings.items()}
