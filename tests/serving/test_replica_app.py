"""The replica's ASGI app in-process: answers, routing, bad input, keys, failures, shadows,
the Open Inference Protocol, spec swaps under load and micro-batching."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from modelyard.serving.predictors import CustomPredictor, PredictorCache
from modelyard.serving.routing_table import build_table
from tests.serving.replica_models import (
    BATCH_PREDICT_PY,
    KEY,
    URL,
    V2,
    client,
    custom_code,
    endpoint,
    record,
    save,
    serve,
    sklearn_model,
    variant,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    code, params = custom_code(root / "custom")
    batch_code, batch_params = custom_code(root / "batch", BATCH_PREDICT_PY)
    return {
        "zero": save(root / "zero", sklearn_model(label=0)),
        "one": save(root / "one", sklearn_model(label=1)),
        "lr": save(root / "lr", sklearn_model()),
        "custom_code": code,
        "custom_params": params,
        "batch_code": batch_code,
        "batch_params": batch_params,
    }


def two_arms(models: dict[str, Path], a: float, b: float, **options: Any) -> Any:
    return endpoint(
        variant("a", models["zero"], weight=a, **options),
        variant("b", models["one"], weight=b, **options),
    )


def custom(models: dict[str, Path], name: str = "a", **options: Any) -> Any:
    return variant(
        name, models["custom_params"], "custom", code_dir=models["custom_code"], **options
    )


def test_one_record_gets_its_output_an_id_and_the_variant(models: dict[str, Path]) -> None:
    app = serve(endpoint(variant("a", models["lr"])))

    async def ask() -> httpx.Response:
        async with client(app) as http:
            return await http.post(URL, json={"inputs": record(70)})

    answer = run(ask())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["variant"] == "a"
    assert body["outputs"] in (0, 1)
    assert len(body["prediction_id"]) == 24 and int(body["prediction_id"], 16) >= 0


def test_a_batch_goes_to_one_variant_with_an_id_per_record(models: dict[str, Path]) -> None:
    app = serve(two_arms(models, 1, 1))

    async def ask() -> httpx.Response:
        async with client(app) as http:
            return await http.post(URL, json={"inputs": [record(i) for i in range(5)]})

    body = run(ask()).json()
    assert body["variant"] in ("a", "b")
    assert body["outputs"] == [0 if body["variant"] == "a" else 1] * 5
    assert len(set(body["prediction_ids"])) == 5


def test_the_same_key_lands_on_the_same_variant(models: dict[str, Path]) -> None:
    app = serve(two_arms(models, 1, 1))

    async def ask() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        async with client(app) as http:
            for i in range(200):
                for _ in range(2):
                    answer = await http.post(URL, json={"inputs": record(i), "key": f"user-{i}"})
                    seen.setdefault(f"user-{i}", set()).add(answer.json()["variant"])
        return seen

    seen = run(ask())
    assert all(len(arms) == 1 for arms in seen.values())
    share = sum("a" in arms for arms in seen.values())
    assert 60 < share < 140  # both arms get keys, about half each


def test_weights_split_traffic(models: dict[str, Path]) -> None:
    app = serve(two_arms(models, 80, 20), rng=random.Random(7))

    async def ask() -> list[str]:
        async with client(app) as http:
            answers = [await http.post(URL, json={"inputs": record(i)}) for i in range(2000)]
        return [a.json()["variant"] for a in answers]

    arms = run(ask())
    # 80 % of 2,000 with 4.5 binomial standard deviations (sqrt(2000 * 0.8 * 0.2) = 17.9).
    assert abs(arms.count("a") - 1600) < 81
    assert arms.count("a") + arms.count("b") == 2000


BIG = {"inputs": [record(i) for i in range(3)], "key": "k"}


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", "body"),
        (b"[1, 2]", 422, "invalid_input", "body"),
        (b"{}", 422, "invalid_input", "inputs"),
        (b'{"inputs": 3}', 422, "invalid_input", "inputs"),
        (b'{"inputs": []}', 422, "invalid_input", "inputs"),
        (b'{"inputs": [1]}', 422, "invalid_input", "inputs[0]"),
        (b'{"inputs": {}, "key": 5}', 422, "invalid_input", "key"),
        (b'{"inputs": {}, "limit": 5}', 422, "invalid_input", "limit"),
        (
            b'{"inputs": {"tenure_months": 3, "monthly_charges": 5.0}}',
            422,
            "invalid_input",
            "inputs.auto_pay",
        ),
        (
            b'{"inputs": {"tenure_months": 3.5, "monthly_charges": 5.0, "auto_pay": true}}',
            422,
            "invalid_input",
            "inputs.tenure_months",
        ),
        (
            b'{"inputs": {"tenure_months": 3, "monthly_charges": true, "auto_pay": true}}',
            422,
            "invalid_input",
            "inputs.monthly_charges",
        ),
        (
            b'{"inputs": {"tenure_months": 3, "monthly_charges": null, "auto_pay": true}}',
            422,
            "invalid_input",
            "inputs.monthly_charges",
        ),
        (
            b'{"inputs": [{"tenure_months": 3, "monthly_charges": 1, "auto_pay": true},'
            b' {"tenure_months": 3, "monthly_charges": 1, "auto_pay": true, "plan": "pro"}]}',
            422,
            "invalid_input",
            "inputs[1].plan",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_problem(
    models: dict[str, Path], body: bytes, status: int, code: str, field: str
) -> None:
    app = serve(endpoint(variant("a", models["lr"])))

    async def ask() -> httpx.Response:
        async with client(app) as http:
            return await http.post(URL, content=body)

    answer = run(ask())
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["field"] == field
    assert answer.json()["error"]["message"]


def test_a_batch_over_the_record_limit_is_refused(models: dict[str, Path]) -> None:
    app = serve(endpoint(variant("a", models["lr"]), max_batch_records=2))

    async def ask() -> httpx.Response:
        async with client(app) as http:
            return await http.post(URL, json=BIG)

    answer = run(ask())
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "inputs"
    assert "at most 2" in answer.json()["error"]["message"]


def test_a_body_over_the_size_limit_is_refused_without_reading_it_all(
    models: dict[str, Path],
) -> None:
    app = serve(endpoint(variant("a", models["lr"]), max_body_bytes=1000))
    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(1000):
            pulled.append(i)
            yield b" " * 400

    async def ask() -> tuple[httpx.Response, httpx.Response]:
        async with client(app) as http:
            declared = await http.post(URL, content=b"{" + b" " * 2000 + b"}")
            streamed = await http.post(URL, content=endless())
        return declared, streamed

    declared, streamed = run(ask())
    assert declared.status_code == streamed.status_code == 413
    assert streamed.json()["error"] == {
        "code": "too_large",
        "message": "the request body is over the limit of 1000 bytes",
        "field": "body",
    }
    assert len(pulled) < 10


def test_without_a_valid_key_no_model_code_runs(models: dict[str, Path]) -> None:
    app = serve(endpoint(custom(models)))
    predictor = app.table.variants[0].predictor
    assert isinstance(predictor, CustomPredictor)

    async def ask() -> list[httpx.Response]:
        body = {"inputs": record(1)}
        async with client(app, key=None) as http:
            return [
                await http.post(URL, json=body),
                await http.post(URL, json=body, headers={"Authorization": "Bearer wrong"}),
                await http.post(URL, json=body, headers={"X-Api-Key": "wrong"}),
                await http.post(URL, json=body, headers={"Authorization": f"Basic {KEY}"}),
                await http.get(f"{V2}/models/clf"),
                await http.post(f"{V2}/models/clf/infer", json={}),
            ]

    refused = run(ask())
    assert [a.status_code for a in refused] == [401] * 6
    assert refused[0].json()["error"]["code"] == "not_authenticated"
    assert refused[0].headers["www-authenticate"] == "Bearer"
    assert predictor.instance.calls == 0

    async def ask_right() -> list[httpx.Response]:
        body = {"inputs": record(1)}
        async with client(app, key=None) as http:
            return [
                await http.post(URL, json=body, headers={"Authorization": f"Bearer {KEY}"}),
                await http.post(URL, json=body, headers={"X-Api-Key": KEY}),
            ]

    assert [a.status_code for a in run(ask_right())] == [200, 200]
    assert predictor.instance.calls == 2


def test_a_public_endpoint_needs_no_key(models: dict[str, Path]) -> None:
    app = serve(endpoint(variant("a", models["lr"]), public=True, key_hashes=()))

    async def ask() -> httpx.Response:
        async with client(app, key=None) as http:
            return await http.post(URL, json={"inputs": record(1)})

    assert run(ask()).status_code == 200


def test_a_model_that_raises_answers_500_with_an_error_id_and_the_replica_keeps_serving(
    models: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    app = serve(endpoint(custom(models)))

    async def ask() -> tuple[httpx.Response, httpx.Response]:
        async with client(app) as http:
            failed = await http.post(URL, json={"inputs": record(13)})
            fine = await http.post(URL, json={"inputs": record(14)})
        return failed, fine

    with caplog.at_level(logging.ERROR, logger="modelyard.serving.replica"):
        failed, fine = run(ask())
    assert failed.status_code == 500
    error = failed.json()["error"]
    assert error["code"] == "prediction_failed"
    assert "SECRET" not in failed.text and "RuntimeError" not in failed.text
    error_id = error["message"].rsplit("error id ", 1)[1].rstrip(")")
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "SECRET-INTERNALS" in str(logged[0].exc_info[1])
    assert fine.status_code == 200
    score = record(14)["monthly_charges"] / 100
    assert fine.json()["outputs"] == {"churn": score > 0.6, "score": pytest.approx(score)}
    stats = {(s.variant, s.code): s.count for s in app.recorder.drain("r1", True, "v").stats}
    assert stats == {("a", 500): 1, ("a", 200): 1}


def test_shadow_outputs_are_logged_and_never_returned(models: dict[str, Path]) -> None:
    app = serve(endpoint(variant("a", models["lr"]), custom(models, "s", mode="shadow")))

    async def ask() -> list[httpx.Response]:
        async with client(app) as http:
            return [
                await http.post(URL, json={"inputs": record(70), "key": "u1"}),
                await http.post(URL, json={"inputs": [record(13), record(2)]}),  # shadow fails
            ]

    one, batch = run(ask())
    assert one.status_code == batch.status_code == 200
    assert one.json()["variant"] == "a" and one.json()["outputs"] in (0, 1)
    assert "score" not in one.text and "score" not in batch.text
    report = app.recorder.drain("r1", True, app.table.spec.version)
    shadows = [p for p in report.predictions if p.shadow]
    live = [p for p in report.predictions if not p.shadow]
    assert [p.variant for p in shadows] == ["s"]
    assert shadows[0].id == live[0].id == one.json()["prediction_id"]
    score = record(70)["monthly_charges"] / 100
    assert shadows[0].outputs == {"churn": score > 0.6, "score": pytest.approx(score)}
    assert shadows[0].key == "u1" and shadows[0].inputs == record(70)
    assert len(live) == 3
    stats = {(s.variant, s.code): s.count for s in report.stats}
    assert stats == {("a", 200): 2, ("s", 200): 1, ("s", 500): 1}


def test_open_inference_protocol(models: dict[str, Path]) -> None:
    app = serve(endpoint(custom(models, model_version=3)))
    tensors = [
        {"name": "tenure_months", "shape": [2], "datatype": "INT64", "data": [70, 2]},
        {"name": "monthly_charges", "shape": [2, 1], "datatype": "FP64", "data": [[50.0], [34.0]]},
        {"name": "auto_pay", "shape": [2], "datatype": "BOOL", "data": [True, True]},
    ]

    async def ask() -> dict[str, httpx.Response]:
        async with client(app) as http:
            return {
                "live": await http.get(f"{V2}/health/live"),
                "ready": await http.get(f"{V2}/health/ready"),
                "model_ready": await http.get(f"{V2}/models/clf/ready"),
                "metadata": await http.get(f"{V2}/models/clf"),
                "infer": await http.post(
                    f"{V2}/models/clf/infer", json={"id": "req-1", "inputs": tensors}
                ),
                "bad_shape": await http.post(
                    f"{V2}/models/clf/infer",
                    json={"inputs": [{**tensors[0], "shape": [1, 2]}]},
                ),
                "ragged": await http.post(
                    f"{V2}/models/clf/infer",
                    json={"inputs": [tensors[0], {**tensors[2], "shape": [1], "data": [True]}]},
                ),
                "missing": await http.post(f"{V2}/models/clf/infer", json={"inputs": tensors[:2]}),
            }

    got = run(ask())
    assert got["live"].json() == {"live": True}
    assert got["ready"].json() == {"ready": True}
    assert got["model_ready"].json() == {"name": "clf", "ready": True}
    assert got["metadata"].json() == {
        "name": "clf",
        "versions": ["3"],
        "platform": "modelyard",
        "inputs": [
            {"name": "tenure_months", "datatype": "INT64", "shape": [-1]},
            {"name": "monthly_charges", "datatype": "FP64", "shape": [-1]},
            {"name": "auto_pay", "datatype": "BOOL", "shape": [-1]},
        ],
        "outputs": [],
    }
    infer = got["infer"].json()
    assert got["infer"].status_code == 200, got["infer"].text
    assert infer["model_name"] == "clf" and infer["model_version"] == "3"
    assert infer["id"] == "req-1"
    assert infer["parameters"]["variant"] == "a"
    assert len(infer["parameters"]["prediction_ids"]) == 2
    assert infer["outputs"] == [
        {"name": "churn", "shape": [2], "datatype": "BOOL", "data": [False, False]},
        {"name": "score", "shape": [2], "datatype": "FP64", "data": [0.5, 0.34]},
    ]
    assert got["bad_shape"].status_code == 422
    assert got["bad_shape"].json()["error"]["field"] == "inputs[0].shape"
    assert got["ragged"].json()["error"]["field"] == "inputs[1].shape"
    assert got["missing"].status_code == 422
    assert got["missing"].json()["error"]["field"] == "inputs[0].auto_pay"
    # Health and metadata reads are not traffic; inferences and refusals are.
    stats = {(s.variant, s.code): s.count for s in app.recorder.drain("r", True, "v").stats}
    assert stats == {("a", 200): 1, ("", 422): 2, ("a", 422): 1}


def test_wrong_paths_methods_and_no_traffic(models: dict[str, Path]) -> None:
    app = serve(two_arms(models, 0, 0))

    async def ask() -> list[httpx.Response]:
        async with client(app) as http:
            return [
                await http.post("/serve/other/clf/predict", json={"inputs": record(1)}),
                await http.post("/serve/churn/other/predict", json={"inputs": record(1)}),
                await http.get(URL),
                await http.post(f"{V2}/health/ready"),
                await http.post(URL, json={"inputs": record(1)}),
                await http.get(f"{V2}/health/ready"),
                await http.get(f"{V2}/health/live"),
            ]

    answers = run(ask())
    assert [a.status_code for a in answers] == [404, 404, 405, 405, 503, 503, 200]
    assert answers[2].headers["allow"] == "POST"
    assert "weight" in answers[4].json()["error"]["message"]


def test_a_spec_swap_under_load_fails_no_request(models: dict[str, Path]) -> None:
    cache = PredictorCache()
    before, after = two_arms(models, 100, 0), two_arms(models, 0, 100)
    app = serve(before, cache=cache)

    async def load() -> tuple[list[tuple[float, str]], float]:
        loop = asyncio.get_running_loop()
        answers: list[tuple[float, str]] = []
        stop = asyncio.Event()

        async def worker(http: httpx.AsyncClient) -> None:
            while not stop.is_set():
                sent = loop.time()
                answer = await http.post(URL, json={"inputs": record(3)})
                answers.append((sent, answer.json()["variant"] if answer.is_success else "!"))
                # In-process requests never wait on a socket: let the other tasks run.
                await asyncio.sleep(0)

        async with client(app) as http:
            workers = [asyncio.create_task(worker(http)) for _ in range(16)]
            await asyncio.sleep(0.3)
            predictors = {v.name: cache.get(v) for v in after.variants}
            swapped = loop.time()
            app.table = build_table(after, predictors, previous=app.table)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*workers)
        return answers, swapped

    answers, swapped = run(load())
    assert "!" not in {arm for _, arm in answers}
    assert {arm for sent, arm in answers if sent < swapped} == {"a"}
    assert {arm for sent, arm in answers if sent > swapped} == {"b"}
    assert len(answers) > 100


def test_micro_batching_predicts_concurrent_requests_in_fewer_model_calls(
    models: dict[str, Path],
) -> None:
    spec = endpoint(
        variant(
            "a",
            models["batch_params"],
            "custom",
            code_dir=models["batch_code"],
            batching=True,
            max_batch_size=64,
        )
    )
    app = serve(spec)
    predictor = app.table.variants[0].predictor
    assert isinstance(predictor, CustomPredictor)

    async def ask(bodies: list[dict[str, Any]]) -> list[httpx.Response]:
        async with client(app) as http:
            return await asyncio.gather(*(http.post(URL, json=b) for b in bodies))

    bodies: list[dict[str, Any]] = [{"inputs": record(i)} for i in range(20, 60)]
    bodies[8] = {"inputs": [record(70), record(71)]}
    answers = run(ask(bodies))
    assert [a.status_code for a in answers] == [200] * 40
    assert answers[8].json()["outputs"] == [
        r["monthly_charges"] * 2 for r in (record(70), record(71))
    ]
    assert answers[3].json()["outputs"] == record(23)["monthly_charges"] * 2
    batches: list[int] = predictor.instance.batches
    assert sum(batches) == 41
    assert len(batches) <= 4  # 40 requests that arrived together: a few model calls

    # A record the model cannot take fails its own request only (the batch is retried
    # request by request).
    bodies[7] = {"inputs": record(13)}
    answers = run(ask(bodies[:10]))
    assert [a.status_code for a in answers] == [200] * 7 + [500] + [200] * 2
