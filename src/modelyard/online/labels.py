"""What a label is checked against and scored with: the served prediction it labels.

Rules (documented in README's "Online learning"):
- a label is a JSON scalar: a boolean, a string or a number (never null, a list or an object);
- it has the type of the prediction: a boolean prediction takes a boolean label (or 0/1),
  a string prediction a string, a number prediction a number;
- an object output (`{"churn": true, "probability": 0.7}`) is scored by its first
  class-like value (boolean, string or integer), else by its first number;
- a boolean, string or integer prediction is a classification (right or wrong); a float
  prediction is a regression (absolute and squared error).
"""

from __future__ import annotations

from typing import Any

CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_CLASS_LENGTH = 256


class LabelTypeError(ValueError):
    """The label cannot be compared with the prediction it labels."""


def predicted_value(output: Any) -> Any:
    """The scalar a label is compared with (see the module's rules)."""
    if isinstance(output, list) and len(output) == 1:
        output = output[0]
    if isinstance(output, dict):
        values = list(output.values())
        for value in values:
            if isinstance(value, bool | str | int):
                return value
        for value in values:
            if isinstance(value, float):
                return value
        return None
    return output


def task_of(predicted: Any) -> str | None:
    if isinstance(predicted, bool | str | int):
        return CLASSIFICATION
    if isinstance(predicted, float):
        return REGRESSION
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"


def coerce_label(label: Any, predicted: Any) -> Any:
    """The label as the prediction's type; raises LabelTypeError saying what is wrong."""
    if label is None or isinstance(label, list | dict):
        raise LabelTypeError(f"a label is a boolean, a string or a number, not {_kind(label)}")
    if predicted is None:
        return label  # an output modelyard cannot compare: stored, learned, not scored
    if isinstance(predicted, bool):
        if isinstance(label, bool):
            return label
        if isinstance(label, int) and label in (0, 1):
            return bool(label)
        raise LabelTypeError(
            f"the prediction is a boolean, so the label must be one, not {_kind(label)}"
        )
    if isinstance(predicted, str):
        if isinstance(label, str):
            if len(label) > MAX_CLASS_LENGTH:
                raise LabelTypeError(f"a class label is at most {MAX_CLASS_LENGTH} characters")
            return label
        raise LabelTypeError(
            f"the prediction is a string, so the label must be one, not {_kind(label)}"
        )
    if isinstance(label, bool) or not isinstance(label, int | float):
        raise LabelTypeError(
            f"the prediction is a number, so the label must be one, not {_kind(label)}"
        )
    if label != label or label in (float("inf"), float("-inf")):
        raise LabelTypeError("the label must be a finite number")
    if isinstance(predicted, int) and isinstance(label, float) and label.is_integer():
        # an integer prediction is a class: 1.0 (from a float column, say) is class 1, so it
        # is scored and counted in the baseline as 1, as the learner scores it
        return int(label)
    return label


def class_key(value: Any) -> str:
    """A class as a JSON object key (True and "True" stay apart)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"s:{value}"
    return f"n:{value}"
