"""Which live variant answers a request: weighted random, or sticky by the request's `key`.

Both draw a point in [0, 1) and find its bucket in the cumulative weights with `bisect`.
A keyed point comes from a stable hash of the key (the same in every replica and across
restarts, unlike `hash()`), so a key stays in its arm for as long as the weights stay put.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from hashlib import blake2b
from typing import Generic, TypeVar

T = TypeVar("T")

_SCALE = float(1 << 64)


def key_point(key: str) -> float:
    """The key's stable place in [0, 1)."""
    digest = blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


class Router(Generic[T]):
    """Immutable: a change of weights builds a new router (the replica swaps whole tables)."""

    __slots__ = ("_bounds", "_last", "_random", "targets")

    def __init__(
        self,
        weighted: Sequence[tuple[T, float]],
        rng: random.Random | None = None,
    ) -> None:
        kept = [(target, float(weight)) for target, weight in weighted if weight > 0]
        self.targets: tuple[T, ...] = tuple(target for target, _ in kept)
        total = sum(weight for _, weight in kept)
        bounds: list[float] = []
        running = 0.0
        for _, weight in kept:
            running += weight
            bounds.append(running / total)
        self._bounds = bounds
        self._last = len(kept) - 1
        self._random = (rng or random.Random()).random

    def __bool__(self) -> bool:
        return self._last >= 0

    def pick(self, key: str | None = None) -> T:
        """The target for one request; raises IndexError when no target has weight."""
        point = self._random() if key is None else key_point(key)
        # min(): float rounding can leave the last bound a hair under 1.0.
        return self.targets[min(bisect_right(self._bounds, point), self._last)]
