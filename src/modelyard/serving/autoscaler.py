"""How many replicas an endpoint should run, from its load.

The load is the pool's concurrency: the average number of requests in flight over the last
second (each replica measures it as the sum of its requests' latencies over the window, by
Little's law), summed over replicas. Like Kubernetes' horizontal pod autoscaler the wanted
size is `ceil(concurrency / target_per_replica)`; it scales up once the load has stayed above
target for `up_after` seconds and down only after it stayed below for `down_after` seconds
(the cool-down), so a burst does not make the pool flap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalePolicy:
    min_replicas: int
    max_replicas: int
    target_inflight: float  # per replica
    up_after: float = 3.0
    down_after: float = 30.0


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str


class Autoscaler:
    def __init__(self) -> None:
        self._above_since: float | None = None
        self._below_since: float | None = None

    def decide(
        self, policy: ScalePolicy, replicas: int, concurrency: float, now: float
    ) -> Decision | None:
        """A new pool size and why, or None to keep `replicas`."""
        floor, ceiling = policy.min_replicas, max(policy.min_replicas, policy.max_replicas)
        if replicas < floor:
            return Decision(floor, f"below the minimum of {floor}")
        if replicas > ceiling:
            return Decision(ceiling, f"above the maximum of {ceiling}")
        wanted = min(ceiling, max(floor, math.ceil(concurrency / policy.target_inflight - 1e-9)))
        per_replica = concurrency / max(replicas, 1)
        if wanted > replicas:
            self._below_since = None
            self._above_since = self._above_since if self._above_since is not None else now
            if now - self._above_since >= policy.up_after:
                self._above_since = None
                return Decision(
                    wanted,
                    f"{per_replica:.1f} requests in flight per replica for "
                    f"{policy.up_after:g}s (target {policy.target_inflight:g})",
                )
            return None
        self._above_since = None
        if wanted < replicas:
            self._below_since = self._below_since if self._below_since is not None else now
            if now - self._below_since >= policy.down_after:
                self._below_since = None
                return Decision(
                    wanted,
                    f"{per_replica:.1f} requests in flight per replica for "
                    f"{policy.down_after:g}s (target {policy.target_inflight:g})",
                )
            return None
        self._below_since = None
        return None
