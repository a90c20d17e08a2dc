"""What a reconciliation is made of: typed, immutable, ready for the API, the CLI and the
reports to render.

Counts are whole numbers; rates are derived from them (never stored), as fractions
(0.9787) for machines and through diemcau.figures for people ("4.502/4.600 (97,87%)").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

CATEGORIES = ("member", "non_member", "guest")
MOMENTS = ("start", "after_break", "end")
REASONS = ("sick", "on_duty", "travel", "other")
FLAG_KINDS = (
    "headcount_mismatch",
    "over_capacity",
    "no_checkins",
    "no_headcount",
    "kiosk_silent",
    "hall_emptied",
    "under_target",
    "many_moved",
)
ACTIONS = ("accept_headcount", "accept_scans", "corrected")


def instant(value: datetime) -> str:
    """A time as UTC text, the same text for the same instant, as orjson writes a UTC
    time (flag details and the canonical content carry times so):
    2026-12-15T01:00:00Z, or 2026-12-15T01:00:00.250000Z."""
    return orjson.dumps(value.astimezone(UTC), option=orjson.OPT_UTC_Z)[1:-1].decode()


class ByCategory(NamedTuple):
    """A count per delegate category (`{member, non_member, guest}` in the API)."""

    member: int = 0
    non_member: int = 0
    guest: int = 0

    @property
    def total(self) -> int:
        return self.member + self.non_member + self.guest

    def plus(self, other: ByCategory) -> ByCategory:
        return ByCategory(
            self.member + other.member,
            self.non_member + other.non_member,
            self.guest + other.guest,
        )

    def get(self, category: str) -> int:
        return int(getattr(self, category))

    def as_dict(self) -> dict[str, int]:
        return {"member": self.member, "non_member": self.non_member, "guest": self.guest}


def rate(part: int, whole: int) -> float | None:
    """part/whole as a fraction rounded half up to 4 decimals (4502/4600: 0.9787, which
    people read as 97,87%); None when nothing is expected. Whole numbers all the way, so
    a rate exactly between two (1/32) rounds up, as a person rounds it."""
    if whole == 0:
        return None
    return (part * 20_000 + whole) // (2 * whole) / 10_000


def rates(checked_in: ByCategory, expected: ByCategory) -> dict[str, float | None]:
    """Checked in / expected per category, walk-ins left out; None where nobody is expected."""
    return {c: rate(checked_in.get(c), expected.get(c)) for c in CATEGORIES}


class Headcount(NamedTuple):
    """One headcount record (the latest of its moment, in a site row)."""

    id: int
    moment: str
    counted_at: datetime
    members: int
    non_members: int
    guests: int
    note: str | None = None

    @property
    def total(self) -> int:
        """members + non-members + guests (DESIGN, Rules)."""
        return self.members + self.non_members + self.guests


class Headcounts(NamedTuple):
    """The latest headcount of each moment, or None."""

    start: Headcount | None = None
    after_break: Headcount | None = None
    end: Headcount | None = None

    def get(self, moment: str) -> Headcount | None:
        found: Headcount | None = getattr(self, moment)
        return found

    def present(self) -> list[Headcount]:
        return [h for h in (self.start, self.after_break, self.end) if h is not None]


class Absences(NamedTuple):
    """Absences by reason at a site, and how many of them owe a make-up session."""

    sick: int = 0
    on_duty: int = 0
    travel: int = 0
    other: int = 0
    makeup_owed: int = 0

    @property
    def total(self) -> int:
        return self.sick + self.on_duty + self.travel + self.other


class SiteRow(NamedTuple):
    """One participating site: the roster, who came, what was counted in the room.

    A delegate counts in the category and own site the roster holds now; `checked_in`
    is attributed to the site of their earliest accepted entry (moved-in people count
    where they were). `present` counts the people whose latest accepted scan is an entry,
    walk-ins included.
    """

    site_code: str
    site_name: str
    unit_code: str
    level: str
    capacity: int | None
    expected: ByCategory
    checked_in: ByCategory
    walk_ins: ByCategory
    moved_in: int
    moved_out: int
    exits: int
    reentries: int
    present: int
    headcounts: Headcounts
    absences: Absences

    @property
    def rates(self) -> dict[str, float | None]:
        return rates(self.checked_in, self.expected)

    @property
    def attended(self) -> int:
        """Checked in + walk-ins: the people the scans say came."""
        return self.checked_in.total + self.walk_ins.total


class Tally(NamedTuple):
    """A unit's, a level's or the whole conference's figures, summed over its sites."""

    expected: ByCategory = ByCategory()
    checked_in: ByCategory = ByCategory()
    walk_ins: ByCategory = ByCategory()
    sites: int = 0

    def add(self, row: SiteRow) -> Tally:
        return Tally(
            self.expected.plus(row.expected),
            self.checked_in.plus(row.checked_in),
            self.walk_ins.plus(row.walk_ins),
            self.sites + 1,
        )

    @property
    def rates(self) -> dict[str, float | None]:
        return rates(self.checked_in, self.expected)


class UnitRow(NamedTuple):
    """A unit with its whole subtree's participating sites rolled up."""

    unit_code: str
    unit_name: str
    level: str
    parent_code: str | None
    tally: Tally


class LevelRow(NamedTuple):
    """The participating sites of one level (commune halls, district halls, ...)."""

    level: str
    tally: Tally


class Resolution(NamedTuple):
    action: str
    figure: int | None
    note: str
    by: str
    at: datetime


class Flag(NamedTuple):
    """A discrepancy at one site. `id` is `<site code>.<kind>`: a flag is its site and its
    kind, recomputed from the figures each time; `detail` holds the numbers behind it,
    and `fingerprint` names those numbers (a resolution holds while they stay the same)."""

    kind: str
    site_code: str
    detail: dict[str, Any]
    fingerprint: str
    resolution: Resolution | None = None

    @property
    def id(self) -> str:
        return f"{self.site_code}.{self.kind}"

    @property
    def status(self) -> str:
        return "open" if self.resolution is None else "resolved"


@dataclass(frozen=True, slots=True)
class Conference:
    """The conference as the reconciliation states it."""

    code: str
    title: str
    starts_at: datetime
    ends_at: datetime
    checkin_opens_at: datetime
    timezone: str
    host_site: str | None
    other_site: str
    targets: dict[str, float]


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Everything `GET .../reconciliation` answers and a report prints.

    `sites` in site-code order, `units` in unit-code order (every unit with a
    participating site in its subtree), `levels` in level order, `flags` by site then
    kind. `scope` names the unit subtree the rows are limited to (None: the whole
    conference; `totals` are then the subtree's). After sign-off, `signed_off_at` and
    `report_sha256` are set and the figures are the ones signed.
    """

    conference: Conference
    status: str
    totals: Tally
    units: list[UnitRow]
    levels: list[LevelRow]
    sites: list[SiteRow]
    flags: list[Flag]
    scope: str | None = None
    signed_off_at: datetime | None = None
    report_sha256: str | None = None
    computed_at: datetime | None = field(default=None, compare=False)

    @property
    def targets(self) -> dict[str, float]:
        return self.conference.targets

    def open_flags(self) -> list[Flag]:
        return [f for f in self.flags if f.status == "open"]

    def within(self, unit_code: str) -> Reconciliation:
        """The same reconciliation limited to a unit's subtree, worked out from its own
        rows (a signed one is read back whole; a unit organiser sees their part)."""
        children: dict[str | None, list[str]] = {}
        for u in self.units:
            children.setdefault(u.parent_code, []).append(u.unit_code)
        inside, todo = set(), [unit_code]
        while todo:
            code = todo.pop()
            if code not in inside:
                inside.add(code)
                todo.extend(children.get(code, ()))
        sites = [s for s in self.sites if s.unit_code in inside]
        codes = {s.site_code for s in sites}
        units = [u for u in self.units if u.unit_code in inside]
        top = next((u.tally for u in units if u.unit_code == unit_code), Tally())
        levels: dict[str, Tally] = {}
        for s in sites:
            levels[s.level] = levels.get(s.level, Tally()).add(s)
        order = [lv.level for lv in self.levels]
        return replace(
            self,
            totals=top,
            units=units,
            levels=[LevelRow(lv, levels[lv]) for lv in order if lv in levels],
            sites=sites,
            flags=[f for f in self.flags if f.site_code in codes],
            scope=unit_code,
        )
