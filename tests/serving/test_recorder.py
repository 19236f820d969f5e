"""Replica telemetry: counts and histograms per (variant, status), bounded prediction logs,
reports that the control plane did not take, and prediction ids."""

from __future__ import annotations

import random

import orjson

from modelyard.serving.recorder import LogEntry, PredictionIds, Recorder, encode, splice
from modelyard.serving.spec import LATENCY_BUCKETS, Telemetry


def entry(i: int, variant: str = "a") -> LogEntry:
    return (f"id{i}", 1.0 + i, variant, False, {"x": i}, i * 2, 1.5, None)


def test_counts_latency_and_buckets_per_variant_and_status() -> None:
    recorder = Recorder()
    recorder.request("a", 200, 0.0004)
    recorder.request("a", 200, 0.003)
    recorder.request("a", 200, 99.0)
    recorder.request("", 401, 0.0001)
    report = recorder.drain("r1", True, "v1")
    stats = {(s.variant, s.code): s for s in report.stats}
    a = stats[("a", 200)]
    assert a.count == 3 and abs(a.latency_sum - 99.0034) < 1e-9
    assert a.buckets[0] == 1  # <= 0.5 ms
    assert a.buckets[LATENCY_BUCKETS.index(0.005)] == 1
    assert a.buckets[-1] == 1  # +Inf
    assert len(a.buckets) == len(LATENCY_BUCKETS) + 1
    assert stats[("", 401)].count == 1
    assert report.replica == "r1" and report.ready and report.spec_version == "v1"
    assert recorder.drain("r1", True, "v1").stats == []  # a fresh window


def test_the_log_buffer_is_bounded_and_drops_the_oldest() -> None:
    recorder = Recorder(log_capacity=5)
    for i in range(4):
        recorder.log(entry(i))
    recorder.log_many([entry(i) for i in range(4, 8)])
    assert recorder.dropped_logs == 3
    assert [p.id for p in recorder.drain("r", True, "v").predictions] == [
        f"id{i}" for i in range(3, 8)
    ]


def test_a_report_not_taken_is_put_back_in_front_and_still_bounded() -> None:
    recorder = Recorder(log_capacity=4)
    recorder.request("a", 200, 0.001)
    recorder.log_many([entry(0), entry(1)])
    report = recorder.drain("r", True, "v")
    recorder.request("a", 200, 0.002)
    recorder.log_many([entry(2), entry(3), entry(4)])
    recorder.restore(report)
    assert recorder.dropped_logs == 1  # id0, the oldest, no longer fits
    again = recorder.drain("r", True, "v")
    assert [p.id for p in again.predictions] == ["id1", "id2", "id3", "id4"]
    (stats,) = again.stats
    assert stats.count == 2 and abs(stats.latency_sum - 0.003) < 1e-12
    assert again.window_seconds >= report.window_seconds


def test_a_report_takes_at_most_max_logs() -> None:
    recorder = Recorder()
    recorder.log_many([entry(i) for i in range(10)])
    assert len(recorder.drain("r", True, "v", max_logs=4).predictions) == 4
    assert recorder.pending_logs() == 6


def test_reports_encode_to_what_the_control_plane_reads() -> None:
    recorder = Recorder()
    recorder.request("a", 200, 0.001)
    recorder.log(entry(1))
    report = recorder.drain("r", True, "v")
    assert Telemetry.from_json(orjson.loads(encode(report))) == report


def test_logs_encoded_in_chunks_splice_into_the_same_report() -> None:
    recorder = Recorder()
    recorder.request("a", 200, 0.001)
    recorder.log_many([entry(i) for i in range(7)])
    report = recorder.drain("r", True, "v", max_logs=0)
    head = encode(report)
    chunks = [encode(recorder.take_logs(3)) for _ in range(3)]
    spliced = Telemetry.from_json(orjson.loads(splice(head, chunks)))
    assert [p.id for p in spliced.predictions] == [f"id{i}" for i in range(7)]
    assert spliced.stats == report.stats
    assert splice(head, [b"[]"]) == head


def test_prediction_ids_are_unique_and_time_ordered() -> None:
    ids = PredictionIds(random.Random(1))
    made = [ids.new(1_700_000_000.0 + i / 1000) for i in range(1000)]
    assert len(set(made)) == 1000
    assert made == sorted(made)
    assert all(len(i) == 24 for i in made)
