"""Each kiosk's clock, measured (DESIGN, Rules: "Kiosk clocks are measured, not believed").

A batch or heartbeat may carry the kiosk's clock at sending (`sent_at`). Its arrival on
the service's clock less `sent_at` is one sample of the kiosk's offset, plus the time
the message took on the way (its share of the round trip, and any wait before the
service read it), which is never negative: so the estimate is the smallest sample of the
last WINDOW (the message that travelled fastest; its transit is the estimate's error).
One slow message, or a minute of an overloaded service, never moves it up; a clock set
forward shows at its next sample, one set back once its older samples leave the window.
The window's samples are kept as the smallest of each BUCKET, so a kiosk sending twenty
batches a second costs no more than one heartbeating.

The offset applied to a kiosk's scans moves only when the estimate moves by more than
STEADY: a kiosk with a good clock is never corrected, and a corrected kiosk's scans keep
their order from one batch to the next (a correction that wavered by half a second
would let a repeat scan look earlier than the first).

Each worker measures the kiosks it hears from; a batch carrying `sent_at` is measured
before it is judged, so an offline queue sent later is corrected by the offset
measured when it is sent, on whichever worker takes it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=2)  # older samples are forgotten; an older estimate unused
BUCKET = timedelta(seconds=10)
STEADY = timedelta(seconds=2)
ZERO = timedelta(0)


@dataclass(slots=True)
class KioskClock:
    """One kiosk's recent samples (the smallest of each bucket: its first arrival and the
    sample) and the offset applied."""

    buckets: deque[tuple[datetime, timedelta]] = field(default_factory=deque)
    applied: timedelta = ZERO
    last: datetime | None = None  # the latest sample's arrival

    def add(self, received: datetime, sample: timedelta) -> None:
        while self.buckets and received - self.buckets[0][0] > WINDOW:
            self.buckets.popleft()
        if self.buckets and received - self.buckets[-1][0] < BUCKET:
            start, low = self.buckets[-1]
            self.buckets[-1] = (start, min(low, sample))
        else:
            self.buckets.append((received, sample))
        self.last = received if self.last is None else max(self.last, received)
        estimate = min(value for _, value in self.buckets)
        if abs(estimate - self.applied) > STEADY:
            self.applied = estimate


class Clocks:
    """The clock offsets (service clock - kiosk clock) of the kiosks this worker heard."""

    def __init__(self) -> None:
        self._kiosks: dict[int, KioskClock] = {}

    def measure(self, token_id: int, received: datetime, sent: datetime) -> None:
        """Take one sample: a message sent at `sent` (kiosk clock) arrived at `received`."""
        self._kiosks.setdefault(token_id, KioskClock()).add(received, received - sent)

    def offset(self, token_id: int, received: datetime) -> timedelta | None:
        """What to add to the kiosk's times for a message arriving at `received`; None
        when its clock was not measured within WINDOW (the 5-minute rule then)."""
        clock = self._kiosks.get(token_id)
        if clock is None or clock.last is None or received - clock.last > WINDOW:
            return None
        return clock.applied

    def forget_stale(self, now: datetime) -> None:
        """Drop the kiosks not measured within WINDOW (their estimate is unused anyway)."""
        stale = [t for t, c in self._kiosks.items() if c.last is None or now - c.last > WINDOW]
        for token_id in stale:
            del self._kiosks[token_id]
