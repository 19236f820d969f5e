"""Checking prediction records against a model version's signature.

This runs on every request, so the common case is kept to one key-set comparison and an
exact-type lookup per field; working out *what* is wrong only happens once something is.
JSON parsers hand back exact builtin types, which is why `type(v) in {...}` is enough (and
why `bool`, a subclass of `int`, is told apart from numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelyard.serving.spec import Feature

_ALLOWED: dict[str, frozenset[type]] = {
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
    "datetime": frozenset({str}),
}
_EXPECTED = {
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "string": "a string",
    "datetime": "an ISO 8601 date-time string",
}


class InputError(Exception):
    """A record does not fit the signature; `field` says where (`inputs[3].age`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def record_field(single: bool, index: int, name: str | None = None) -> str:
    where = "inputs" if single else f"inputs[{index}]"
    return where if name is None else f"{where}.{name}"


class Validator:
    """Checks lists of records for one signature. An empty signature checks only that each
    record is a JSON object."""

    __slots__ = ("_datetimes", "_groups", "_names", "_order", "checks")

    def __init__(self, signature: Sequence[Feature]) -> None:
        self._order = tuple(feature.name for feature in signature)
        self._names = frozenset(self._order)
        self.checks = bool(signature)
        groups: dict[str, list[str]] = {}
        for feature in signature:
            if feature.type in _ALLOWED:
                groups.setdefault(feature.type, []).append(feature.name)
        self._groups = tuple((tuple(names), _ALLOWED[kind], kind) for kind, names in groups.items())
        self._datetimes = tuple(groups.get("datetime", ()))

    def __call__(self, records: list[Any], single: bool) -> None:
        """Raise InputError for the first problem found; return quietly when all is well."""
        names = self._names
        for index, record in enumerate(records):
            if type(record) is not dict:
                raise InputError("each record must be a JSON object", record_field(single, index))
            if not self.checks:
                continue
            if record.keys() != names:
                self._explain_keys(record, single, index)
            for fields, allowed, kind in self._groups:
                for name in fields:
                    if type(record[name]) not in allowed:
                        _explain_value(record[name], name, kind, record_field(single, index, name))
            for name in self._datetimes:
                try:
                    datetime.fromisoformat(record[name])
                except ValueError:
                    raise InputError(
                        f"{name} must be {_EXPECTED['datetime']}",
                        record_field(single, index, name),
                    ) from None

    def _explain_keys(self, record: dict[str, Any], single: bool, index: int) -> None:
        for name in self._order:
            if name not in record:
                raise InputError(
                    f"the feature {name} is missing", record_field(single, index, name)
                )
        extra = sorted(str(key) for key in record if key not in self._names)
        raise InputError(
            f"{extra[0]} is not a feature of this model (expected {', '.join(self._order)})",
            record_field(single, index, extra[0]),
        )


def _explain_value(value: Any, name: str, kind: str, field: str) -> None:
    got = "null" if value is None else _json_type(value)
    raise InputError(f"{name} must be {_EXPECTED[kind]}, not {got}", field)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if isinstance(value, float) else "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
