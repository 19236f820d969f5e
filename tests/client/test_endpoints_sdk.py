"""`client.endpoints` and `modelyard.deploy` against a live server. These tests keep endpoints
stopped (no replica processes); tests/cli/test_endpoints_cli.py serves one for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import modelyard
from modelyard.client import Client
from tests.client.serving_setup import RECORD, make_team, register
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")


@dataclass
class Team:
    alice: Client  # owner of churn
    bob: Client  # a viewer of churn
    alice_person: Person


@pytest.fixture
def team(live_server: LiveServer, people: Callable[..., Person]) -> Iterator[Team]:
    alice, bob = make_team(people)
    with (
        modelyard.connect(live_server.url, alice.token) as a,
        modelyard.connect(live_server.url, bob.token) as b,
    ):
        yield Team(a, b, alice)


def _stopped_with_traffic(client: Client) -> None:
    """churn/churn serves v1 as `base` at weight 100, and is stopped."""
    client.endpoints.create("churn", "churn", description="scores")
    client.endpoints.add_variant("churn", "churn", "base", "churn-clf", 1, weight=100)


def test_deploying_onto_an_endpoint_with_traffic_never_moves_it(team: Team) -> None:
    alice = team.alice
    _stopped_with_traffic(alice)
    done = alice.endpoints.deploy("churn-clf@challenger", endpoint="churn", project="churn")
    endpoint = done.endpoint
    assert (done.variant, done.created, done.started) == ("challenger", False, False)
    assert endpoint.state == "stopped"  # it was stopped on purpose: deploying does not start it
    challenger = endpoint.variant("challenger")
    assert (challenger.weight, challenger.share, challenger.alias, challenger.version) == (
        0,
        0,
        "challenger",
        2,
    )
    assert endpoint.weights == {"base": 100, "challenger": 0}
    # a fixed version is named after its number; the same model@ref twice is refused
    assert alice.endpoints.deploy("churn/churn-clf@2", endpoint="churn").variant == "v2"
    with pytest.raises(modelyard.ConflictError, match="already serves 2 ") as twice:
        alice.endpoints.deploy("churn/churn-clf", endpoint="churn")  # no @: the latest, pinned
    assert twice.value.field == "variant"
    # a taken name gets a suffix; an explicit weight and a shadow are taken as asked
    register(team.alice_person, 0, name="other-clf")
    assert alice.endpoints.deploy("churn/other-clf@1", endpoint="churn").variant == "v1"
    deployed = alice.endpoints.deploy("churn/churn-clf@1", endpoint="churn", weight=5)
    assert deployed.variant == "v1-2" and deployed.endpoint.weights["v1-2"] == 5
    assert deployed.endpoint.variant("v1-2").model == "churn-clf"
    shadow = alice.endpoints.deploy(
        "churn/churn-clf@challenger", endpoint="churn", variant="copy", mode="shadow"
    ).endpoint
    assert (shadow.variant("copy").mode, shadow.variant("copy").share) == ("shadow", 0)
    assert alice.endpoints.get("churn", "churn").state == "stopped"


def test_a_new_endpoint_gets_full_traffic_and_is_started(
    team: Team, live_server: LiveServer
) -> None:
    alice = team.alice
    done = alice.endpoints.deploy("churn/churn-clf@champion", wait=False)
    endpoint = done.endpoint
    try:
        assert (done.variant, done.created, done.started) == ("champion", True, True)
        assert (endpoint.name, endpoint.state) == ("churn-clf", "running")
        assert endpoint.weights == {"champion": 100}
        assert endpoint.url == f"{live_server.url}/serve/churn/churn-clf/predict"
    finally:
        stopped = alice.endpoints.stop("churn", "churn-clf")
    assert stopped.status == "stopped" and stopped.replicas == []
    with pytest.raises(modelyard.ServiceUnavailableError, match="stopped"):
        alice.endpoints.predict("churn", "churn-clf", RECORD, token="mye_whatever")
    with pytest.raises(modelyard.ServiceUnavailableError, match="start it"):
        alice.endpoints.wait_ready("churn", "churn-clf", timeout=1)
    kinds = [e.kind for e in alice.endpoints.events("churn", "churn-clf")]
    assert set(kinds) <= {"start", "stop", "restart"}


def test_split_rollback_public_and_keys(team: Team) -> None:
    alice = team.alice
    _stopped_with_traffic(alice)
    alice.endpoints.deploy("churn/churn-clf@challenger", endpoint="churn")
    split = alice.endpoints.split("churn", "churn", {"base": 90, "challenger": 10})
    assert {v.name: v.share for v in split.variants} == {"base": 0.9, "challenger": 0.1}
    assert alice.endpoints.rollback("churn", "churn").weights == {"base": 100, "challenger": 0}
    with pytest.raises(modelyard.InvalidInputError, match="no variant 'nope'") as unknown:
        alice.endpoints.split("churn", "churn", {"nope": 1})
    assert unknown.value.field == "weights"

    assert alice.endpoints.set_public("churn", "churn").public is True
    assert alice.endpoints.set_public("churn", "churn", False).public is False

    created = alice.endpoints.keys.create("churn", "churn", "billing-app")
    assert created.token is not None and created.token.startswith("mye_")
    assert created.token not in repr(created)
    listed = alice.endpoints.keys.list("churn", "churn")
    assert [(k.name, k.prefix, k.token) for k in listed] == [("billing-app", created.prefix, None)]
    assert alice.endpoints.keys.revoke("churn", "churn", created.id).revoked_at is not None

    alice.endpoints.delete("churn", "churn")
    assert alice.endpoints.list("churn") == []


def test_errors_say_what_is_wrong_before_anything_is_made(team: Team) -> None:
    alice, bob = team.alice, team.bob
    _stopped_with_traffic(alice)
    with pytest.raises(modelyard.NotFoundError, match="no endpoint 'nope' in project 'churn'"):
        alice.endpoints.get("churn", "nope")
    with pytest.raises(modelyard.InvalidInputError, match="not a model reference"):
        alice.endpoints.deploy("Churn CLF!", project="churn")
    with pytest.raises(modelyard.InvalidInputError, match="which project"):
        alice.endpoints.deploy("churn-clf@champion")
    with pytest.raises(modelyard.NotFoundError, match="no alias 'gold'"):
        alice.endpoints.deploy("churn/churn-clf@gold", endpoint="fresh")
    with pytest.raises(modelyard.InvalidInputError, match="deploy a live variant first") as shadow:
        alice.endpoints.deploy("churn/churn-clf@1", endpoint="fresh", mode="shadow")
    assert shadow.value.field == "mode"
    with pytest.raises(modelyard.InvalidInputError) as bad_code:
        alice.endpoints.deploy("churn/churn-clf@1", endpoint="fresh", code="no-such-branch")
    assert bad_code.value.field == "code"
    assert [e.name for e in alice.endpoints.list("churn")] == ["churn"]  # nothing half-made

    assert bob.endpoints.get("churn", "churn").weights == {"base": 100}
    with pytest.raises(modelyard.PermissionDeniedError, match="viewer"):
        bob.endpoints.split("churn", "churn", {"base": 1})
    with pytest.raises(modelyard.PermissionDeniedError, match="viewer"):
        bob.endpoints.deploy("churn/churn-clf@challenger", endpoint="churn")
    with pytest.raises(modelyard.InvalidInputError, match="inputs"):
        alice.endpoints.predict("churn", "churn", [1, 2])  # type: ignore[list-item]


def test_top_level_deploy_uses_the_saved_login_and_the_run_project(
    team: Team, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stopped_with_traffic(team.alice)
    monkeypatch.setenv("MODELYARD_URL", live_server.url)
    monkeypatch.setenv("MODELYARD_TOKEN", team.alice_person.token)
    monkeypatch.setenv("MODELYARD_PROJECT", "churn")
    done = modelyard.deploy("churn-clf@challenger", endpoint="churn")
    assert done.endpoint.weights == {"base": 100, "challenger": 0}
