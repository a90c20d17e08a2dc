"""Token buckets per key (a kiosk, a client address), held by one worker.

A kiosk that misbehaves (a scanner stuck on repeat, a replay loop) must not take the
service from the thousands of others. Each key may spend `burst` requests at once and
gets `rate` back per second. Limits are per worker: with N workers a key may get up to
N times the rate, which is fine for a guard against runaway clients.
"""

from __future__ import annotations

import math
import time


class RateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)
        self._swept = time.monotonic()

    def take(self, key: object, cost: float = 1.0) -> float:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate
        self._buckets[key] = (tokens - cost, now)
        if now - self._swept > 60:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        """Forget the keys that are full again, so the table does not grow without end."""
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._swept = now


def retry_after(wait: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
