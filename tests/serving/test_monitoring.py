"""Latency percentiles from merged histograms, as Prometheus' histogram_quantile reads them."""

from __future__ import annotations

import numpy as np

from modelyard.serving.monitoring import quantile_ms
from modelyard.serving.spec import LATENCY_BUCKETS


def _histogram(latencies: np.ndarray) -> list[int]:
    buckets = [0] * (len(LATENCY_BUCKETS) + 1)
    for index in np.searchsorted(LATENCY_BUCKETS, latencies, side="left"):
        buckets[int(index)] += 1
    return buckets


def test_quantiles_land_in_the_right_bucket() -> None:
    rng = np.random.default_rng(0)
    latencies = rng.uniform(0.001, 0.0025, size=10_000)  # all within one bucket
    buckets = _histogram(latencies)
    for q in (0.5, 0.95, 0.99):
        estimate = quantile_ms(buckets, q)
        assert estimate is not None
        assert abs(estimate - np.quantile(latencies, q) * 1000) < 0.05  # uniform: interpolation


def test_empty_and_overflowing_histograms() -> None:
    assert quantile_ms([0] * (len(LATENCY_BUCKETS) + 1), 0.5) is None
    slow = _histogram(np.array([60.0, 61.0]))
    assert quantile_ms(slow, 0.99) == LATENCY_BUCKETS[-1] * 1000
