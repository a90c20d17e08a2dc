"""Counts per minute (the board's arrivals), kept compact: a run of consecutive minutes
in an array, grown at either end as minutes come in."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def minute_number(when: datetime) -> int:
    """Minutes since the epoch."""
    return (when - EPOCH) // MINUTE


def _zeros(n: int) -> array[int]:
    return array("q", [0]) * n


class Series:
    """Counts for consecutive minutes from `start` (a minute number)."""

    __slots__ = ("counts", "start")

    def __init__(self) -> None:
        self.start = 0
        self.counts = array("q")

    def get(self, minute: int) -> int:
        i = minute - self.start
        return self.counts[i] if 0 <= i < len(self.counts) else 0

    def add(self, minute: int, n: int) -> None:
        if not self.counts:
            self.start = minute
            self.counts.append(0)
        elif minute < self.start:
            self.counts[0:0] = _zeros(self.start - minute)
            self.start = minute
        elif minute >= self.start + len(self.counts):
            self.counts.extend(_zeros(minute - self.start - len(self.counts) + 1))
        self.counts[minute - self.start] += n

    def out(self, zone: ZoneInfo) -> dict[str, Any]:
        """`{from, per_minute}`: the first minute with arrivals (in the conference's zone)
        and the counts of every minute from there to the last one with arrivals."""
        if not any(self.counts):
            return {"from": None, "per_minute": []}
        first = next(i for i, n in enumerate(self.counts) if n)
        last = max(i for i, n in enumerate(self.counts) if n)
        when = (EPOCH + (self.start + first) * MINUTE).astimezone(zone)
        return {"from": when, "per_minute": list(self.counts[first : last + 1])}
