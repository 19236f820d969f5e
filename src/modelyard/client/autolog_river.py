"""River autologging (see `modelyard.autolog`).

Only `iter_progressive_val_score` is patched: `progressive_val_score` looks it up in its
module at every call, so it goes through the patch too (even when imported before
`autolog()`), prints exactly what it printed and returns the same metric object. The patch
asks River for checkpoints every `print_every` samples (every `log_every` when the caller
asked for none, in which case they are not passed on) and logs the metric at each.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from modelyard.client.autolog import (
    as_number,
    clean_key,
    guard,
    param_text,
    replace,
    set_estimator_tags,
    upload_model,
)
from modelyard.client.runs import Run, active_run


def patch(*, log_every: int, log_models: bool) -> None:
    from river import evaluate
    from river.evaluate import progressive_validation

    original = progressive_validation.iter_progressive_val_score
    patched = _wrap(original, log_every, log_models)
    replace(progressive_validation, "iter_progressive_val_score", patched)
    replace(evaluate, "iter_progressive_val_score", patched)


def _wrap(original: Callable[..., Any], log_every: int, log_models: bool) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        run = active_run()
        if run is None:
            return original(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)  # River says what is wrong with the call
        bound.apply_defaults()
        return _logged(run, original, bound, log_every, log_models)

    return patched


class _Counted:
    """The dataset, passed through unchanged, counting samples and keeping the first x."""

    def __init__(self, dataset: Iterable[Any], run: Run) -> None:
        self._dataset = dataset
        self._run = run
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for sample in self._dataset:
            self.count += 1
            if self.count == 1:
                guard("remember the training input", self._remember, sample)
            yield sample

    def _remember(self, sample: Any) -> None:
        x = sample[0]
        self._run.training_input = dict(x) if isinstance(x, Mapping) else x


def _logged(
    run: Run,
    original: Callable[..., Any],
    bound: inspect.BoundArguments,
    log_every: int,
    log_models: bool,
) -> Iterator[Any]:
    arguments = bound.arguments
    model, metric, asked = arguments["model"], arguments["metric"], arguments["step"]
    guard("set the model tags", set_estimator_tags, run, model)
    guard(f"log the params of {type(model).__name__}", _log_params, run, model)
    counted = _Counted(arguments["dataset"], run)
    arguments["dataset"] = counted
    arguments["step"] = asked or log_every
    logged_at = None
    for checkpoint in original(*bound.args, **bound.kwargs):
        logged_at = checkpoint["Step"]
        guard("log progressive metrics", _log_progress, run, metric, logged_at)
        if asked:
            yield checkpoint
    if counted.count and counted.count != logged_at:
        guard("log progressive metrics", _log_progress, run, metric, counted.count)
    if log_models:
        guard("upload the model", upload_model, run, model)


def _log_params(run: Run, model: Any) -> None:
    params = flatten_params(model._get_params())
    if params:
        run.log_params({clean_key(k): param_text(v) for k, v in params.items()})


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """River's nested `_get_params()` as flat keys: a pipeline step's params under its name,
    a nested object as its class name plus its own params ("optimizer", "optimizer.lr")."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, f"{name}."))
        elif (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], type)
            and isinstance(value[1], Mapping)
        ):
            flat[name] = value[0].__name__
            flat.update(flatten_params(value[1], f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def _log_progress(run: Run, metric: Any, step: int) -> None:
    from river.metrics.base import Metrics

    members = list(metric) if isinstance(metric, Metrics) else [metric]
    values: dict[str, float] = {}
    for member in members:
        value = as_number(member.get())
        if value is None:
            continue
        name = key = clean_key(f"progressive_{type(member).__name__.lower()}")
        copies = 1
        while key in values:  # two metrics of one class: progressive_mae, progressive_mae_2
            copies += 1
            key = f"{name}_{copies}"
        values[key] = value
    if values:
        run.log_metrics(values, step=step)
