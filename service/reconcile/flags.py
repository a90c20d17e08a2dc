"""The eight flags (DESIGN, Rules), each a rule on one site row, with the numbers behind it.

Each rule answers None (no flag due) or the detail that raised it: the numbers the rule
compared, and nothing derived from them. Thresholds are compared in whole numbers or
exact fractions, never in floating point, so a figure exactly at a threshold is judged
the same everywhere ("more than 5%" of 60 is more than 3 people, and 3 is not).

A flag's fingerprint is a digest of its detail: a resolution recorded against one
fingerprint keeps the flag resolved while the numbers stay the same, and a correction
that changes them opens it again. (Rules run on every site of a national conference,
40,000 of them, so they stay in integer arithmetic; a target is turned into an exact
fraction once.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson

from diemcau.reconcile.model import MOMENTS, Flag, Headcounts, Resolution, SiteRow, instant

# DESIGN, Rules: the thresholds, named once (shares in per cent).
MISMATCH_PEOPLE = 3  # headcount_mismatch: more than max(3 people, 5%)
MISMATCH_PERCENT = 5
SILENCE = timedelta(minutes=5)  # kiosk_silent
EMPTIED_PERCENT = 80  # hall_emptied: under 80% of the start
MOVED_PERCENT = 10  # many_moved: over 10% of checked in


@dataclass(frozen=True, slots=True)
class Silence:
    """A kiosk that went silent: from when to when (cut to the session)."""

    kiosk_id: int
    device_name: str
    silent_from: datetime
    silent_until: datetime


@dataclass(frozen=True, slots=True)
class Context:
    """What the rules need beyond a site row: the targets, each also as the exact decimal
    it was written as, (category, target, numerator, denominator) (0.98 is 49/50, not
    0.97999999...), and the kiosks' silences by site code."""

    targets: dict[str, float]
    silences: dict[str, list[Silence]]
    exact_targets: list[tuple[str, float, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for category, target in sorted(self.targets.items()):
            exact = Fraction(Decimal(repr(target)))
            self.exact_targets.append((category, target, exact.numerator, exact.denominator))


Detail = dict[str, Any] | None
NO_HEADCOUNTS = Headcounts()


def headcount_mismatch(row: SiteRow, _: Context) -> Detail:
    """The `start` headcount differs from checked in + walk-ins by more than
    max(3 people, 5% of checked in + walk-ins)."""
    start = row.headcounts.start
    if start is None:
        return None
    difference = start.total - row.attended
    gap = abs(difference)
    if gap > MISMATCH_PEOPLE and gap * 100 > MISMATCH_PERCENT * row.attended:
        return {
            "headcount": start.total,
            "checked_in": row.checked_in.total,
            "walk_ins": row.walk_ins.total,
            "difference": difference,
        }
    return None


def _totals(row: SiteRow) -> dict[str, int | None]:
    return {m: (h.total if (h := row.headcounts.get(m)) else None) for m in MOMENTS}


def over_capacity(row: SiteRow, _: Context) -> Detail:
    """A headcount, or checked in + walk-ins, above the site's capacity."""
    capacity = row.capacity
    if capacity is None:
        return None
    over = any(h is not None and h.total > capacity for h in row.headcounts)
    if row.attended > capacity or over:
        return {"capacity": capacity, "attended": row.attended, "headcounts": _totals(row)}
    return None


def no_checkins(row: SiteRow, _: Context) -> Detail:
    """No delegate checked in at the site (walk-ins are not check-ins)."""
    if row.checked_in.total == 0:
        return {"expected": row.expected.total, "walk_ins": row.walk_ins.total}
    return None


def no_headcount(row: SiteRow, _: Context) -> Detail:
    """No headcount reported for any moment."""
    return {} if row.headcounts == NO_HEADCOUNTS else None


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def kiosk_silent(row: SiteRow, context: Context) -> Detail:
    """A kiosk of the site silent for 5 minutes or more during the session."""
    found = [
        s
        for s in context.silences.get(row.site_code, ())
        if s.silent_until - s.silent_from >= SILENCE
    ]
    if not found:
        return None
    return {
        "kiosks": [
            {
                "kiosk_id": s.kiosk_id,
                "device_name": s.device_name,
                "silent_from": instant(s.silent_from),
                "silent_until": instant(s.silent_until),
                "minutes": _minutes(s.silent_until - s.silent_from),
            }
            for s in found
        ]
    }


def hall_emptied(row: SiteRow, _: Context) -> Detail:
    """The `after_break` or `end` headcount under 80% of the `start` one."""
    first, after_break, end = row.headcounts
    if first is None or first.total == 0:
        return None
    floor = EMPTIED_PERCENT * first.total
    if any(h is not None and h.total * 100 < floor for h in (after_break, end)):
        return _totals(row)
    return None


def under_target(row: SiteRow, context: Context) -> Detail:
    """A category's rate (checked in / expected) under the conference's target for it."""
    under = {}
    for category, target, numerator, denominator in context.exact_targets:
        expected = row.expected.get(category)
        checked_in = row.checked_in.get(category)
        # checked_in / expected < numerator / denominator, in whole numbers
        if expected and checked_in * denominator < numerator * expected:
            under[category] = {"checked_in": checked_in, "expected": expected, "target": target}
    return under or None


def many_moved(row: SiteRow, _: Context) -> Detail:
    """People moved in from other sites are over 10% of the site's checked in."""
    if row.moved_in * 100 > MOVED_PERCENT * row.checked_in.total:
        return {"moved_in": row.moved_in, "checked_in": row.checked_in.total}
    return None


RULES: dict[str, Callable[[SiteRow, Context], Detail]] = {
    "headcount_mismatch": headcount_mismatch,
    "over_capacity": over_capacity,
    "no_checkins": no_checkins,
    "no_headcount": no_headcount,
    "kiosk_silent": kiosk_silent,
    "hall_emptied": hall_emptied,
    "under_target": under_target,
    "many_moved": many_moved,
}


def fingerprint(kind: str, detail: dict[str, Any]) -> str:
    """A digest of a flag's numbers (16 hex digits): SHA-256 of `[kind, detail]` as
    compact JSON with sorted keys."""
    text = orjson.dumps([kind, detail], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:16]


def site_flags(row: SiteRow, context: Context) -> list[Flag]:
    """The flags due at one site, in the order of FLAG_KINDS."""
    out = []
    for kind, rule in RULES.items():
        detail = rule(row, context)
        if detail is not None:
            out.append(Flag(kind, row.site_code, detail, fingerprint(kind, detail)))
    return out


def raise_flags(
    rows: Iterable[SiteRow],
    context: Context,
    resolutions: dict[tuple[str, str], tuple[str, Resolution]],
) -> list[Flag]:
    """Every flag due, each resolved when its latest resolution was made for these very
    numbers (`resolutions`: (site code, kind) -> (fingerprint, resolution))."""
    flags = []
    for row in rows:
        for flag in site_flags(row, context):
            found = resolutions.get((flag.site_code, flag.kind))
            if found is not None and found[0] == flag.fingerprint:
                flag = Flag(flag.kind, flag.site_code, flag.detail, flag.fingerprint, found[1])
            flags.append(flag)
    return flags
