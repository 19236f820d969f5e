"""The replica beside its app: first load, spec changes (loaded off the loop, swapped in,
a broken one refused), the control plane's answers, telemetry kept when it is away, and
stopping when the parent process is gone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelyard.serving.predictors import PredictorCache
from modelyard.serving.replica import Replica, parse_args
from modelyard.serving.spec import EndpointSpec, Telemetry
from modelyard.serving.spec_sources import (
    ControlPlane,
    EndpointGoneError,
    SpecFile,
    SpecUnavailableError,
)
from tests.serving.replica_models import (
    URL,
    client,
    endpoint,
    record,
    save,
    sklearn_model,
    variant,
)


@pytest.fixture(scope="module")
def arms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("arms")
    return {
        "zero": save(root / "zero", sklearn_model(label=0)),
        "one": save(root / "one", sklearn_model(label=1)),
    }


def split(arms: dict[str, Path], a: float, b: float) -> EndpointSpec:
    return endpoint(variant("a", arms["zero"], weight=a), variant("b", arms["one"], weight=b))


def write(path: Path, spec: EndpointSpec) -> None:
    path.write_bytes(orjson.dumps(spec.to_json()))


def test_a_spec_file_change_is_loaded_and_swapped_in(arms: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    write(path, split(arms, 1, 0))

    async def go() -> list[str]:
        replica = Replica(SpecFile(path), "r1", poll_seconds=0.01)
        app = await replica.start()
        seen = []
        async with client(app) as http:
            seen.append((await http.post(URL, json={"inputs": record(1)})).json()["variant"])
            polling = asyncio.create_task(replica.poll_forever())
            write(path, split(arms, 0, 1))
            for _ in range(300):
                await asyncio.sleep(0.01)
                if app.table.spec.variants[0].weight == 0:
                    break
            seen.append((await http.post(URL, json={"inputs": record(1)})).json()["variant"])
            replica.stopping.set()
            await polling
        return seen

    assert asyncio.run(go()) == ["a", "b"]


def test_a_spec_that_cannot_load_is_refused_and_the_old_one_kept(
    arms: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "spec.json"
    good = split(arms, 1, 1)
    write(path, good)
    broken = endpoint(variant("a", arms["zero"]), variant("c", tmp_path / "missing"))

    async def go() -> tuple[str, str]:
        replica = Replica(SpecFile(path), "r1")
        await replica.start()
        await replica.apply(broken)
        return replica.version, (replica.app.table.spec.version if replica.app else "")

    assert asyncio.run(go()) == (good.version, good.version)


def test_predictors_are_loaded_once_per_model_and_code(arms: dict[str, Path]) -> None:
    cache = PredictorCache()
    first = cache.get(variant("a", arms["zero"], weight=1))
    assert cache.get(variant("b", arms["zero"], weight=5)) is first
    assert cache.get(variant("a", arms["one"])) is not first
    cache.keep_only([variant("a", arms["one"])])
    assert cache.get(variant("a", arms["zero"])) is not first  # dropped, loaded again


def control_plane(handler: Any) -> ControlPlane:
    return ControlPlane("http://cp/", 7, "pool-token", transport=httpx.MockTransport(handler))


def test_the_control_plane_is_asked_with_the_pool_token_and_if_none_match(
    arms: dict[str, Path],
) -> None:
    spec = split(arms, 1, 0)
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.headers.get("if-none-match") == spec.version:
            return httpx.Response(304)
        return httpx.Response(200, content=orjson.dumps(spec.to_json()))

    async def go() -> tuple[EndpointSpec | None, EndpointSpec | None]:
        source = control_plane(handler)
        try:
            return await source.fetch(None), await source.fetch(spec.version)
        finally:
            await source.close()

    fetched, unchanged = asyncio.run(go())
    assert fetched == spec and unchanged is None
    assert str(asked[0].url) == "http://cp/internal/serving/endpoints/7/spec"
    assert all(r.headers["authorization"] == "Bearer pool-token" for r in asked)


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, EndpointGoneError), (401, EndpointGoneError), (503, SpecUnavailableError)],
)
def test_control_plane_answers_become_two_errors(status: int, error: type[Exception]) -> None:
    async def go() -> None:
        source = control_plane(lambda request: httpx.Response(status))
        try:
            await source.fetch("v")
        finally:
            await source.close()

    with pytest.raises(error):
        asyncio.run(go())


def test_telemetry_is_kept_while_the_control_plane_is_away(arms: dict[str, Path]) -> None:
    spec = split(arms, 1, 0)
    up = False
    reports: list[Telemetry] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/spec"):
            return httpx.Response(200, content=orjson.dumps(spec.to_json()))
        if not up:
            raise httpx.ConnectError("refused")
        reports.append(Telemetry.from_json(orjson.loads(request.content)))
        return httpx.Response(204)

    async def go() -> list[bool]:
        nonlocal up
        replica = Replica(control_plane(handler), "r9")
        app = await replica.start()
        sent = []
        async with client(app) as http:
            await http.post(URL, json={"inputs": [record(1), record(2)]})
            sent.append(await replica.report())
            await http.post(URL, json={"inputs": record(3)})
            up = True
            sent.append(await replica.report())
        await replica.source.close()
        return sent

    assert asyncio.run(go()) == [False, True]
    (report,) = reports
    assert report.replica == "r9" and report.ready and report.spec_version == spec.version
    assert [s.count for s in report.stats] == [2]
    assert [p.inputs for p in report.predictions] == [record(1), record(2), record(3)]


def test_the_replica_stops_when_its_parent_is_gone(arms: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    write(path, split(arms, 1, 0))

    async def go() -> bool:
        replica = Replica(SpecFile(path), "r1", poll_seconds=0.01, parent_pid=os.getpid() + 10**6)
        await replica.start()
        await asyncio.wait_for(replica.poll_forever(), timeout=5)
        return replica.stopping.is_set()

    assert asyncio.run(go())


def test_arguments() -> None:
    args = parse_args(["--fd", "5", "--control-url", "http://cp", "--endpoint-id", "3"])
    assert (args.fd, args.endpoint_id, args.poll_seconds) == (5, 3, 0.25)
    with pytest.raises(SystemExit):
        parse_args(["--fd", "5", "--control-url", "http://cp"])
    with pytest.raises(SystemExit):
        parse_args(["--port", "1", "--fd", "5", "--spec-file", "s.json"])
