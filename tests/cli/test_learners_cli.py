"""`modelyard endpoints feedback | quality | learners | learn ...` against a live server. The
endpoint stays stopped: its logged predictions and its learner are rows inserted as the
replicas and the learner process would (see tests/client/test_online_sdk.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.cli.learners import parse_window
from modelyard.client.config_file import SavedLogin, save_login
from modelyard.errors import InvalidInputError
from tests.cli.test_endpoints_cli import cli
from tests.client.serving_setup import make_team
from tests.client.test_online_sdk import add_learner, log_predictions, make_endpoint
from tests.conftest import LiveServer, Person

pytestmark = pytest.mark.usefixtures("isolated_config")


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Person:
    """alice, signed in, owns churn; churn/churn (stopped) has `base` (answers 0, weight 60)
    and `challenger` (answers 1, weight 40)."""
    alice, _ = make_team(people)
    make_endpoint(alice)
    save_login(SavedLogin(live_server.url, alice.token, "alice"))
    return alice


def write_labels(path: Path, pairs: list[tuple[str, object]]) -> Path:
    lines = [json.dumps({"prediction_id": p, "label": label}) for p, label in pairs]
    path.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n", encoding="utf-8")
    return path


def test_feedback_from_a_file_then_quality(
    alice: Person, live_server: LiveServer, tmp_path: Path
) -> None:
    code, _, shown = cli("endpoints", "quality", "churn", "-p", "churn")
    assert code == 0 and "No labels for churn/churn in the last 15m" in shown
    base = log_predictions(live_server, "base", 0, 5)
    challenger = log_predictions(live_server, "challenger", 1, 4)
    pairs: list[tuple[str, object]] = [(base[0], 0), (base[1], 0), (base[2], 0), (base[3], 1)]
    pairs += [(p, label) for p, label in zip(challenger, [1, 1, 0, 0], strict=True)]
    labels = write_labels(tmp_path / "labels.jsonl", [*pairs, (base[0], 1)])

    code, _, shown = cli("endpoints", "feedback", "churn", "--file", str(labels), "-p", "churn")
    assert code == 0, shown
    assert "Sent 9 labels to churn/churn: 8 accepted, 1 duplicates." in shown
    code, _, shown = cli("endpoints", "feedback", "churn", "-f", str(labels), "-p", "churn")
    assert code == 0 and "0 accepted, 9 duplicates." in shown  # sending again is harmless

    code, _, shown = cli("endpoints", "quality", "churn", "--window", "1h", "-p", "churn")
    assert code == 0, shown
    assert "base 4 accuracy 0.750 vs baseline" in shown and " 80% " in shown
    assert "challenger 4 accuracy 0.500 vs baseline" in shown and " 100% " in shown
    assert "A/B challenger vs base: accuracy -0.250 (95% CI" in shown
    assert "4 vs 4 labels): not significant yet" in shown
    assert "10 duplicate labels ignored in the window." in shown
    code, _, shown = cli("endpoints", "quality", "churn", "--window", "2x", "-p", "churn")
    assert code == 1 and "'2x' is not a duration" in shown


def test_feedback_errors_point_at_the_line(
    alice: Person, live_server: LiveServer, tmp_path: Path
) -> None:
    [known] = log_predictions(live_server, "base", 0, 1)
    labels = write_labels(tmp_path / "labels.jsonl", [(known, 0), (known, 0), ("0" * 24, 1)])
    code, _, shown = cli("endpoints", "feedback", "churn", "-f", str(labels), "-p", "churn")
    assert code == 1
    # line 3 is blank; rich breaks a long path wherever the terminal ends, so spaces are out
    wanted = f"{labels} line 4: no prediction '{'0' * 24}' was logged"
    assert wanted.replace(" ", "") in shown.replace(" ", "")
    assert "(field: feedback[2].prediction_id)" in shown
    code, _, shown = cli("endpoints", "quality", "churn", "-p", "churn")
    assert "No labels" in shown  # the batch was refused whole
    (tmp_path / "bad.jsonl").write_text('{"prediction_id": "x", "label": 1}\nnot json\n')
    code, _, shown = cli(
        "endpoints", "feedback", "churn", "-f", str(tmp_path / "bad.jsonl"), "-p", "churn"
    )
    assert code == 1 and "bad.jsonlline2isnotJSON" in shown.replace(" ", "")
    code, _, shown = cli(
        "endpoints", "feedback", "churn", "-f", str(labels), "--token", "mye_x", "-p", "churn"
    )
    assert code == 1 and "not valid" in shown


def test_learners_pause_resume_checkpoint_rollback(alice: Person, live_server: LiveServer) -> None:
    code, _, shown = cli("endpoints", "learners", "churn", "-p", "churn")
    assert code == 0 and "No learners on churn/churn: only online variants learn" in shown
    add_learner(live_server, "base")
    [pid] = log_predictions(live_server, "base", 0, 1)
    assert alice.client.post(
        "/serve/churn/churn/feedback", json={"prediction_id": pid, "label": 0}
    ).is_success

    code, _, shown = cli("endpoints", "learners", "churn", "-p", "churn")
    assert code == 0, shown
    # the lag in seconds is how long the unlearned label has waited: a moment
    assert re.search(r"base stopped 0/1 1 \(\d+ s\) — 0 —", shown), shown
    assert "base serves churn-clf as registered; 0 learned, 0 scored" in shown

    code, _, shown = cli("endpoints", "learn", "pause", "churn", "base", "-p", "churn")
    assert code == 0 and "churn/churn base: learning paused (state stopped," in shown
    code, _, shown = cli("endpoints", "learners", "churn", "-p", "churn")
    assert re.search(r"base stopped 0/1 1 \(\d+ s\) — 0 — \(paused\)", shown), shown
    code, _, shown = cli("endpoints", "learn", "resume", "churn", "base", "-p", "churn")
    assert code == 0 and "learning resumed" in shown
    code, _, shown = cli("endpoints", "learners", "churn", "-p", "churn")
    assert "base stopped 0/1" in shown and "paused" not in shown

    code, _, shown = cli("endpoints", "learn", "checkpoint", "churn", "base", "-p", "churn")
    assert code == 1 and "nothing new to checkpoint" in shown
    code, _, shown = cli(
        "endpoints", "learn", "rollback", "churn", "base", "--version", "9", "-p", "churn"
    )
    assert code == 1 and "(field: version)" in shown and "9" in shown
    code, _, shown = cli("endpoints", "learn", "pause", "churn", "challenger", "-p", "churn")
    assert code == 1 and "has no learner" in shown
    code, _, shown = cli(
        "endpoints", "learn", "rollback", "churn", "base", "--version", "2", "-p", "churn"
    )
    assert code == 0 and "rolled back to version 2 (state stopped, serving learned state" in shown


def test_windows() -> None:
    assert [parse_window(w) for w in ("15m", "1h", "24h", "7d", "900", "90s")] == [
        900,
        3600,
        86400,
        604800,
        900,
        90,
    ]
    for bad in ("8d", "30s", "1w", "-1h", ""):
        with pytest.raises(InvalidInputError):
            parse_window(bad)
