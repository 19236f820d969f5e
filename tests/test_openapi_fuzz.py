"""A bounded schemathesis run over the app's own OpenAPI document: whatever an operation is
sent, it answers no server error, and every 4xx has the error shape.

Cases are generated from `app.openapi()` in both modes (positive: what the schema allows;
negative: what it forbids) and sent in-process through Starlette's TestClient with the admin's
bearer token, so most operations get past authentication. Each answer must also be one the
document declares (status code, media type, body schema). Operations with path parameters are
fuzzed twice: with generated values (mostly 404s) and with a project and user that exist, so
generated bodies reach the handlers. Derandomized and small, so runs repeat and fit CI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Person

# Examples per run: the full count on SQLite; PostgreSQL runs the same handlers again, so a
# few examples per operation there catch what differs (types, constraints) at a third of the
# time (the two legs were ~7 of the suite's worker-minutes).
EXAMPLES = {"sqlite": 10, "postgresql": 5}
# The operations are fuzzed in shards, so pytest-xdist spreads them over its workers instead
# of one worker running minutes of fuzzing at the end of the suite.
SHARDS = 3
FUZZ_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,  # nothing written under .hypothesis/
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Path parameters that name something the `seeded` fixture created.
EXISTING = {"project": "churn", "username": "alice", "run_id": 1}
PLAIN_STRING_KEYS = {"type", "title", "description"}


@pytest.fixture
def seeded(admin: Person, people: Any) -> Person:
    """Project 'churn' owned by root, alice a viewer of it. Answers root (an admin)."""
    people("alice")
    created = admin.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    assert created.status_code == 201, created.text
    added = admin.client.put("/api/v1/projects/churn/members/alice", json={"role": "viewer"})
    assert added.status_code == 200, added.text
    run = admin.client.post("/api/v1/projects/churn/runs", json={"name": "seeded"})
    assert run.status_code == 201 and run.json()["id"] == EXISTING["run_id"], run.text
    return admin


def as_request(case: Case, headers: dict[str, str]) -> dict[str, Any]:
    """The case as keyword arguments for `TestClient.request` (schemathesis serializes for
    `requests`; the two differ in how a raw body is passed)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str):
        request["content"] = data.encode()
    elif isinstance(data, bytes):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    return request


def check_answer(client: TestClient, case: Case, headers: dict[str, str]) -> None:
    request = as_request(case, headers)
    try:
        response = client.request(**request)
    except Exception as exc:  # the TestClient re-raises what the app did not handle
        body = request.get("json", request.get("content"))
        exc.add_note(f"raised answering {request['method']} {request['url']}")
        exc.add_note(f"query {request['params']!r}, body {body!r:.300}")
        raise
    answer = f"{request['method']} {response.request.url} -> {response.status_code}"
    # a stopped endpoint answers 503 by design (the fuzzer may have created one)
    stopped = response.status_code == 503 and response.request.url.path.startswith("/serve/")
    assert response.status_code < 500 or stopped, f"{answer} {response.text[:500]}"
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, f"{answer} {body}"
        assert set(body["error"]) == {"code", "message", "field"}, f"{answer} {body}"
    # The answer is one the document declares, in status, media type and shape.
    case.validate_response(response, checks=CONFORMANCE, headers=request["headers"])


def can_be_negated(operation: APIOperation, fixed: dict[str, Any]) -> bool:
    """Whether anything the schema forbids can be sent: a body, or a parameter that is more
    than an arbitrary string (every URL part is a string of some kind)."""
    if len(operation.body):
        return True
    for parameter in operation.iter_parameters():
        schema = parameter.definition.get("schema", {})
        if parameter.name not in fixed and (
            schema.get("type") != "string" or set(schema) - PLAIN_STRING_KEYS
        ):
            return True
    return False


def runs(operation: APIOperation) -> list[tuple[GenerationMode, dict[str, Any]]]:
    """(mode, fixed path parameters) for each fuzzing run of `operation`."""
    path_names = {p.name for p in operation.path_parameters}
    fixings = [{}]
    existing = {name: value for name, value in EXISTING.items() if name in path_names}
    if existing:
        fixings.append(existing)
    return [
        (mode, fixed)
        for fixed in fixings
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode == GenerationMode.POSITIVE or can_be_negated(operation, fixed)
    ]


def own_token_id(person: Person) -> int:
    tokens = person.client.get("/api/v1/tokens").json()["items"]
    return int(next(t["id"] for t in tokens if person.token.startswith(t["prefix"])))


def fuzz_operation(
    client: TestClient,
    operation: APIOperation,
    mode: GenerationMode,
    fixed: dict[str, Any],
    headers: dict[str, str],
    spared_token: int,
    examples: int,
) -> None:
    # The fuzzer may revoke any token but the one it authenticates with.
    strategy = (
        operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        .filter(lambda case: str((case.path_parameters or {}).get("token_id")) != str(spared_token))
        # No HTTP client sends a URL of 64 KiB (httpx refuses to); that is not the server's to answer.
        .filter(lambda case: len(urlencode(case.query or {}, doseq=True)) < 60_000)
    )

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def fuzz(case: Case) -> None:
        check_answer(client, case, headers)

    fuzz()


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_operation_answers_a_server_error(
    app: FastAPI,
    seeded: Person,
    anonymous: TestClient,
    request: pytest.FixtureRequest,
    shard: int,
) -> None:
    examples = EXAMPLES[request.node.callspec.params["database_url"]]
    schema = schemathesis.openapi.from_dict(app.openapi())
    headers = {"Authorization": f"Bearer {seeded.token}"}
    spared = own_token_id(seeded)
    every = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
    assert len(every) >= 20
    operations = every[shard::SHARDS]
    failures = []
    for operation in operations:
        for mode, fixed in runs(operation):
            try:
                fuzz_operation(anonymous, operation, mode, fixed, headers, spared, examples)
            except Unsatisfiable:  # e.g. every token id generated was the spared one
                pass
            except (Exception, FailureGroup) as exc:  # FailureGroup is no Exception
                notes = "\n".join(getattr(exc, "__notes__", []))
                failures.append(
                    f"{operation.label} [{mode.value}, fixed {fixed}]: "
                    f"{type(exc).__name__}: {exc}\n{notes}"
                )
    assert not failures, f"{len(failures)} failing runs:\n\n" + "\n\n".join(failures)
    # The fuzzer was the admin throughout: its token still works.
    assert anonymous.get("/api/v1/me", headers=headers).json()["username"] == "root"
