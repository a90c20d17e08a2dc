"""A reconciliation as the API answers it (DESIGN, Contract: reconciliation and flag
shapes), times in the conference's own zone, rates as fractions of four decimals."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from diemcau.reconcile.canonical import conference_shape, flag_shape, headcount_shape
from diemcau.reconcile.model import (
    MOMENTS,
    Flag,
    Headcount,
    Reconciliation,
    SiteRow,
    Tally,
    rates,
)


def _tally(t: Tally) -> dict[str, Any]:
    return {
        "sites": t.sites,
        "expected": t.expected.as_dict(),
        "checked_in": t.checked_in.as_dict(),
        "walk_ins": t.walk_ins.total,
        "walk_ins_by_category": t.walk_ins.as_dict(),
        "rates": rates(t.checked_in, t.expected),
    }


class Renderer:
    """Shapes the parts of one reconciliation, times in the conference's zone."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def time(self, value: datetime | None) -> datetime | None:
        """A time in the conference's zone (orjson writes it with its offset)."""
        return None if value is None else value.astimezone(self.zone)

    def headcount(self, h: Headcount | None) -> dict[str, Any] | None:
        shape = headcount_shape(h, self.time)
        return (
            None if h is None or shape is None else {**shape, "moment": h.moment, "total": h.total}
        )

    def site(self, row: SiteRow) -> dict[str, Any]:
        a = row.absences
        return {
            "site_code": row.site_code,
            "site_name": row.site_name,
            "unit_code": row.unit_code,
            "level": row.level,
            "expected": row.expected.as_dict(),
            "checked_in": row.checked_in.as_dict(),
            "walk_ins": row.walk_ins.total,
            "walk_ins_by_category": row.walk_ins.as_dict(),
            "moved_in": row.moved_in,
            "moved_out": row.moved_out,
            "exits": row.exits,
            "reentries": row.reentries,
            "present": row.present,
            "headcounts": {m: self.headcount(row.headcounts.get(m)) for m in MOMENTS},
            "capacity": row.capacity,
            "rates": rates(row.checked_in, row.expected),
            "absences": {
                "sick": a.sick,
                "on_duty": a.on_duty,
                "travel": a.travel,
                "other": a.other,
            },
            "makeup_owed": a.makeup_owed,
        }

    def flag(self, flag: Flag) -> dict[str, Any]:
        return flag_shape(flag, self.time)


def api_document(rec: Reconciliation) -> dict[str, Any]:
    """`{conference, status, totals, units, sites, flags}` and more."""
    c = rec.conference
    out = Renderer(c.timezone)
    return {
        "conference": conference_shape(c, out.time),
        "status": rec.status,
        "scope": rec.scope,
        "computed_at": out.time(rec.computed_at),
        "signed_off_at": out.time(rec.signed_off_at),
        "report_sha256": rec.report_sha256,
        "totals": {**_tally(rec.totals), "targets": c.targets},
        "levels": [{"level": lv.level, **_tally(lv.tally)} for lv in rec.levels],
        "units": [
            {
                "unit_code": u.unit_code,
                "unit_name": u.unit_name,
                "level": u.level,
                "parent_code": u.parent_code,
                **_tally(u.tally),
            }
            for u in rec.units
        ],
        "sites": [out.site(s) for s in rec.sites],
        "flags": [out.flag(f) for f in rec.flags],
        "open_flags": len(rec.open_flags()),
    }
