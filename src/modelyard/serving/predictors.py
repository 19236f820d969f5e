"""The Predictor family: one interface over project code (`predict.py`) and the default
predictors of known flavors (scikit-learn, River, a pickled object with `predict`).

Every predictor takes a list of records (dicts already checked against the signature)
and answers one JSON-able output per record, so the replica can hand it a micro-batch.
Vectorised flavors make one model call per batch; per-record ones loop.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pickle
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from modelyard.serving.spec import MODEL_FILE, Feature, VariantSpec

PREDICT_FILE = "predict.py"
NUMERIC = frozenset({"number", "integer", "boolean"})


class PredictorLoadError(Exception):
    """A variant's model or code could not be loaded; the message says which and why."""


class Predictor:
    """What the replica calls. `predict_batch` answers one output per record, in order."""

    can_learn = False

    def predict_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        raise NotImplementedError

    def learn(self, inputs: dict[str, Any], label: Any) -> None:
        raise NotImplementedError("this predictor does not learn online")


class CustomPredictor(Predictor):
    """The project's `predict.py` Predictor class, instantiated with the model folder."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self._batch = getattr(instance, "predict_batch", None)
        self._one = getattr(instance, "predict", None)
        if self._batch is None and self._one is None:
            raise PredictorLoadError("the Predictor class has neither predict nor predict_batch")
        self._learn = getattr(instance, "learn", None)
        self.can_learn = callable(self._learn)

    def predict_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        if self._batch is not None:
            outputs = list(self._batch(records))
            if len(outputs) != len(records):
                raise ValueError(
                    f"predict_batch answered {len(outputs)} outputs for {len(records)} records"
                )
            return outputs
        predict = self._one
        assert predict is not None
        return [predict(record) for record in records]

    def learn(self, inputs: dict[str, Any], label: Any) -> None:
        if self._learn is None:
            super().learn(inputs, label)
        else:
            self._learn(inputs, label)


class PickledPredictor(CustomPredictor):
    """Flavor `custom` without `predict.py`: the pickled object follows the Predictor contract."""


class RiverPredictor(Predictor):
    can_learn = True

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        predict_one = self.model.predict_one
        return [plain(predict_one(record)) for record in records]

    def learn(self, inputs: dict[str, Any], label: Any) -> None:
        self.model.learn_one(inputs, label)


class SklearnPredictor(Predictor):
    """One `model.predict(X)` per batch. X is a float array in the order the model was fitted
    on; a DataFrame only when the model was fitted on one and a column is not numeric,
    because building a DataFrame costs more than the prediction itself."""

    def __init__(self, model: Any, signature: Sequence[Feature]) -> None:
        import numpy

        self.model = model
        self._numpy = numpy
        fitted = getattr(model, "feature_names_in_", None)
        self.columns: tuple[str, ...] = (
            tuple(str(name) for name in fitted)
            if fitted is not None
            else tuple(feature.name for feature in signature)
        )
        self._fitted_on_frame = fitted is not None
        types = {feature.name: feature.type for feature in signature}
        self._numeric = bool(signature) and all(types.get(c) in NUMERIC for c in self.columns)
        self._row = _row_getter(self.columns)

    def predict_batch(self, records: list[dict[str, Any]]) -> list[Any]:
        if self._numeric:
            X: Any = self._numpy.array([self._row(r) for r in records], dtype=self._numpy.float64)
            if self._fitted_on_frame:
                # The values are in the fitted column order; only the names are missing,
                # which scikit-learn would warn about on every call.
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="X does not have valid feature names")
                    return plain_list(self.model.predict(X))
            return plain_list(self.model.predict(X))
        return plain_list(self.model.predict(self._frame(records)))

    def _frame(self, records: list[dict[str, Any]]) -> Any:
        columns = self.columns or tuple(records[0])
        if self._fitted_on_frame:
            import pandas

            return pandas.DataFrame.from_records(records, columns=list(columns))
        return self._numpy.array([[r[c] for c in columns] for r in records], dtype=object)


def _row_getter(columns: tuple[str, ...]) -> Any:
    if len(columns) == 1:
        name = columns[0]
        return lambda record: (record[name],)
    return itemgetter(*columns)


def plain(value: Any) -> Any:
    """numpy scalars and arrays as the builtin types JSON knows."""
    tolist = getattr(value, "tolist", None)
    return tolist() if tolist is not None else value


def plain_list(values: Any) -> list[Any]:
    tolist = getattr(values, "tolist", None)
    return tolist() if tolist is not None else [plain(v) for v in values]


# --- loading ----------------------------------------------------------------------------

_MODULE_PREFIX = "modelyard_predict_"
_module_ids = itertools.count()
_import_lock = threading.Lock()


def load_predictor(variant: VariantSpec) -> Predictor:
    """Build the predictor of a variant: `predict.py` in its code folder wins, then the
    default predictor of its flavor. Raises PredictorLoadError naming what went wrong."""
    code_dir = variant.code_dir
    try:
        with _project_imports(code_dir):
            if code_dir is not None and (Path(code_dir) / PREDICT_FILE).is_file():
                return _load_predict_py(Path(code_dir), variant.model_dir)
            model = _unpickle(Path(variant.model_dir) / MODEL_FILE)
    except PredictorLoadError:
        raise
    except Exception as exc:
        raise PredictorLoadError(f"variant {variant.name}: {type(exc).__name__}: {exc}") from exc
    if variant.flavor == "sklearn":
        return SklearnPredictor(model, variant.signature)
    if variant.flavor == "river":
        return RiverPredictor(model)
    if callable(getattr(model, "predict", None)) or callable(getattr(model, "predict_batch", None)):
        return PickledPredictor(model)
    raise PredictorLoadError(
        f"variant {variant.name}: flavor {variant.flavor!r} has no default predictor and the "
        f"project has no {PREDICT_FILE}"
    )


def _unpickle(path: Path) -> Any:
    with path.open("rb") as handle:
        return pickle.load(handle)


def _load_predict_py(code_dir: Path, model_dir: str) -> Predictor:
    # A unique module name per load, so two commits of the same project live side by side.
    name = f"{_MODULE_PREFIX}{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, code_dir / PREDICT_FILE)
    if spec is None or spec.loader is None:
        raise PredictorLoadError(f"{code_dir / PREDICT_FILE} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    # Registered like any import: dataclasses and pickle look classes up by module name.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cls = getattr(module, "Predictor", None)
    if cls is None:
        raise PredictorLoadError(f"{PREDICT_FILE} defines no class Predictor")
    return CustomPredictor(cls(model_dir))


@contextlib.contextmanager
def _project_imports(code_dir: str | None) -> Iterator[None]:
    """Let predict.py (and pickles of project classes) import the project's own modules,
    then forget those modules, so another commit of the same project loads its own copies
    (the loaded objects keep references to theirs)."""
    if code_dir is None:
        yield
        return
    root = os.path.realpath(code_dir)
    with _import_lock:
        before = set(sys.modules)
        sys.path.insert(0, root)
        try:
            yield
        finally:
            sys.path.remove(root)
            for name in set(sys.modules) - before:
                if name.startswith(_MODULE_PREFIX):
                    continue
                origin = getattr(sys.modules[name], "__file__", None) or ""
                if os.path.realpath(origin).startswith(root + os.sep):
                    del sys.modules[name]


class PredictorCache:
    """Loaded predictors by what determines them, so a spec change that only moves weights
    (or adds one variant) loads nothing twice."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[Any, ...], Predictor] = {}

    @staticmethod
    def key(variant: VariantSpec) -> tuple[Any, ...]:
        return (
            variant.model_sha256,
            variant.commit,
            variant.code_dir,
            variant.flavor,
            variant.signature,
        )

    def get(self, variant: VariantSpec) -> Predictor:
        key = self.key(variant)
        found = self._loaded.get(key)
        if found is None:
            found = self._loaded[key] = load_predictor(variant)
        return found

    def keep_only(self, variants: Sequence[VariantSpec]) -> None:
        """Drop predictors no variant uses any more (their memory goes with them)."""
        wanted = {self.key(v) for v in variants}
        for key in [k for k in self._loaded if k not in wanted]:
            del self._loaded[key]
