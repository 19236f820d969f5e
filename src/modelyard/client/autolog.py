"""`modelyard.autolog()`: scikit-learn and River training recorded in the active run.

The libraries are patched in memory when `autolog()` is called, never at import: importing
modelyard imports neither scikit-learn nor River. The patching itself lives next door, in
`autolog_sklearn.py` and `autolog_river.py`; this module holds what both share: the table
of replaced attributes (so `disable=True` puts every original back) and the rule that a
failure while logging is a warning, never an error in the user's training.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import pickle
import re
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.client.runs import Run
from modelyard.errors import InvalidInputError

PARAM_VALUE_LENGTH = 6000  # what the server stores of a param value
KEY_LENGTH = 250
_NOT_IN_KEY = re.compile(r"[^A-Za-z0-9_\-. /:]")
Call = Callable[..., Any]
Handler = Callable[[Any, Call, tuple[Any, ...], dict[str, Any]], Any]
_lock = threading.Lock()
_replaced: dict[tuple[int, str], tuple[object, str, object]] = {}
_warned: set[str] = set()


def autolog(
    *,
    sklearn: bool = True,
    river: bool = True,
    log_models: bool = False,
    river_log_every: int = 1000,
    disable: bool = False,
) -> None:
    """Record scikit-learn and River training in the active run, without logging calls.

    Autologging only writes to a run you started: with no active run (`modelyard.active_run()`
    is None) a fit logs nothing, and no run is ever created for you.

    scikit-learn: the outermost `fit` of an estimator (a Pipeline or a search logs once, not
    per step or per candidate) logs the estimator's own params (`get_params(deep=False)`),
    the tags `estimator_name` and `estimator_class`, and training metrics: for classifiers
    `training_accuracy_score`, `training_f1_score`, `training_precision_score`,
    `training_recall_score` (weighted), `training_log_loss` and, for two classes,
    `training_roc_auc`; for regressors `training_r2_score`, `training_mean_absolute_error`,
    `training_root_mean_squared_error`; and `training_score` (`estimator.score`), all with
    the fit's `sample_weight`. Searches also log `best_<param>` params and `best_cv_score`.
    Afterwards, while the same run is active, `estimator.score(X_val, y_val)` on other data
    logs `validation_score`, and `sklearn.metrics` functions (accuracy_score, roc_auc_score,
    f1_score, log_loss, mean_squared_error, r2_score, ...) called on the estimator's
    `predict` / `predict_proba` output log `validation_<function name>`; a repeated call is
    the next step. Call them as `sklearn.metrics.roc_auc_score`, or import them after
    `autolog()`: a name imported before still points to the unpatched function.

    River: `evaluate.progressive_val_score` and `evaluate.iter_progressive_val_score` log
    the metric as `progressive_<name>` (for example `progressive_rocauc`) every `print_every`
    samples, or every `river_log_every` samples when not printing, with the number of
    samples seen as the step, and the final value; plus the model's params flattened
    (`LogisticRegression.optimizer.lr.learning_rate`) and the same tags. What they return
    and print does not change.

    Either way the run remembers the training input (`run.training_input`), so a later
    `run.log_model(model, name)` records the input signature without an `input_example`.
    With `log_models=True` the fitted model is also uploaded as the run artifact
    `model/model.pkl`. A failure while logging (the server unreachable, a param that
    already has another value in this run) is a warning; the training itself goes on.

    Calling `autolog()` again replaces the previous settings; `autolog(disable=True)` puts
    the original functions back.

    Example:
        >>> modelyard.autolog()  # doctest: +SKIP
        >>> with modelyard.start_run(project="churn", name="lr") as run:  # doctest: +SKIP
        ...     model = LogisticRegression(C=0.5).fit(X_train, y_train)
        ...     model.score(X_val, y_val)  # logged as validation_score
        ...     run.log_model(model, name="churn-clf")
    """
    if isinstance(river_log_every, bool) or not isinstance(river_log_every, int):
        raise InvalidInputError(
            "river_log_every: a whole number of samples", field="river_log_every"
        )
    if river_log_every < 1:
        raise InvalidInputError("river_log_every: at least 1", field="river_log_every")
    with _lock:
        restore_all()
        _warned.clear()
        if disable:
            return
        if sklearn and _installed("sklearn"):
            from modelyard.client import autolog_sklearn

            autolog_sklearn.patch(log_models=log_models)
        if river and _installed("river"):
            from modelyard.client import autolog_river

            autolog_river.patch(log_every=river_log_every, log_models=log_models)


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def replace(target: object, name: str, new: object) -> None:
    """Set `target.name` to `new`, remembering the original once (for `restore_all`)."""
    key = (id(target), name)
    if key in _replaced:
        return
    original = vars(target)[name] if isinstance(target, type) else getattr(target, name)
    _replaced[key] = (target, name, original)
    setattr(target, name, new)


def restore_all() -> None:
    while _replaced:
        _, (target, name, original) = _replaced.popitem()
        setattr(target, name, original)


def report_failure(what: str, error: Exception) -> None:
    """Logging never breaks training: say what failed, once per kind of failure."""
    key = f"{what}: {type(error).__name__}"
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"modelyard.autolog could not {what}: {type(error).__name__}: {error}", stacklevel=2
    )


def guard(what: str, action: Callable[..., object], *args: Any) -> None:
    try:
        action(*args)
    except Exception as error:
        report_failure(what, error)


def clean_key(name: str) -> str:
    """A param or metric key the server accepts: other characters become '_'."""
    return _NOT_IN_KEY.sub("_", name)[:KEY_LENGTH] or "_"


def param_text(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text[:PARAM_VALUE_LENGTH]


def as_number(value: object) -> float | None:
    """A float for a scalar metric value; None for arrays, reports and other non-numbers."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        return None
    if getattr(value, "ndim", 0) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def upload_model(run: Run, model: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pkl"
        with path.open("wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        run.log_artifact(path, "model/model.pkl")


def set_estimator_tags(run: Run, model: object) -> None:
    cls = type(model)
    run.set_tags(
        {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}
    )


def wrap_method(original: object, handler: Handler) -> object | None:
    """A replacement for a method found in a class's `__dict__` that calls
    `handler(instance, bound original, args, kwargs)`; None when it is not a method."""
    if inspect.isfunction(original):
        function = original

        @functools.wraps(function)
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            return handler(self, functools.partial(function, self), args, kwargs)

        return patched
    if hasattr(original, "__get__") and not isinstance(original, staticmethod | classmethod):
        return _PatchedDescriptor(original, handler)
    return None


class _PatchedDescriptor:
    """Wraps a descriptor such as `available_if`, keeping `hasattr` answering as before."""

    def __init__(self, original: Any, handler: Handler) -> None:
        self.__wrapped__ = original
        self.__doc__ = getattr(original, "__doc__", None)
        self._handler = handler

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        bound = self.__wrapped__.__get__(instance, owner)
        if instance is None:
            return bound
        handler = self._handler

        @functools.wraps(bound)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return handler(instance, bound, args, kwargs)

        return patched
