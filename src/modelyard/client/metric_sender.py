"""The background sender behind `Run.log_metric`: points are buffered in memory and one
daemon thread per run posts them in batches, so logging a point costs a list append."""

from __future__ import annotations

import threading
import time
from typing import Any

from modelyard.client.transport import Transport
from modelyard.errors import ModelyardError

BATCH_SIZE = 10_000  # the server takes up to this many points per request
FLUSH_SECONDS = 0.5


class MetricSender:
    """One daemon thread per run that ships buffered points in batches."""

    def __init__(self, transport: Transport, run_id: int) -> None:
        self._transport = transport
        self._path = f"/api/v1/runs/{run_id}/metrics"
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._sending = False
        self._closed = False
        self.error: ModelyardError | None = None
        self.sent = 0
        self._thread = threading.Thread(
            target=self._loop, name=f"modelyard-run-{run_id}", daemon=True
        )
        self._thread.start()

    def add(self, points: list[dict[str, Any]]) -> None:
        with self._lock:
            self._pending.extend(points)
            full = len(self._pending) >= BATCH_SIZE
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, []
                self._sending = bool(batch)
                closed = self._closed
            try:
                for start in range(0, len(batch), BATCH_SIZE):
                    chunk = batch[start : start + BATCH_SIZE]
                    self._transport.request("POST", self._path, json={"metrics": chunk})
                    self.sent += len(chunk)
            except ModelyardError as exc:
                self.error = exc
            with self._lock:
                self._sending = False
                self._idle.notify_all()
            if closed and not batch:
                return

    def flush(self, timeout: float = 120.0) -> None:
        """Block until every point logged so far has been sent (or raise what went wrong)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._sending:
                self._wake.set()
                if not self._idle.wait(max(0.0, deadline - time.monotonic())):
                    break
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
            self._wake.set()
            self._thread.join(timeout=10)
