"""What the live view is made of: a site, a unit over its subtree, and what changed.

A site's `static` is its record's part of the entry (made when the record changes), its
`fragment` the whole entry (made when anything of it changes). A unit's `rollup` sums
its subtree's sites; its `own` arrivals are those of its own sites, `arrivals` its
subtree's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diemcau.checkin.timeline import TALLY_FIELDS
from diemcau.live.series import Series

CATEGORIES = ("member", "non_member", "guest")
T = {name: i for i, name in enumerate(TALLY_FIELDS)}
NO_TALLY: tuple[Any, ...] = (0,) * len(TALLY_FIELDS) + (None,)
# The counts' part of a site entry (diemcau.checkin.timeline.TALLY_FIELDS begins with
# checked_in by category, then walk-ins by category).
assert TALLY_FIELDS[:6] == tuple(f"{k}_{c}" for k in ("checked_in", "walk_ins") for c in CATEGORIES)
SITE_TEMPLATE = (
    b'%s:{%s,"checked_in":{"member":%d,"non_member":%d,"guest":%d},"walk_ins":%d,'
    b'"moved_in":%d,"moved_out":%d,"present":%d,"over_capacity":%s,"last_scan_at":%s}'
)
# What a site adds to the units above it: expected ×3, checked in ×3, walk-ins, present,
# the site itself.
WIDTH = 9
SITES = 8


@dataclass(slots=True, eq=False)
class Site:
    id: int
    code: str
    name: str
    unit_id: int
    capacity: int | None
    status: str
    expected: tuple[int, int, int]
    kiosk_online: bool
    link: str
    headcount: Any
    chain: tuple[int, ...] = ()
    static: bytes | None = None  # the record's part of the entry, as JSON
    fragment: bytes | None = None


@dataclass(slots=True, eq=False)
class Unit:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str
    rollup: list[int] = field(default_factory=lambda: [0] * WIDTH)
    own: Series = field(default_factory=Series)  # arrivals at its own sites
    arrivals: Series = field(default_factory=Series)  # arrivals in its subtree
    fragment: bytes | None = None

    @property
    def visible(self) -> bool:
        """A unit is on the board while a participating site lies in its subtree."""
        return self.rollup[SITES] > 0


@dataclass
class Dirty:
    """What changed: site and unit ids, departed ones with their code and chain."""

    sites: set[int] = field(default_factory=set)
    units: set[int] = field(default_factory=set)
    gone_sites: dict[int, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    gone_units: dict[int, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    totals: set[int] = field(default_factory=set)  # units whose subtree's arrivals moved
    conference: bool = False
    any: bool = False  # the whole conference's totals moved
    reshaped: bool = False  # a site moved to another unit: every scope starts over

    def __bool__(self) -> bool:
        return (
            self.any or self.conference or self.reshaped or bool(self.gone_sites or self.gone_units)
        )


def site_of(row: Any, chain: tuple[int, ...]) -> Site:
    return Site(
        row["site_id"],
        row["code"],
        row["name"],
        row["unit_id"],
        row["capacity"],
        row["status"],
        (row["expected_member"], row["expected_non_member"], row["expected_guest"]),
        row["kiosk_online"],
        row["link"],
        row["headcount"],
        chain,
    )


def tally_of(row: Any) -> tuple[Any, ...]:
    return (*(row[f] for f in TALLY_FIELDS), row["last_scan_at"])
