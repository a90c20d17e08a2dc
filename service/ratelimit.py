"""Limits on what one client may do: token buckets per kiosk, held by one worker, and
brute-force guards on failed tries, kept in the database.

A kiosk that misbehaves (a scanner stuck on repeat, a replay loop) must not take the
service from the thousands of others. Each key may spend `burst` requests at once and
gets `rate` back per second. Those limits are per worker: with N workers a key may get up
to N times the rate, which is fine for a guard against runaway clients.

A guard against guessing (enrollment codes) must count the same wherever a try lands,
on any worker of any host, and count failures only: fifty phones of one training room
behind one address enrol in a minute, a guesser gets ten wrong codes. `FailureGuard`
keeps the tries in PostgreSQL (`guarded_tries`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from diemcau.queries import guarded as q


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


class TooManyTries(Exception):
    """The client has failed too often lately; `wait` is the seconds until a try frees."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed tries; wait {wait:.0f} s")
        self.wait = wait


@dataclass(frozen=True)
class FailureGuard:
    """At most `tries` failed tries per client within `window`, on every worker and host.

    `take` counts a try before the guarded action runs (so tries sent at once cannot all
    slip past the count) and `forgive` takes it back when the action succeeded.
    """

    name: str
    tries: int
    window: timedelta

    async def take(self, conn: asyncpg.Connection, client: str) -> int:
        """Count a try of `client` and answer its id; TooManyTries when none is left."""
        async with conn.transaction():
            await q.lock_client(conn, self.name, client)
            await q.sweep_tries(conn, self.name, self.window)
            tried, oldest, now = await q.fetch_recent_tries(conn, self.name, client, self.window)
            if tried >= self.tries and oldest is not None:
                raise TooManyTries((oldest + self.window - now).total_seconds())
            return await q.insert_try(conn, self.name, client)

    async def forgive(self, conn: asyncpg.Connection, try_id: int) -> None:
        """The try succeeded: it does not count against its client."""
        await q.delete_try(conn, try_id)
