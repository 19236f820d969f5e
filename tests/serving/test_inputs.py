"""Input validation against a signature: types, nulls, missing and extra fields, batches."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.serving.inputs import InputError, Validator
from modelyard.serving.spec import Feature

SIGNATURE = (
    Feature("age", "integer"),
    Feature("income", "number"),
    Feature("member", "boolean"),
    Feature("plan", "string"),
    Feature("signup", "datetime"),
    Feature("extra", "object"),
)
GOOD: dict[str, Any] = {
    "age": 30,
    "income": 1200.5,
    "member": True,
    "plan": "pro",
    "signup": "2024-03-01T10:00:00Z",
    "extra": {"anything": [1, None]},
}
check = Validator(SIGNATURE)


def problem(records: list[Any], single: bool = True) -> tuple[str, str]:
    with pytest.raises(InputError) as caught:
        check(records, single)
    return caught.value.field, caught.value.message


def test_a_good_record_and_a_good_batch_pass() -> None:
    check([GOOD], True)
    check([GOOD, {**GOOD, "income": 3, "extra": None, "signup": "2024-03-01"}], False)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("age", 3.0, "an integer"),
        ("age", True, "an integer"),
        ("age", "3", "an integer"),
        ("income", False, "a number"),
        ("income", None, "a number"),
        ("income", "1.5", "a number"),
        ("member", 1, "true or false"),
        ("plan", 5, "a string"),
        ("plan", None, "a string"),
        ("signup", "yesterday", "ISO 8601"),
        ("signup", 1700000000, "ISO 8601"),
    ],
)
def test_wrong_types_are_named(name: str, value: Any, expected: str) -> None:
    field, message = problem([{**GOOD, name: value}])
    assert field == f"inputs.{name}"
    assert expected in message


def test_missing_and_extra_fields_are_named_with_their_record() -> None:
    missing = {k: v for k, v in GOOD.items() if k != "plan"}
    assert problem([GOOD, missing], single=False) == (
        "inputs[1].plan",
        "the feature plan is missing",
    )
    field, message = problem([{**GOOD, "zip": "1234"}])
    assert field == "inputs.zip"
    assert "not a feature" in message


def test_records_must_be_objects() -> None:
    assert problem([GOOD, [1, 2]], single=False)[0] == "inputs[1]"


def test_an_empty_signature_passes_any_object_through() -> None:
    unchecked = Validator(())
    unchecked([{"whatever": None}, {}], False)
    with pytest.raises(InputError):
        unchecked(["text"], True)
