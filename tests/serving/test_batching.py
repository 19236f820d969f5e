"""Micro-batching: what arrives together is predicted together, an idle request is not
kept waiting, a batch never passes its size, and one bad record fails only its request."""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.serving.batching import MicroBatcher


class Model:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, records: list[dict[str, Any]]) -> list[Any]:
        self.calls.append([r["x"] for r in records])
        if any(r["x"] < 0 for r in records):
            raise ValueError("negative")
        return [r["x"] * 10 for r in records]


def rec(*xs: int) -> list[dict[str, Any]]:
    return [{"x": x} for x in xs]


def test_requests_of_one_loop_iteration_share_one_call() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=2)

    async def go() -> list[list[Any]]:
        futures = [batcher.predict(rec(i)) for i in range(5)]
        futures.append(batcher.predict(rec(7, 8)))
        return list(await asyncio.gather(*futures))

    assert asyncio.run(go()) == [[0], [10], [20], [30], [40], [70, 80]]
    assert model.calls == [[0, 1, 2, 3, 4, 7, 8]]


def test_requests_arriving_over_a_few_iterations_join_while_the_batch_grows() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=50)

    async def go() -> None:
        futures = [batcher.predict(rec(0)), batcher.predict(rec(1))]
        await asyncio.sleep(0)
        futures.append(batcher.predict(rec(2)))
        await asyncio.gather(*futures)

    asyncio.run(go())
    assert model.calls == [[0, 1, 2]]


def test_an_idle_request_is_answered_without_waiting_for_company() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=1000)

    async def go() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await batcher.predict(rec(4)) == [40]
        return loop.time() - started

    assert asyncio.run(go()) < 0.1


def test_a_full_batch_goes_at_once_and_the_wait_is_bounded() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch_size=3, max_wait_ms=5)

    async def go() -> None:
        futures = [batcher.predict(rec(i)) for i in range(7)]
        assert model.calls == [[0, 1, 2], [3, 4, 5]]  # flushed inline when full
        await asyncio.gather(*futures)

    asyncio.run(go())
    assert model.calls[-1] == [6]


def test_a_steady_stream_is_flushed_by_the_deadline() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_batch_size=10_000, max_wait_ms=5)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        futures = []
        end = loop.time() + 0.05
        i = 0
        while loop.time() < end:  # a new request every iteration: the batch always grows
            futures.append(batcher.predict(rec(i)))
            i += 1
            await asyncio.sleep(0)
        await asyncio.gather(*futures)

    asyncio.run(go())
    assert len(model.calls) > 3  # ~50 ms of traffic in batches of at most ~5 ms


def test_a_bad_record_fails_only_its_own_request() -> None:
    model = Model()
    batcher = MicroBatcher(model)

    async def go() -> list[Any]:
        futures = [batcher.predict(rec(1)), batcher.predict(rec(-1)), batcher.predict(rec(2, 3))]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    good, bad, pair = asyncio.run(go())
    assert good == [10] and pair == [20, 30]
    assert isinstance(bad, ValueError)
    assert model.calls == [[1, -1, 2, 3], [1], [-1], [2, 3]]


def test_a_batch_answered_with_the_wrong_number_of_outputs_is_retried_per_request() -> None:
    calls: list[int] = []

    def one_output(records: list[dict[str, Any]]) -> list[Any]:
        calls.append(len(records))
        return ["only one"]

    batcher = MicroBatcher(one_output)

    async def go() -> list[Any]:
        return list(await asyncio.gather(batcher.predict(rec(1)), batcher.predict(rec(2))))

    assert asyncio.run(go()) == [["only one"], ["only one"]]
    assert calls == [2, 1, 1]
