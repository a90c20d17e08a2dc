"""What a batch adds to the live board's arrivals per minute (diemcau.live, docs/live.md).

An arrival is an accepted `in` scan (a first entry, a re-entry or a walk-in), counted at
the minute of its judged time, so an offline kiosk's late upload lands in the minute the
person came in. Exits are not arrivals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from diemcau.checkin.records import Pending

Arrivals = tuple[list[int], list[datetime], list[int]]  # site ids, minutes, counts


def arrivals(pending: Iterable[Pending]) -> Arrivals:
    """Accepted entries per (site, minute) among these scans, as arrays for SQL."""
    counts: dict[tuple[int, datetime], int] = {}
    for p in pending:
        if p.verdict is None or p.verdict.result != "accepted" or p.scan.direction != "in":
            continue
        minute = p.judged.astimezone(UTC).replace(second=0, microsecond=0)
        key = (p.kiosk.site_id, minute)
        counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts)
    return [s for s, _ in keys], [m for _, m in keys], [counts[k] for k in keys]
