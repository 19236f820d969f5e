"""`modelyard deploy` and `modelyard endpoints ...` against a live server. Only the last test
starts replica processes; the others keep endpoints stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelyard
from modelyard.cli.endpoints import parse_weights
from modelyard.cli.main import app
from modelyard.client.config_file import SavedLogin, save_login
from tests.client.serving_setup import RECORD, make_team
from tests.conftest import LiveServer, Person

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("isolated_config")
BASE = "/api/v1/projects/churn/endpoints"


def flat(text: str) -> str:
    """The words of rich's output, without its table borders and wrapping."""
    return " ".join(word for word in text.split() if word.strip("│┃┏┓┗┛┡┩└┘━─┳┻╇╈┼"))


def cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, everything shown)."""
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, flat(result.output)


@pytest.fixture
def team(live_server: LiveServer, people: Callable[..., Person]) -> tuple[Person, Person]:
    """alice (owner, signed in) and bob (viewer); churn/churn serves v1 as `base` at 100,
    stopped."""
    alice, bob = make_team(people)
    assert alice.client.post(BASE, json={"name": "churn"}).status_code == 201
    added = alice.client.post(
        f"{BASE}/churn/variants",
        json={"name": "base", "model": "churn-clf", "version": "1", "weight": 100},
    )
    assert added.status_code == 201, added.text
    save_login(SavedLogin(live_server.url, alice.token, "alice"))
    return alice, bob


def test_deploy_next_to_traffic_then_split_and_roll_back(team: tuple[Person, Person]) -> None:
    code, _, shown = cli("deploy", "churn-clf@challenger", "--endpoint", "churn", "-p", "churn")
    assert code == 0, shown
    assert "Added challenger (churn-clf@challenger) with weight 0" in shown
    assert "modelyard endpoints split churn -p churn base=90 challenger=10" in shown

    code, _, shown = cli("endpoints", "split", "churn", "base=90", "challenger=10", "-p", "churn")
    assert code == 0, shown
    assert "base" in shown and "90% (weight 90)" in shown and "10% (weight 10)" in shown
    code, _, shown = cli("endpoints", "rollback", "churn", "-p", "churn")
    assert code == 0 and "100% (weight 100)" in shown and "0% (weight 0)" in shown

    code, _, shown = cli("endpoints", "list", "-p", "churn")
    assert code == 0 and "churn stopped base 100%," in shown and "challenger 0%" in shown
    code, _, shown = cli("endpoints", "status", "churn", "-p", "churn")
    assert code == 0, shown
    assert "churn/churn stopped · API key required" in shown
    assert "challenger churn-clf@challenger → v2 0 ░░░░░░░░░░ 0% built-in" in shown
    assert "last minute: no requests" in shown


def test_remove_a_variant_asks_first_and_keeps_the_last_one_with_traffic(
    team: tuple[Person, Person],
) -> None:
    alice, _ = team
    assert cli("deploy", "churn-clf@challenger", "--endpoint", "churn", "-p", "churn")[0] == 0
    code, _, shown = cli(
        "endpoints", "remove-variant", "churn", "challenger", "-p", "churn", input="n\n"
    )
    assert code == 1 and "Remove variant challenger from churn/churn?" in shown
    assert {v["name"] for v in alice.client.get(f"{BASE}/churn").json()["variants"]} == {
        "base",
        "challenger",
    }
    code, _, shown = cli("endpoints", "remove-variant", "churn", "challenger", "-p", "churn", "-y")
    assert code == 0 and "Removed challenger from churn/churn" in shown, shown
    assert "base ██████████ 100% (weight 100)" in shown
    assert [v["name"] for v in alice.client.get(f"{BASE}/churn").json()["variants"]] == ["base"]

    assert alice.client.post(f"{BASE}/churn/start").status_code == 200
    code, _, shown = cli("endpoints", "remove-variant", "churn", "base", "-p", "churn", "-y")
    assert code == 1 and "error:" in shown and "Traceback" not in shown, shown
    code, _, shown = cli("endpoints", "remove-variant", "churn", "nope", "-p", "churn", "-y")
    assert code == 1 and "error:" in shown, shown


def test_split_syntax_is_checked_before_anything_is_sent() -> None:
    assert parse_weights(["a=90", "b-2=10.5"]) == {"a": 90, "b-2": 10.5}
    for args, message in [
        (["a:90"], "'a:90' is not VARIANT=WEIGHT: write e.g. champion=90"),
        (["a=ninety"], "'a=ninety' is not VARIANT=WEIGHT"),
        (["a=-1"], "'a=-1' is not VARIANT=WEIGHT"),
        (["a=1", "a=2"], "variant 'a' is given twice"),
    ]:
        code, _, shown = cli("endpoints", "split", "churn", *args, "-p", "churn")
        assert code == 1 and message in shown and "(field: weights)" in shown, shown
        assert "Traceback" not in shown


def test_keys_are_shown_once_listed_without_tokens_and_revoked(
    team: tuple[Person, Person],
) -> None:
    code, stdout, shown = cli(
        "endpoints", "keys", "create", "churn", "-p", "churn", "--name", "app"
    )
    assert code == 0, shown
    token = stdout.strip()
    assert token.startswith("mye_") and "shown only now" in shown
    code, _, shown = cli("endpoints", "keys", "list", "churn", "-p", "churn")
    assert code == 0 and "app" in shown and token[:8] in shown and token not in shown
    code, _, shown = cli("endpoints", "keys", "revoke", "churn", "app", "-p", "churn")
    assert code == 0 and "Revoked key 1 (app)" in shown
    code, _, shown = cli("endpoints", "keys", "revoke", "churn", "app", "-p", "churn")
    assert code == 1 and "churn/churn has no key 'app'" in shown


def test_errors_are_one_clear_line(
    team: tuple[Person, Person],
    live_server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, bob = team
    code, _, shown = cli("endpoints", "status", "nope", "-p", "churn")
    assert code == 1
    assert "error: no endpoint 'nope' in project 'churn' (field: endpoint)" in shown
    code, _, shown = cli("deploy", "churn-clf@gold", "-e", "fresh", "-p", "churn")
    assert code == 1 and "model 'churn-clf' has no alias 'gold'" in shown
    code, _, shown = cli("deploy", "other/churn-clf@1", "-p", "churn")
    assert code == 1 and "names project 'other' but --project says 'churn'" in shown
    code, _, shown = cli("endpoints", "predict", "churn", "{not json", "-p", "churn")
    assert code == 1 and "the inputs is not JSON" in shown
    code, _, shown = cli("endpoints", "predict", "churn", json.dumps(RECORD), "-p", "churn")
    assert code == 1 and "churn/churn is stopped" in shown

    # the project comes from ./modelyard.yaml, as for `modelyard run`
    monkeypatch.chdir(tmp_path)
    code, _, shown = cli("endpoints", "list")
    assert code == 1 and "say which project" in shown
    (tmp_path / "modelyard.yaml").write_text("project: churn\n")
    code, _, shown = cli("endpoints", "delete", "churn", input="n\n")
    assert code == 1 and "Delete endpoint churn/churn?" in shown

    save_login(SavedLogin(live_server.url, bob.token, "bob"))
    code, _, shown = cli("endpoints", "split", "churn", "base=1")
    assert code == 1
    assert "error: you are a viewer of 'churn'; this needs the editor role" in shown
    code, _, shown = cli("endpoints", "list")
    assert code == 0 and "churn stopped" in shown
    assert "Traceback" not in shown


def _accepted(client: modelyard.Client, token: str) -> bool:
    try:
        client.endpoints.predict("churn", "churn", RECORD, token=token)
    except modelyard.AuthenticationError:
        return False
    return True


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not true in time"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deploy_a_real_model_call_it_split_it_and_stop_it(
    live_server: LiveServer, people: Callable[..., Person], tmp_path: Path
) -> None:
    alice, _ = make_team(people)
    save_login(SavedLogin(live_server.url, alice.token, "alice"))
    code, _, shown = cli("deploy", "churn-clf@champion", "--endpoint", "churn", "-p", "churn")
    assert code == 0, shown
    assert "churn/churn running · 1/1 replicas ready" in shown
    assert f"curl {live_server.url}/serve/churn/churn/predict" in shown
    assert '{"inputs": {"tenure": 0.0, "charges": 0.0}}' in shown

    code, token, _ = cli("endpoints", "keys", "create", "churn", "-p", "churn")
    token = token.strip()
    with modelyard.connect(live_server.url, alice.token) as client:
        _until(lambda: _accepted(client, token))  # replicas take a new key within a second
    code, stdout, shown = cli(
        "endpoints", "predict", "churn", json.dumps(RECORD), "-p", "churn", "--token", token
    )
    assert code == 0, shown
    answer = json.loads(stdout)
    assert (answer["outputs"], answer["variant"]) == (0, "champion") and answer["prediction_id"]
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([RECORD, RECORD]))
    code, stdout, shown = cli(
        "endpoints", "predict", "churn", f"@{batch}", "-p", "churn", "--token", token
    )
    assert code == 0 and len(json.loads(stdout)["prediction_ids"]) == 2, shown
    code, _, shown = cli("endpoints", "predict", "churn", "-p", "churn", input=json.dumps(RECORD))
    assert code == 1 and "needs an endpoint key: pass --token" in shown

    code, _, shown = cli("deploy", "churn-clf@challenger", "-e", "churn", "-p", "churn")
    assert code == 0 and "with weight 0" in shown
    code, _, shown = cli(
        "endpoints", "split", "churn", "champion=0", "challenger=100", "-p", "churn"
    )
    assert code == 0, shown
    with modelyard.connect(live_server.url, alice.token) as client:
        _until(lambda: client.endpoints.predict("churn", "churn", RECORD, token=token).outputs == 1)
        sticky = client.endpoints.predict("churn", "churn", [RECORD], key="c-42", token=token)
        assert sticky.variant == "challenger" and len(sticky.prediction_ids) == 1
    code, _, shown = cli("endpoints", "status", "churn", "-p", "churn")
    assert code == 0 and "churn/churn running" in shown and " ready " in shown, shown

    code, _, shown = cli("endpoints", "stop", "churn", "-p", "churn")
    assert code == 0 and "Stopped churn/churn." in shown
    code, _, shown = cli(
        "endpoints", "predict", "churn", json.dumps(RECORD), "-p", "churn", "--token", token
    )
    assert code == 1 and "is stopped" in shown


def test_a_variant_name_cannot_walk_out_of_its_endpoint(team: tuple[Person, Person]) -> None:
    """`..` would be resolved by the HTTP client: DELETE …/endpoints/churn/variants/.. is
    DELETE …/endpoints/churn, which deletes the endpoint. Refused before anything is sent."""
    alice, _ = team
    for name in ("..", "x/../../fraud", "."):
        code, _, shown = cli("endpoints", "remove-variant", "churn", name, "-p", "churn", "-y")
        assert code == 1 and "is not a name" in shown and "(field: name)" in shown, shown
    assert alice.client.get(f"{BASE}/churn").status_code == 200
