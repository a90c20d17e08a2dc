"""Each kiosk's clock, measured (DESIGN, Rules: "Kiosk clocks are measured, not believed").

A batch or heartbeat may carry the kiosk's clock at sending (`sent_at`). Its arrival on
the service's clock less `sent_at` is one sample of the kiosk's offset, plus the time
the message took on the way, which is never negative: so the estimate is the smallest
of the kiosk's recent samples (the one that travelled fastest; its transit, at most a
round trip, is the estimate's error). A sample more than STEP above that means the
kiosk's clock was set back (no transit is that slow), and starts the estimate again.

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

SAMPLES = 8
WINDOW = timedelta(minutes=10)  # older samples are forgotten; an older estimate unused
STEP = timedelta(seconds=10)
STEADY = timedelta(seconds=2)
ZERO = timedelta(0)


@dataclass(slots=True)
class KioskClock:
    """One kiosk's recent samples (arrival, arrival - sent) and the offset applied."""

    samples: deque[tuple[datetime, timedelta]] = field(
        default_factory=lambda: deque(maxlen=SAMPLES)
    )
    applied: timedelta = ZERO

    def add(self, received: datetime, sample: timedelta) -> None:
        while self.samples and received - self.samples[0][0] > WINDOW:
            self.samples.popleft()
        if self.samples and sample - self.estimate() > STEP:
            self.samples.clear()  # the clock was set back
        self.samples.append((received, sample))
        estimate = self.estimate()
        if abs(estimate - self.applied) > STEADY:
            self.applied = estimate

    def estimate(self) -> timedelta:
        return min(value for _, value in self.samples)


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
        if clock is None or not clock.samples or received - clock.samples[-1][0] > WINDOW:
            return None
        return clock.applied

    def forget_stale(self, now: datetime) -> None:
        """Drop the kiosks not measured within WINDOW (their estimate is unused anyway)."""
        stale = [t for t, c in self._kiosks.items() if now - c.samples[-1][0] > WINDOW]
        for token_id in stale:
            del self._kiosks[token_id]
