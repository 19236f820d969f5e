"""scikit-learn autologging (see `modelyard.autolog`).

`fit`, `predict`, `predict_proba` and `score` are patched once on the class that defines
them, for every estimator of `sklearn.utils.all_estimators()` plus Pipeline and the searches,
so subclasses (yours too) are covered. A thread-local depth tells the outermost call from
the fits, predictions and scores a Pipeline, a search or `score` makes inside it: only the
outermost one logs. Predictions are remembered by `id()` (with a weak reference, so a
reused id never matches) to recognise them when they reach a `sklearn.metrics` function.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelyard.client.autolog import (
    Call,
    Handler,
    as_number,
    clean_key,
    guard,
    param_text,
    replace,
    report_failure,
    set_estimator_tags,
    upload_model,
    wrap_method,
)
from modelyard.client.runs import Run, active_run

# Transformers are mostly fitted inside pipelines; fitted on their own they are not a model.
EXCLUDED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction")
EXCLUDED_CLASSES = ("ColumnTransformer",)
METRIC_FUNCTIONS = (
    "accuracy_score",
    "balanced_accuracy_score",
    "f1_score",
    "precision_score",
    "recall_score",
    "roc_auc_score",
    "log_loss",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "r2_score",
)
# Fits inside these are folds, not the model: like a search's candidates, they do not log.
CROSS_VALIDATION = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)


class _Depth(threading.local):
    value = 0


@dataclass
class _Fitted:
    """An estimator fitted at top level while `run` was active, and what it was fitted on."""

    run: Run
    training_id: int
    training_ref: weakref.ref[Any] | None = field(default=None)

    def is_training_data(self, data: object) -> bool:
        if id(data) != self.training_id:
            return False
        return self.training_ref is None or self.training_ref() is data


_depth = _Depth()
_fitted: weakref.WeakKeyDictionary[Any, _Fitted] = weakref.WeakKeyDictionary()
_predictions: dict[int, tuple[weakref.ref[Any], _Fitted]] = {}
_busy: set[int] = set()  # runs with a top-level fit in progress, in any thread
_busy_lock = threading.Lock()
_log_models = False


def patch(*, log_models: bool) -> None:
    global _log_models
    import sklearn.metrics  # type: ignore[import-untyped]
    from sklearn.model_selection import (  # type: ignore[import-untyped]
        GridSearchCV,
        RandomizedSearchCV,
    )
    from sklearn.model_selection import _validation as validation
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
    from sklearn.utils import all_estimators  # type: ignore[import-untyped]

    _log_models = log_models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all_estimators imports every submodule; some warn
        classes = [cls for _, cls in all_estimators()]
    handlers: dict[str, Handler] = {
        "fit": _on_fit,
        "predict": _on_predict,
        "predict_proba": _on_predict,
        "score": _on_score,
    }
    for cls in [*classes, Pipeline, GridSearchCV, RandomizedSearchCV]:
        if _excluded(cls):
            continue
        for name, handler in handlers.items():
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is None:
                continue
            patched = wrap_method(vars(owner)[name], handler)
            if patched is not None:
                replace(owner, name, patched)
    for name in METRIC_FUNCTIONS:
        function = getattr(sklearn.metrics, name, None)
        if function is not None:
            replace(sklearn.metrics, name, _metric_wrapper(name, function))
    for name in CROSS_VALIDATION:  # cross_val_score finds cross_validate in _validation
        function = getattr(validation, name, None)
        if function is not None:
            quiet = _all_nested(function)
            replace(validation, name, quiet)
            replace(sklearn.model_selection, name, quiet)


def _excluded(cls: type) -> bool:
    return cls.__name__ in EXCLUDED_CLASSES or cls.__module__.startswith(EXCLUDED_MODULES)


def _nested(call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _depth.value += 1
    try:
        return call(*args, **kwargs)
    finally:
        _depth.value -= 1


def _all_nested(function: Call) -> Call:
    @functools.wraps(function)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return _nested(function, args, kwargs)

    return patched


def _record(estimator: object) -> _Fitted | None:
    """The estimator's record when it was autologged and its run is still the active one."""
    try:
        record = _fitted.get(estimator)
    except TypeError:  # not hashable or not weakly referenceable
        return None
    return record if record is not None and record.run is active_run() else None


def _first(args: tuple[Any, ...], kwargs: dict[str, Any], name: str = "X") -> Any:
    return args[0] if args else kwargs.get(name)


# --- fit --------------------------------------------------------------------------------------
def _on_fit(estimator: Any, call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    run = active_run() if _depth.value == 0 else None
    with _busy_lock:  # a fit in another thread (joblib threads) for a run being fitted: nested
        if run is None or run.id in _busy or _excluded(type(estimator)):
            run = None
        else:
            _busy.add(run.id)
    if run is None:
        return _nested(call, args, kwargs)
    _depth.value += 1
    try:
        guard("set the estimator tags", set_estimator_tags, run, estimator)
        guard(f"log the params of {type(estimator).__name__}", _log_params, run, estimator)
        result = call(*args, **kwargs)
        x, y, weight = _fit_arguments(call, args, kwargs)
        guard("remember the training data", _remember, run, estimator, x)
        guard("log the search results", _log_search, run, estimator)
        guard("log training metrics", _log_training_metrics, run, estimator, x, y, weight)
        if _log_models:
            guard("upload the model", upload_model, run, estimator)
    finally:
        _depth.value -= 1
        with _busy_lock:
            _busy.discard(run.id)
    return result


def _param_value(value: object) -> str:
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__
    return param_text(value)


def _log_params(run: Run, estimator: Any) -> None:
    params = estimator.get_params(deep=False)
    if params:
        run.log_params({clean_key(k): _param_value(v) for k, v in params.items()})


def _fit_arguments(call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        bound = inspect.signature(call).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return _first(args, kwargs), kwargs.get("y"), kwargs.get("sample_weight")
    values = bound.arguments
    names = list(bound.signature.parameters)
    weight = values.get("sample_weight")
    for parameter in bound.signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and weight is None:
            weight = values.get(parameter.name, {}).get("sample_weight")
    x = values.get(names[0]) if names else None
    return x, values.get("y", values.get("Y")), weight


def _remember(run: Run, estimator: Any, x: Any) -> None:
    try:
        reference: weakref.ref[Any] | None = weakref.ref(x)
    except TypeError:
        reference = None
    _fitted[estimator] = _Fitted(run, id(x), reference)
    run.training_input = x


def _log_search(run: Run, estimator: Any) -> None:
    best = getattr(estimator, "best_params_", None)
    if not isinstance(best, dict):
        return
    if best:
        run.log_params({clean_key(f"best_{k}"): _param_value(v) for k, v in best.items()})
    score = as_number(getattr(estimator, "best_score_", None))
    if score is not None:
        run.log_metric("best_cv_score", score)


def _log_training_metrics(run: Run, estimator: Any, x: Any, y: Any, weight: Any) -> None:
    values: dict[str, float] = {}
    failures: dict[str, Exception] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the user did not ask for these: no advice about them
        for key, compute in _training_metrics(estimator, x, y, weight).items():
            try:
                value = as_number(compute())
            except Exception as error:
                failures[key] = error
                continue
            if value is not None:
                values[key] = value
    for key, failure in failures.items():
        report_failure(f"compute {key}", failure)
    if values:
        run.log_metrics(values)


def _training_metrics(
    estimator: Any, x: Any, y: Any, weight: Any
) -> dict[str, Callable[[], object]]:
    """What to compute, lazily: predictions are made once and shared."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor  # type: ignore[import-untyped]

    found: dict[str, Callable[[], object]] = {}
    if x is None:
        return found
    w = {"sample_weight": weight}

    @functools.cache
    def predicted() -> Any:
        return estimator.predict(x)

    @functools.cache
    def probabilities() -> Any:
        return estimator.predict_proba(x)

    supervised = y is not None and hasattr(estimator, "predict")
    if supervised and is_classifier(estimator) and getattr(y, "ndim", 1) == 1:
        found["training_accuracy_score"] = lambda: metrics.accuracy_score(y, predicted(), **w)
        for kind in ("f1", "precision", "recall"):
            found[f"training_{kind}_score"] = _weighted(
                getattr(metrics, f"{kind}_score"), y, predicted, w
            )
        classes = getattr(estimator, "classes_", None)
        if hasattr(estimator, "predict_proba"):
            if classes is not None and getattr(classes, "ndim", 1) == 1 and len(classes) == 2:
                found["training_roc_auc"] = lambda: metrics.roc_auc_score(
                    y, probabilities()[:, 1], **w
                )
            found["training_log_loss"] = lambda: metrics.log_loss(
                y, probabilities(), labels=classes, **w
            )
    elif supervised and is_regressor(estimator):
        found["training_r2_score"] = lambda: metrics.r2_score(y, predicted(), **w)
        found["training_mean_absolute_error"] = lambda: metrics.mean_absolute_error(
            y, predicted(), **w
        )
        found["training_root_mean_squared_error"] = lambda: (
            metrics.mean_squared_error(y, predicted(), **w) ** 0.5
        )
    if hasattr(estimator, "score"):
        found["training_score"] = lambda: _score(estimator, x, y, weight)
    return found


def _weighted(
    function: Call, y: Any, predicted: Callable[[], Any], w: dict[str, Any]
) -> Callable[[], object]:
    return lambda: function(y, predicted(), average="weighted", zero_division=0, **w)


def _score(estimator: Any, x: Any, y: Any, weight: Any) -> Any:
    if weight is not None and "sample_weight" in inspect.signature(estimator.score).parameters:
        return estimator.score(x, y, sample_weight=weight)
    return estimator.score(x, y)


# --- after fit: predictions, score and sklearn.metrics -----------------------------------------
def _on_predict(estimator: Any, call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    outermost = _depth.value == 0
    result = _nested(call, args, kwargs)
    if outermost:
        record = _record(estimator)
        if record is not None and not record.is_training_data(_first(args, kwargs)):
            _track(result, record)
    return result


def _track(output: object, record: _Fitted) -> None:
    for item in (output, getattr(output, "base", None)):
        if item is None:
            continue
        key = id(item)
        try:
            reference = weakref.ref(item, functools.partial(_forget, key))
        except TypeError:
            continue
        _predictions[key] = (reference, record)


def _forget(key: int, reference: weakref.ref[Any]) -> None:
    entry = _predictions.get(key)
    if entry is not None and entry[0] is reference:
        del _predictions[key]


def _tracked(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Fitted | None:
    """The record of the estimator whose prediction is among the arguments (a slice too)."""
    for value in (*args, *kwargs.values()):
        for item in (value, getattr(value, "base", None)):
            entry = _predictions.get(id(item)) if item is not None else None
            if entry is not None and entry[0]() is item:
                return entry[1]
    return None


def _on_score(estimator: Any, call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    outermost = _depth.value == 0
    result = _nested(call, args, kwargs)
    if outermost:
        record = _record(estimator)
        if record is not None and not record.is_training_data(_first(args, kwargs)):
            guard("log validation_score", _log_validation, record.run, "validation_score", result)
    return result


def _metric_wrapper(name: str, function: Call) -> Call:
    @functools.wraps(function)
    def patched(*args: Any, **kwargs: Any) -> Any:
        if _depth.value:
            return function(*args, **kwargs)
        record = _tracked(args, kwargs)
        result = _nested(function, args, kwargs)
        if record is not None and record.run is active_run():
            guard(
                f"log validation_{name}", _log_validation, record.run, f"validation_{name}", result
            )
        return result

    return patched


def _log_validation(run: Run, key: str, result: object) -> None:
    value = as_number(result)
    if value is not None:
        run.log_metric(key, value)
