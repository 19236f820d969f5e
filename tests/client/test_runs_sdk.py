"""`modelyard.start_run`, `log_model` and `load_model` against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import modelyard
from modelyard.client import Client
from tests.code.conftest import git, remote_url
from tests.conftest import LiveServer, Person
from tests.data.conftest import Catalog, create_catalog, make_sqlite_source

pytestmark = pytest.mark.usefixtures("isolated_config")


@pytest.fixture(autouse=True)
def _own_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def catalog(people: Callable[..., Person], admin: Person, tmp_path: Path) -> Catalog:
    """'churn' owned by alice (bob is a viewer), with the dataset 'customers' granted to it."""
    return create_catalog(people, admin, make_sqlite_source(tmp_path / "source.db"))


@pytest.fixture
def alice(live_server: LiveServer, catalog: Catalog) -> Iterator[Client]:
    with modelyard.connect(live_server.url, catalog.alice.token) as client:
        yield client


def training_data(rows: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, rows), "spend": rng.normal(50, 20, rows)})
    return frame, (frame["age"] + rng.normal(0, 10, rows) > 50).astype(int)


def test_metrics_go_in_batches_and_none_are_lost(alice: Client) -> None:
    with alice.runs.start("churn", "many-points", params={"lr": 0.1}) as run:
        for step in range(25_000):  # more than one batch of 10,000
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"acc": 0.5, "nan": float("nan"), "inf": float("inf")})
    stored = alice.runs.get(run.id)
    counts = {m["key"]: m["count"] for m in stored["latest_metrics"]}
    assert counts == {"acc": 1, "inf": 1, "loss": 25_000, "nan": 1}
    assert stored["status"] == "finished" and stored["params"] == {"lr": "0.1"}
    assert stored["metrics"]["nan"] == "NaN" and stored["metrics"]["inf"] == "Infinity"
    history = alice.runs.metric_history(run.id, "loss")
    assert history["steps"][:3] == [0, 1, 2] and history["steps"][-1] == 24_999


def test_points_logged_just_before_the_interpreter_exits_arrive(
    alice: Client, live_server: LiveServer, catalog: Catalog, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import modelyard
            run = modelyard.start_run(project="churn", name="no-with")
            for step in range(5000):
                run.log_metric("loss", step, step=step)
            print(run.id)
            """
        )
    )
    env = {**os.environ, "MODELYARD_URL": live_server.url, "MODELYARD_TOKEN": catalog.alice.token}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    run = alice.runs.get(int(done.stdout.strip()))
    assert run["status"] == "finished" and run["latest_metrics"][0]["count"] == 5000


def test_an_exception_marks_the_run_failed_with_the_error(alice: Client) -> None:
    with pytest.raises(ZeroDivisionError), alice.runs.start("churn", "doomed") as run:
        run.log_metric("before", 1.0)
        _ = 1 / 0
    stored = alice.runs.get(run.id)
    assert stored["status"] == "failed" and "ZeroDivisionError" in stored["error"]
    assert stored["metrics"] == {"before": 1.0}


def test_bad_keys_fail_at_the_call_not_later(alice: Client) -> None:
    with alice.runs.start("churn") as run:
        with pytest.raises(modelyard.InvalidInputError):
            run.log_metric("bad key!", 1.0)
        with pytest.raises(modelyard.InvalidInputError):
            run.log_metric("x", "high")  # type: ignore[arg-type]
        with pytest.raises(modelyard.InvalidInputError):
            run.log_params({"p": "v" * 6001})


def test_artifacts_round_trip(alice: Client, tmp_path: Path) -> None:
    (tmp_path / "out" / "plots").mkdir(parents=True)
    (tmp_path / "out" / "report.md").write_text("# Report")
    (tmp_path / "out" / "plots" / "roc.png").write_bytes(b"\x89PNG fake")
    with alice.runs.start("churn") as run:
        assert run.log_artifacts(tmp_path / "out", "results") == 2
        run.log_artifact(tmp_path / "out" / "report.md")
    paths = [a["path"] for a in alice.runs.get(run.id)["artifacts"]]
    assert paths == ["report.md", "results/plots/roc.png", "results/report.md"]
    target = alice.runs.download_artifact(run.id, "results/plots/roc.png", tmp_path / "roc.png")
    assert target.read_bytes() == b"\x89PNG fake"


def test_log_model_aliases_and_load_model_give_identical_predictions(
    alice: Client, catalog: Catalog, live_server: LiveServer
) -> None:
    X, y = training_data()
    with alice.runs.start("churn", "lr") as run:
        model = LogisticRegression(C=0.5).fit(X, y)
        run.log_metric("auc", 0.8)
        first = run.log_model(model, "churn-clf", input_example=X)
    with alice.runs.start("churn", "lr-strong") as run2:
        model2 = LogisticRegression(C=5.0).fit(X, y)
        second = run2.log_model(model2, "churn-clf", input_example=X)
    assert (first.version, second.version) == (1, 2)
    assert first.flavor == "sklearn" and first.run_id == run.id and first.metrics == {"auc": 0.8}
    assert first.signature == [
        {"name": "age", "type": "number"},
        {"name": "spend", "type": "number"},
    ]
    alice.models.set_alias("churn", "churn-clf", "champion", 2)
    alice.models.set_alias("churn", "churn-clf", "challenger", 1)
    loaded = modelyard.load_model("churn-clf@champion", project="churn", client=alice)
    np.testing.assert_array_equal(loaded.predict_proba(X), model2.predict_proba(X))
    by_number = modelyard.load_model("churn/churn-clf@1", client=alice)
    np.testing.assert_array_equal(by_number.predict_proba(X), model.predict_proba(X))
    assert [v.aliases for v in alice.models.versions("churn", "churn-clf")] == [
        ["champion"],
        ["challenger"],
    ]
    # bob is a viewer: he sees the versions but may not download a pickle (code)
    with modelyard.connect(live_server.url, catalog.bob.token) as bob:
        assert len(bob.models.versions("churn", "churn-clf")) == 2
        with pytest.raises(modelyard.PermissionDeniedError):
            modelyard.load_model("churn/churn-clf@champion", client=bob)


def test_river_models_round_trip(alice: Client) -> None:
    from river import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    X, y = training_data(100)
    rows = X.to_dict("records")
    for x, label in zip(rows, y, strict=True):
        model.learn_one(x, bool(label))
    with alice.runs.start("churn", "river") as run:
        version = run.log_model(model, "churn-online", input_example=rows[0])
    assert version.flavor == "river"
    assert version.signature == [
        {"name": "age", "type": "number"},
        {"name": "spend", "type": "number"},
    ]
    loaded = modelyard.load_model("churn/churn-online", client=alice)
    assert [loaded.predict_proba_one(x) for x in rows[:20]] == [
        model.predict_proba_one(x) for x in rows[:20]
    ]


def test_datasets_read_inside_a_run_are_its_lineage(alice: Client) -> None:
    snapshot = modelyard.dataset("customers", client=alice).snapshot(note="frozen")
    with alice.runs.start("churn", "with-data") as run:
        modelyard.dataset("customers", client=alice).to_pandas()
        modelyard.dataset(f"customers@{snapshot.id}", client=alice).to_pandas()
        version = run.log_model(LogisticRegression(), "lineage-clf")
    modelyard.dataset("customers", client=alice).to_pandas()  # after the run: not its input
    inputs = alice.runs.get(run.id)["inputs"]
    assert [(i["dataset"], i["snapshot"], i["complete"]) for i in inputs] == [
        ("customers", None, True),
        ("customers", snapshot.id, True),
    ]
    assert inputs[0]["rows"] > 0
    assert alice.models.get("churn/lineage-clf@1").datasets == [
        "customers",
        f"customers@{snapshot.id}",
    ]
    assert version.version == 1


def test_a_run_inside_a_clone_records_the_commit_and_dirtiness(
    alice: Client,
    live_server: LiveServer,
    catalog: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "train.py").write_text("print('hi')\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "first")
    git(work, "remote", "add", "origin", remote_url(live_server, catalog.alice, "churn"))
    git(work, "push", "-q", "origin", "main")
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    monkeypatch.chdir(work)
    with alice.runs.start("churn", "clean") as clean:
        pass
    (work / "train.py").write_text("print('changed')\n")
    with alice.runs.start("churn", "dirty") as dirty:
        pass
    assert (alice.runs.get(clean.id)["commit"], alice.runs.get(clean.id)["dirty"]) == (sha, False)
    assert (alice.runs.get(dirty.id)["commit"], alice.runs.get(dirty.id)["dirty"]) == (sha, True)
    monkeypatch.chdir(tmp_path)  # not a clone of this project: no commit claimed
    with alice.runs.start("churn", "elsewhere") as elsewhere:
        pass
    assert alice.runs.get(elsewhere.id)["commit"] is None
    # the code pages learn which commit each run ran
    refs = httpx.get(
        f"{live_server.url}/api/v1/projects/churn/code/live",
        headers={"Authorization": f"Bearer {catalog.alice.token}"},
    ).json()["items"]
    assert {(r["kind"], r["object_id"], r["commit"], r["live"]) for r in refs} == {
        ("run", str(clean.id), sha, False),
        ("run", str(dirty.id), sha, False),
    }


def test_an_interrupted_upload_leaves_no_file(
    alice: Client, live_server: LiveServer, catalog: Catalog
) -> None:
    with alice.runs.start("churn", "cut-off") as run:
        put_cut_off(live_server, catalog, run.id)
    assert alice.runs.get(run.id)["artifacts"] == []
    stored = Path(live_server.app.state.settings.resolved_artifact_root) / "runs" / str(run.id)
    assert not stored.exists()


def put_cut_off(live_server: LiveServer, catalog: Catalog, run_id: int) -> None:
    def body() -> Iterator[bytes]:
        yield b"x" * 1_000_000
        raise ConnectionResetError("the laptop lid closed")

    with httpx.Client(base_url=live_server.url) as http, pytest.raises(ConnectionResetError):
        http.put(
            f"/api/v1/runs/{run_id}/artifacts/model.bin",
            content=body(),
            headers={"Authorization": f"Bearer {catalog.alice.token}"},
        )
    deadline = time.monotonic() + 5
    uploads = live_server.app.state.settings.uploads_dir
    while any(uploads.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(uploads.iterdir())  # the spooled part is gone
