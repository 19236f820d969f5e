"""The drift report listener and the drift read back from its summaries, on a real database
(no replica processes: reports are stored and handed to the listener as serving does)."""

from __future__ import annotations

import json
import pickle
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.data.connectors import ReadSpec
from modelyard.data.snapshots import snapshot_reader, snapshot_schema
from modelyard.data.tables import SnapshotRow
from modelyard.online.drift import count_into
from modelyard.online.references import SnapshotColumns, parse_features
from modelyard.online.summaries import DriftRecorder, drift_series, feature_drift
from modelyard.online.tables import DriftReferenceRow, FeatureSummaryRow
from modelyard.serving import ingest
from modelyard.serving.spec import PredictionLog, Telemetry
from modelyard.serving.tables import EndpointRow
from tests.conftest import Person
from tests.data.conftest import create_catalog, make_sqlite_source
from tests.serving import fleet

settings, team = fleet.settings, fleet.team
BASE = "/api/v1/projects/churn/endpoints"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _endpoint(owner: Person, db: Session, variants: Sequence[tuple[str, str, int]]) -> int:
    made = owner.client.post(BASE, json={"name": "scores"})
    assert made.status_code == 201, made.text
    for name, version, weight in variants:
        body = {"name": name, "model": "clf", "version": version, "weight": weight}
        added = owner.client.post(f"{BASE}/scores/variants", json=body)
        assert added.status_code == 201, added.text
    endpoint_id = db.scalars(select(EndpointRow.id).where(EndpointRow.name == "scores")).one()
    return int(endpoint_id)


def _report(
    start: float,
    records: Sequence[Mapping[str, object]],
    outputs: Sequence[object],
    variant: str = "a",
    shadow: bool = False,
) -> Telemetry:
    logs = [
        PredictionLog(f"p{start}-{i}", start + i * 0.01, variant, shadow, dict(r), o, 1.0)
        for i, (r, o) in enumerate(zip(records, outputs, strict=True))
    ]
    return Telemetry("r1", 1, True, "v", 0, 0.0, 1.0, predictions=logs)


def _deliver(db: Session, recorder: DriftRecorder, endpoint_id: int, report: Telemetry) -> None:
    ingest.store(db, endpoint_id, report)  # what serving does before calling its listeners
    recorder.record_inputs(db, endpoint_id, report)


def _records(n: int, seed: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {"f0": rng.gauss(shift, 1), "f1": rng.gauss(0, 1), "f2": rng.gauss(0, 1), "f3": 1.0}
        for _ in range(n)
    ]


def _outputs(n: int, seed: int, mean: float = 0.3) -> list[object]:
    rng = random.Random(seed)
    return [{"churn": p > 0.5, "probability": p} for p in (rng.gauss(mean, 0.1) for _ in range(n))]


def _summaries(db: Session, endpoint_id: int) -> list[FeatureSummaryRow]:
    db.expire_all()
    query = select(FeatureSummaryRow).where(FeatureSummaryRow.endpoint_id == endpoint_id)
    return list(db.scalars(query.order_by(FeatureSummaryRow.id)))


def test_a_live_reference_waits_for_traffic_then_minutes_are_counted(
    team: dict[str, Person], db: Session
) -> None:
    endpoint_id = _endpoint(team["owner"], db, [("a", "1", 90), ("b", "2", 10)])
    clock = Clock()
    recorder = DriftRecorder(live_records=200, clock=clock)
    minute = (int(time.time()) // 60 + 1) * 60
    _deliver(db, recorder, endpoint_id, _report(minute, _records(150, 1), _outputs(150, 1)))
    shadow = _report(minute, _records(300, 9), _outputs(300, 9), variant="c", shadow=True)
    _deliver(db, recorder, endpoint_id, shadow)  # shadows neither count nor make a reference
    assert _summaries(db, endpoint_id) == []
    assert db.scalars(select(DriftReferenceRow)).all() == []

    clock.now += 10  # the recorder looks again: 150 + 100 live predictions now
    records, outputs = _records(100, 2), _outputs(100, 2)
    outputs[:10] = [1] * 10  # a canary's answers: not the champion's predictions
    report = _report(minute + 30, records, outputs)
    for log in report.predictions[:10]:
        log.variant = "b"
    report.predictions[-1].at = minute + 61  # the next minute
    _deliver(db, recorder, endpoint_id, report)

    reference = db.scalars(select(DriftReferenceRow)).one()
    assert reference.source == "live" and reference.endpoint_id == endpoint_id
    features = parse_features(reference)
    assert list(features) == [
        "f0",
        "f1",
        "f2",
        "f3",
        "__prediction__.churn",
        "__prediction__.probability",
    ]
    assert sum(features["f0"].counts) == 200  # the first 200 of variant a
    rows = _summaries(db, endpoint_id)
    assert {(r.ts, r.feature) for r in rows} == {
        (ts, f) for ts in (minute, minute + 60) for f in features
    }
    for row in rows:
        assert row.reference_id == reference.id
        if row.feature.startswith("__prediction__"):
            logged = [p for p in report.predictions if p.variant == "a"]
            values = [p.outputs[row.feature.split(".")[1]] for p in logged]
        else:
            logged = list(report.predictions)
            values = [p.inputs[row.feature] for p in logged]
        in_minute = [v for p, v in zip(logged, values, strict=True) if p.at // 60 * 60 == row.ts]
        expected = [0] * features[row.feature].slots
        count_into(features[row.feature], in_minute, expected)
        assert row.counts == expected
    assert sum(sum(r.counts) for r in rows if r.feature == "f0") == 100
    assert sum(sum(r.counts) for r in rows if r.feature == "__prediction__.churn") == 90


def test_feature_drift_flags_a_shifted_feature_and_not_a_stable_one(
    team: dict[str, Person], db: Session
) -> None:
    endpoint_id = _endpoint(team["owner"], db, [("a", "1", 100)])
    clock = Clock()
    recorder = DriftRecorder(live_records=500, clock=clock)
    start = (int(time.time()) // 60 + 1) * 60
    _deliver(db, recorder, endpoint_id, _report(start, _records(500, 1), _outputs(500, 1)))
    clock.now += 10
    # two minutes like the reference, then two minutes where f0 and the probability moved
    for i, shift in enumerate((0.0, 0.0, 2.0, 2.0)):
        at = start + 60 * (i + 1)
        report = _report(at, _records(400, 10 + i, shift), _outputs(400, 10 + i, 0.3 + shift / 4))
        _deliver(db, recorder, endpoint_id, report)

    # whole minutes: the window reaches back into the minute of start + 79 and start + 199
    calm = {d.feature: d for d in feature_drift(db, endpoint_id, 100, now=start + 179)}
    assert calm["f0"].live_count == 800 and calm["f0"].reference_source == "live"
    assert not any(d.drifted for d in calm.values()), calm
    recent = {d.feature: d for d in feature_drift(db, endpoint_id, 100, now=start + 299)}
    assert recent["f0"].drifted and recent["f0"].psi > 0.2 and recent["f0"].test == "ks"
    assert recent["__prediction__.probability"].drifted
    assert recent["__prediction__.probability"].prediction
    for stable in ("f1", "f2", "f3"):
        assert not recent[stable].drifted and recent[stable].judged, recent[stable]
    assert recent["__prediction__.churn"].kind == "categorical"
    assert recent["__prediction__.churn"].test == "chi2"

    series = drift_series(db, endpoint_id, 300, 60, now=start + 299)
    assert series.times == [start + 60 * i for i in range(-1, 5)]
    f0 = next(s for s in series.features if s.feature == "f0")
    assert f0.counts == [0, 500, 400, 400, 400, 400]  # the reference's own 500 count too
    assert f0.psi[0] is None and f0.psi[1] is not None and f0.psi[4] is not None
    assert f0.psi[1] < 0.05 and f0.psi[2] < 0.2 < f0.psi[4]
    assert feature_drift(db, endpoint_id, 60, now=start - 600) == []


def _snapshot_columns(app: FastAPI) -> SnapshotColumns:
    """How the control plane reads a snapshot for the recorder (the app wires this in)."""

    def read(
        dataset: str, snapshot: int, columns: Sequence[str], limit: int
    ) -> Mapping[str, Sequence[object]]:
        with app.state.session_factory() as session:
            row = session.get(SnapshotRow, snapshot)
            assert row is not None
            present = set(snapshot_schema(app.state.artifacts, row).names)
            wanted = [c for c in columns if c in present]
            spec = ReadSpec(columns=wanted, limit=limit)
            table = snapshot_reader(app.state.artifacts, row, spec).read_all()
            return {name: table.column(name).to_pylist() for name in table.column_names}

    return read


def test_a_reference_comes_from_the_training_snapshot(
    app: FastAPI, db: Session, people: Callable[..., Person], tmp_path: Path
) -> None:
    admin = people("root", is_admin=True)
    alice = create_catalog(people, admin, make_sqlite_source(tmp_path / "src.db")).alice
    snapshot = alice.client.post("/api/v1/datasets/customers/snapshots", json={})
    assert snapshot.status_code == 201, snapshot.text
    run = alice.client.post("/api/v1/projects/churn/runs", json={"name": "fit"}).json()
    read = alice.client.get(
        "/api/v1/datasets/customers/data",
        params={"snapshot": snapshot.json()["id"]},
        headers={"X-Modelyard-Run": str(run["id"])},
    )
    assert read.status_code == 200
    signature = [
        {"name": "age", "type": "integer"},
        {"name": "country", "type": "string"},
        {"name": "spend", "type": "number"},
        {"name": "joined", "type": "datetime"},  # not measured
    ]
    meta = {"flavor": "sklearn", "signature": signature, "run_id": run["id"]}
    made = alice.client.post(
        "/api/v1/projects/churn/models/clf/versions",
        content=pickle.dumps(fleet.constant_model(0)),
        headers={"X-Modelyard-Version": json.dumps(meta)},
    )
    assert made.status_code == 201, made.text
    endpoint_id = _endpoint(alice, db, [("a", "1", 100)])
    clock = Clock()
    recorder = DriftRecorder(_snapshot_columns(app), live_records=50, clock=clock)
    minute = (int(time.time()) // 60 + 1) * 60
    records = [{"age": 30, "country": "DE", "spend": 100.0}] * 20
    _deliver(db, recorder, endpoint_id, _report(minute, records, [0] * 20))

    reference = db.scalars(select(DriftReferenceRow)).one()
    assert reference.source == f"snapshot {snapshot.json()['id']} of customers"
    features = parse_features(reference)
    assert list(features) == ["age", "country", "spend"]  # no prediction yet: 20 < 50 logs
    assert features["country"].categories == ("DE", "FR", "US")
    assert features["country"].counts == (15, 10, 5, 0, 0)
    assert features["spend"].counts[-1] == 6  # the snapshot's 6 NULLs are missing values
    rows = {r.feature: r.counts for r in _summaries(db, endpoint_id)}
    assert set(rows) == {"age", "country", "spend"}
    assert rows["country"] == [20, 0, 0, 0, 0]

    clock.now += 10  # 50 live predictions now: the prediction's reference is added
    _deliver(db, recorder, endpoint_id, _report(minute + 1, records * 2, [0] * 40))
    db.expire_all()
    features = parse_features(db.scalars(select(DriftReferenceRow)).one())
    assert list(features) == ["age", "country", "spend", "__prediction__"]
    assert sum(features["__prediction__"].counts) == 50
    drift = {d.feature: d for d in feature_drift(db, endpoint_id, 60, now=minute + 30)}
    assert drift["country"].live_count == 60 and drift["__prediction__"].live_count == 40
    assert not drift["country"].judged and not drift["country"].drifted  # too few yet
