"""/metrics: every endpoint's traffic in Prometheus' text format, with conventional names:
`modelyard_requests_total{project,endpoint,variant,code}`,
`modelyard_request_duration_seconds{project,endpoint,variant}` (a histogram),
`modelyard_replicas{project,endpoint}` and `modelyard_replicas_ready{project,endpoint}`."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from modelyard.accounts.deps import AdminUser
from modelyard.http_errors import ERROR_RESPONSES
from modelyard.serving.runtime import Serving, ServingDep
from modelyard.serving.spec import LATENCY_BUCKETS

router = APIRouter(tags=["serving"], responses=ERROR_RESPONSES)


class ServingCollector(Collector):
    def __init__(self, serving: Serving) -> None:
        self.serving = serving

    def collect(self) -> Iterator[Metric]:
        requests, durations = self.serving.totals.snapshot()
        counter = CounterMetricFamily(
            "modelyard_requests",
            "Prediction requests answered, by variant and HTTP status",
            labels=["project", "endpoint", "variant", "code"],
        )
        for request_labels, count in sorted(requests.items()):
            counter.add_metric(list(request_labels), count)
        yield counter
        histogram = HistogramMetricFamily(
            "modelyard_request_duration_seconds",
            "Time from a request's arrival at a replica to its answer",
            labels=["project", "endpoint", "variant"],
        )
        for labels, h in sorted(durations.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(
                [*(str(b) for b in LATENCY_BUCKETS), "+Inf"], h.buckets, strict=True
            ):
                cumulative += count
                buckets.append((bound, cumulative))
            histogram.add_metric(list(labels), buckets, h.total)
        yield histogram
        replicas = GaugeMetricFamily(
            "modelyard_replicas", "Replica processes of an endpoint", labels=["project", "endpoint"]
        )
        ready = GaugeMetricFamily(
            "modelyard_replicas_ready",
            "Replicas answering requests",
            labels=["project", "endpoint"],
        )
        for pool in list(self.serving.supervisor.pools.values()):
            active = [r for r in list(pool.replicas.values()) if not r.stopping]
            replicas.add_metric([pool.project, pool.name], len(active))
            ready.add_metric([pool.project, pool.name], sum(1 for r in active if r.ready))
        yield replicas
        yield ready


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (admins)")
def metrics(serving: ServingDep, _admin: AdminUser) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServingCollector(serving))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
