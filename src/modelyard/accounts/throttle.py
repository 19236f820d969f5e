"""Brute-force protection for password sign-ins: failed attempts are counted per username and
per client address in a sliding window, and past the limit a sign-in is refused before the
password is checked.

The counts live in this process's memory only. A restart forgets them, and several
control-plane processes (behind one load balancer) would each count separately, so the
effective limit is the configured one times the number of processes.

Memory is bounded: each key keeps at most its limit of timestamps, and each table keeps at most
`max_keys` keys, forgetting the least recently touched one first (an attacker would need
`max_keys` fresh usernames, each a failed sign-in under the address limit, to push a locked
username out).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request

from modelyard.config import Settings

Clock = Callable[[], float]
Scope = Literal["username", "ip"]


@dataclass(frozen=True)
class Attempt:
    """A sign-in let through: counted as a failure until `LoginThrottle.succeeded` says not."""

    username: str
    ip: str
    at: float


@dataclass(frozen=True)
class Refusal:
    """A sign-in refused unchecked: which limit was reached and when it lifts."""

    scope: Scope
    retry_after: int  # whole seconds, at least 1
    first: bool  # the first refusal of this lockout: worth an audit event, the rest are not


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    quiet_until: float = 0.0  # refusals before this were reported already


class _Counter:
    """Failure timestamps per key, at most `limit` a key and `max_keys` keys."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Window] = OrderedDict()

    def _current(self, key: str, now: float) -> _Window | None:
        entry = self._keys.get(key)
        if entry is None:
            return None
        while entry.times and entry.times[0] <= now - self.window:
            entry.times.popleft()
        if not entry.times and entry.quiet_until <= now:
            del self._keys[key]
            return None
        self._keys.move_to_end(key)
        return entry

    def refusal(self, key: str, scope: Scope, now: float) -> Refusal | None:
        entry = self._current(key, now)
        if entry is None or len(entry.times) < self.limit:
            return None
        lifts_at = entry.times[0] + self.window
        first = entry.quiet_until <= now
        if first:
            entry.quiet_until = lifts_at
        return Refusal(scope, max(1, math.ceil(lifts_at - now)), first)

    def add(self, key: str, now: float) -> None:
        entry = self._current(key, now)
        if entry is None:
            if len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            entry = self._keys[key] = _Window()
        entry.times.append(now)

    def discard(self, key: str, at: float) -> None:
        entry = self._keys.get(key)
        if entry is not None and at in entry.times:
            entry.times.remove(at)

    def forget(self, key: str) -> None:
        self._keys.pop(key, None)


class LoginThrottle:
    """Counts failed sign-ins per username and per client address; thread-safe.

    An attempt is counted as a failure when it starts (so concurrent guesses cannot overshoot
    the limit) and taken back when it succeeds.

    Example:
        throttle = LoginThrottle(max_failures=10, max_failures_per_ip=50, window_seconds=900)
        outcome = throttle.begin("alice", "203.0.113.9")
        if isinstance(outcome, Refusal):
            ...  # answer 429, Retry-After: outcome.retry_after
        elif password_is_right:
            throttle.succeeded(outcome)
    """

    def __init__(
        self,
        *,
        max_failures: int,
        max_failures_per_ip: int,
        window_seconds: float,
        max_keys: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self._usernames = _Counter(max_failures, window_seconds, max_keys)
        self._ips = _Counter(max_failures_per_ip, window_seconds, max_keys)
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.monotonic) -> LoginThrottle:
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_ip=settings.login_max_failures_per_ip,
            window_seconds=settings.login_window_seconds,
            clock=clock,
        )

    def begin(self, username: str, ip: str) -> Attempt | Refusal:
        """Refuse, or let a sign-in through and count it as failed for now.

        `username` should be normalized by the caller (stripped, lower case); it is counted
        whether or not such a user exists. An empty `ip` (no client address) is not counted.
        """
        with self._lock:
            now = self._clock()
            refusal = self._usernames.refusal(username, "username", now)
            if refusal is None and ip:
                refusal = self._ips.refusal(ip, "ip", now)
            if refusal is not None:
                return refusal
            self._usernames.add(username, now)
            if ip:
                self._ips.add(ip, now)
            return Attempt(username, ip, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the username starts afresh, the address's other failures
        stand (one valid account must not clear an address that guesses at others)."""
        with self._lock:
            self._usernames.forget(attempt.username)
            if attempt.ip:
                self._ips.discard(attempt.ip, attempt.at)


def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
