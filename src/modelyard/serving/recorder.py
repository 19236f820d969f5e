"""Replica-side telemetry: what happened to requests, gathered in O(1) on the request path
and turned into a `spec.Telemetry` document once a second, off it.

Nothing here takes a lock: the request path and the drain both run on the event loop's
thread. Prediction logs wait in a bounded deque; when the control plane cannot take them
for a while the oldest are dropped and counted, so memory stays flat.
"""

from __future__ import annotations

import os
import random
import time
from bisect import bisect_left
from collections import deque
from typing import Any

import orjson

from modelyard.serving.spec import LATENCY_BUCKETS, PredictionLog, Telemetry, VariantStats

# Each entry of a log: (id, at, variant, shadow, inputs, outputs, latency_ms, key).
LogEntry = tuple[str, float, str, bool, Any, Any, float, "str | None"]


class PredictionIds:
    """Unique, time-ordered and cheap: 12 hex digits of unix milliseconds, then 12 random."""

    __slots__ = ("_bits",)

    def __init__(self, rng: random.Random | None = None) -> None:
        self._bits = (rng or random.Random(os.urandom(16))).getrandbits

    def new(self, now: float) -> str:
        return "%012x%012x" % (int(now * 1000), self._bits(48))  # noqa: UP031 (fastest here)


class Recorder:
    def __init__(self, log_capacity: int = 20_000) -> None:
        self._stats: dict[tuple[str, int], list[Any]] = {}
        self._logs: deque[LogEntry] = deque(maxlen=log_capacity)
        self._capacity = log_capacity
        self._busy = 0.0  # seconds spent answering, summed over requests: concurrency * window
        self._window_start = time.monotonic()
        self.inflight = 0
        self.dropped_logs = 0  # since start; reported in the replica's log

    # --- the request path --------------------------------------------------------------

    def request(self, variant: str, code: int, latency: float) -> None:
        stats = self._stats.get((variant, code))
        if stats is None:
            stats = self._stats[(variant, code)] = [0, 0.0, [0] * (len(LATENCY_BUCKETS) + 1)]
        stats[0] += 1
        stats[1] += latency
        stats[2][bisect_left(LATENCY_BUCKETS, latency)] += 1
        self._busy += latency

    def log(self, entry: LogEntry) -> None:
        if len(self._logs) == self._capacity:
            self.dropped_logs += 1
        self._logs.append(entry)

    def log_many(self, entries: list[LogEntry]) -> None:
        overflow = len(self._logs) + len(entries) - self._capacity
        if overflow > 0:
            self.dropped_logs += overflow
        self._logs.extend(entries)

    # --- once a second -----------------------------------------------------------------

    def pending_logs(self) -> int:
        return len(self._logs)

    def drain(
        self, replica: str, ready: bool, spec_version: str, max_logs: int = 20_000
    ) -> Telemetry:
        """Everything since the last drain (and up to `max_logs` logs), then start afresh."""
        now = time.monotonic()
        window = max(now - self._window_start, 1e-9)
        stats = [
            VariantStats(variant=v, code=c, count=s[0], latency_sum=s[1], buckets=s[2])
            for (v, c), s in self._stats.items()
        ]
        telemetry = Telemetry(
            replica=replica,
            pid=os.getpid(),
            ready=ready,
            spec_version=spec_version,
            inflight=self.inflight,
            concurrency=self._busy / window,
            window_seconds=window,
            stats=stats,
            predictions=self.take_logs(max_logs),
        )
        self._stats = {}
        self._busy = 0.0
        self._window_start = now
        return telemetry

    def take_logs(self, count: int) -> list[PredictionLog]:
        logs = self._logs
        return [PredictionLog(*logs.popleft()) for _ in range(min(count, len(logs)))]

    def restore(self, telemetry: Telemetry) -> None:
        """Put back a report the control plane did not take: counts merge into the current
        window (which then reaches back to the old one's start), logs go in front of newer
        ones; what no longer fits is the oldest and is dropped."""
        for old in telemetry.stats:
            stats = self._stats.get((old.variant, old.code))
            if stats is None:
                self._stats[(old.variant, old.code)] = [old.count, old.latency_sum, old.buckets]
                continue
            stats[0] += old.count
            stats[1] += old.latency_sum
            stats[2] = [a + b for a, b in zip(stats[2], old.buckets, strict=True)]
        self._busy += telemetry.concurrency * telemetry.window_seconds
        self._window_start -= telemetry.window_seconds
        room = self._capacity - len(self._logs)
        entries = [
            (p.id, p.at, p.variant, p.shadow, p.inputs, p.outputs, p.latency_ms, p.key)
            for p in telemetry.predictions
        ]
        if len(entries) > room:
            self.dropped_logs += len(entries) - room
            entries = entries[len(entries) - room :] if room > 0 else []
        self._logs.extendleft(reversed(entries))


def encode(value: Telemetry | list[PredictionLog]) -> bytes:
    # orjson serialises dataclasses natively (dataclasses.asdict would deep-copy every
    # logged input first); `default=repr` keeps one odd value from sinking a whole report.
    return orjson.dumps(value, default=repr, option=orjson.OPT_SERIALIZE_NUMPY)


_NO_LOGS = b'"predictions":[]}'


def splice(telemetry: bytes, log_chunks: list[bytes]) -> bytes:
    """A report's JSON with the logs encoded separately (in chunks, so that encoding ten
    thousand logs never holds the event loop for tens of milliseconds) put in place.
    `telemetry` is `encode(report)` of a report without logs: `predictions` is its last
    field, so its JSON ends in an empty list."""
    parts = [chunk[1:-1] for chunk in log_chunks if len(chunk) > 2]
    if not parts:
        return telemetry
    assert telemetry.endswith(_NO_LOGS)
    return b"".join((telemetry[:-3], b"[", b",".join(parts), b"]}"))
