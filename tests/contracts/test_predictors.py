"""The Predictor contract, run by every kind of predictor: one JSON-able output per record
in order, the same answer alone as in a batch (micro-batching relies on it), `learn` only
where `can_learn` says so, and the default predictor chosen from the flavor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from modelyard.serving.predictors import (
    CustomPredictor,
    PickledPredictor,
    Predictor,
    PredictorLoadError,
    RiverPredictor,
    SklearnPredictor,
    load_predictor,
)
from modelyard.serving.spec import Feature, VariantSpec
from tests.serving.replica_models import (
    BATCH_PREDICT_PY,
    FEATURES,
    Scorer,
    custom_code,
    record,
    river_model,
    save,
    sklearn_mixed_model,
    sklearn_model,
    variant,
)

MIXED = (*FEATURES, Feature("plan", "string"))


def mixed_record(i: int) -> dict[str, Any]:
    return {**record(i), "plan": ("basic", "pro", "team")[i % 3]}


def build(kind: str, root: Path) -> tuple[VariantSpec, type[Predictor], Any]:
    """(the variant, the predictor class it must load as, a record maker)."""
    folder = root / kind
    if kind == "sklearn":
        return variant("v", save(folder, sklearn_model())), SklearnPredictor, record
    if kind == "sklearn-frame":
        return variant("v", save(folder, sklearn_model(frame=True))), SklearnPredictor, record
    if kind == "sklearn-mixed":
        model = save(folder, sklearn_mixed_model())
        return variant("v", model, signature=MIXED), SklearnPredictor, mixed_record
    if kind == "river":
        return variant("v", save(folder, river_model()), "river"), RiverPredictor, record
    if kind == "pickled":
        return variant("v", save(folder, Scorer()), "custom"), PickledPredictor, record
    if kind == "predict-py":
        code, params = custom_code(folder)
        return variant("v", params, "sklearn", code_dir=code), CustomPredictor, record
    if kind == "predict-batch-py":
        code, params = custom_code(folder, BATCH_PREDICT_PY)
        return variant("v", params, "custom", code_dir=code), CustomPredictor, record
    raise AssertionError(kind)


KINDS = (
    "sklearn",
    "sklearn-frame",
    "sklearn-mixed",
    "river",
    "pickled",
    "predict-py",
    "predict-batch-py",
)


@pytest.fixture(scope="module", params=KINDS)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Predictor, type[Predictor], Any]:
    spec, cls, make = build(str(request.param), tmp_path_factory.mktemp("predictors"))
    return load_predictor(spec), cls, make


def test_the_flavor_and_code_pick_the_predictor(built: tuple[Predictor, type, Any]) -> None:
    predictor, cls, _ = built
    assert type(predictor) is cls


def test_one_plain_json_output_per_record_in_order(built: tuple[Predictor, type, Any]) -> None:
    predictor, _, make = built
    records = [make(i) for i in range(14, 30)]
    outputs = predictor.predict_batch(records)
    assert len(outputs) == len(records)
    orjson.dumps(outputs)  # builtin types only: no numpy option needed


def test_a_record_gets_the_same_answer_alone_and_in_a_batch(
    built: tuple[Predictor, type, Any],
) -> None:
    predictor, _, make = built
    records = [make(i) for i in range(40, 52)]
    together = predictor.predict_batch(records)
    alone = [predictor.predict_batch([r])[0] for r in records]
    assert together == alone
    assert predictor.predict_batch(records) == together  # and again


def test_learn_exactly_when_can_learn(built: tuple[Predictor, type, Any]) -> None:
    predictor, _, make = built
    if predictor.can_learn:
        predictor.learn(make(3), True)
    else:
        with pytest.raises(NotImplementedError):
            predictor.learn(make(3), True)


def test_learning_changes_what_a_river_predictor_answers(tmp_path: Path) -> None:
    from river import linear_model

    predictor = load_predictor(
        variant("v", save(tmp_path / "m", linear_model.LogisticRegression()), "river")
    )
    target = record(5)
    for _ in range(50):
        predictor.learn(target, True)
    assert predictor.predict_batch([target]) == [True]


def test_an_unknown_flavor_without_code_is_refused_by_name(tmp_path: Path) -> None:
    spec = variant("v", save(tmp_path / "m", {"just": "data"}), "onnx")
    with pytest.raises(PredictorLoadError, match="onnx"):
        load_predictor(spec)


def test_a_missing_model_file_is_refused_naming_the_variant(tmp_path: Path) -> None:
    spec = variant("broken", tmp_path / "nowhere")
    with pytest.raises(PredictorLoadError, match="broken"):
        load_predictor(spec)
