"""Turning pydantic's validation errors into one message that names the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelyard.errors import InvalidInputError

SchemaT = TypeVar("SchemaT", bound=BaseModel)


LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field_of(loc: tuple[Any, ...]) -> str:
    # Only the first element is where the value came from; a field may itself be called
    # `path` or `query` (a dataset's), so later elements are kept whatever their name.
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def describe_validation(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """Answer (code, message, field) for the first problem pydantic found."""
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    loc = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "json_invalid":
        return "invalid_json", "the request body is not valid JSON", "body"
    field = _field_of(loc)
    if kind == "extra_forbidden":
        return "invalid_input", f"unknown field {field!r}", field
    if kind == "missing":
        return "invalid_input", f"{field!r} is required", field
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return "invalid_input", f"{field}: {message}", field


def parse(schema: type[SchemaT], data: dict[str, Any]) -> SchemaT:
    """Validate `data` as `schema`, raising InvalidInputError that names the first bad field."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        _, message, field = describe_validation(exc.errors())
        raise InvalidInputError(message, field=field) from None
