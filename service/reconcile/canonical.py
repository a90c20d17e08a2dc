"""The report's canonical content: one exact byte string per reconciliation, whose
SHA-256 the sign-off answers and every report file prints (docs/reconciliation.md).

The content is JSON written one way only: UTF-8 (text as stored: NFC), keys sorted,
no spaces, no escapes but JSON's own, integers as integers, a target (the only
non-integer) in its shortest round-trip form, times in UTC as
`YYYY-MM-DDTHH:MM:SS.ffffffZ`. It holds what the report states: the conference, the
totals, the level, unit and site rows, the flags with their resolutions, and the time
of sign-off. Rates are not written: each is its two counts divided, and is printed from
them. Rows are in code order (code points), flags by site then kind.

The sign-off stores the content itself, so a signed report is printed from what was
signed: `load` reads it back into the same typed `Reconciliation`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from diemcau.reconcile.model import (
    FLAG_KINDS,
    MOMENTS,
    Absences,
    ByCategory,
    Conference,
    Flag,
    Headcount,
    Headcounts,
    LevelRow,
    Reconciliation,
    Resolution,
    SiteRow,
    Tally,
    UnitRow,
)

FORMAT = "diemcau.reconciliation/1"
_SITE_COUNTS = ("moved_in", "moved_out", "exits", "reentries", "present")


def utc(value: datetime) -> datetime:
    """A time in UTC, written by `encode` as 2026-12-15T01:00:00Z (like `instant`)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _tally(tally: Tally) -> dict[str, Any]:
    return {
        "sites": tally.sites,
        "expected": tally.expected.as_dict(),
        "checked_in": tally.checked_in.as_dict(),
        "walk_ins": tally.walk_ins.as_dict(),
    }


# How a time is written: `utc` here (the canonical content); the API writes it in the
# conference's zone (document.py), from the same shapes below.
Time = Callable[[datetime], Any]


def headcount_shape(h: Headcount | None, time: Time) -> dict[str, Any] | None:
    if h is None:
        return None
    return {
        "id": h.id,
        "counted_at": time(h.counted_at),
        "members": h.members,
        "non_members": h.non_members,
        "guests": h.guests,
        "note": h.note,
    }


def flag_shape(flag: Flag, time: Time) -> dict[str, Any]:
    """A flag as the contract shapes it: `{id, kind, site_code, detail, status,
    resolution: {action, figure, note, by, at}}`."""
    r = flag.resolution
    resolution = None
    if r is not None:
        resolution = {"action": r.action, "figure": r.figure, "note": r.note, "by": r.by,
                      "at": time(r.at)}  # fmt: skip
    return {
        "id": flag.id,
        "kind": flag.kind,
        "site_code": flag.site_code,
        "detail": flag.detail,
        "status": flag.status,
        "resolution": resolution,
    }


def conference_shape(c: Conference, time: Time) -> dict[str, Any]:
    return {
        "code": c.code,
        "title": c.title,
        "checkin_opens_at": time(c.checkin_opens_at),
        "starts_at": time(c.starts_at),
        "ends_at": time(c.ends_at),
        "timezone": c.timezone,
        "host_site": c.host_site,
        "policy": {"other_site": c.other_site},
        "targets": dict(sorted(c.targets.items())),
    }


def _site(row: SiteRow) -> dict[str, Any]:
    a = row.absences
    return {
        "site_code": row.site_code,
        "site_name": row.site_name,
        "unit_code": row.unit_code,
        "level": row.level,
        "capacity": row.capacity,
        "expected": row.expected.as_dict(),
        "checked_in": row.checked_in.as_dict(),
        "walk_ins": row.walk_ins.as_dict(),
        **{name: getattr(row, name) for name in _SITE_COUNTS},
        "headcounts": {m: headcount_shape(row.headcounts.get(m), utc) for m in MOMENTS},
        "absences": {
            "sick": a.sick,
            "on_duty": a.on_duty,
            "travel": a.travel,
            "other": a.other,
            "makeup_owed": a.makeup_owed,
        },
    }


def flag_order(flag: Flag) -> tuple[str, int]:
    return flag.site_code, FLAG_KINDS.index(flag.kind)


def document(rec: Reconciliation, signed_off_at: datetime) -> dict[str, Any]:
    """The canonical content as a JSON value (whole conference, rows in code order)."""
    return {
        "format": FORMAT,
        "conference": conference_shape(rec.conference, utc),
        "signed_off_at": utc(signed_off_at),
        "totals": _tally(rec.totals),
        "levels": [{"level": lv.level, **_tally(lv.tally)} for lv in rec.levels],
        "units": [
            {
                "unit_code": u.unit_code,
                "unit_name": u.unit_name,
                "level": u.level,
                "parent_code": u.parent_code,
                **_tally(u.tally),
            }
            for u in sorted(rec.units, key=lambda u: u.unit_code)
        ],
        "sites": [_site(s) for s in sorted(rec.sites, key=lambda s: s.site_code)],
        "flags": [
            {**flag_shape(f, utc), "fingerprint": f.fingerprint}
            for f in sorted(rec.flags, key=flag_order)
        ],
    }


def encode(value: Any) -> bytes:
    """JSON the one way (RFC 8259): keys sorted, no spaces, UTF-8 without escapes but the
    required ones, integers as integers, a float in its shortest round-trip form. orjson
    writes it (43 MB for 40,000 sites in a fraction of a second); it writes what
    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` does,
    which a test checks."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)


def content(rec: Reconciliation, signed_off_at: datetime) -> bytes:
    """The canonical content of a reconciliation signed off at `signed_off_at`."""
    return encode(document(rec, signed_off_at))


def sha256(data: bytes) -> str:
    """The report hash: SHA-256 of the canonical content, 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


# Reading it back (a signed-off conference's reports are printed from what was signed).


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _counts(value: dict[str, int]) -> ByCategory:
    return ByCategory(value["member"], value["non_member"], value["guest"])


def _tally_of(value: dict[str, Any]) -> Tally:
    return Tally(
        _counts(value["expected"]), _counts(value["checked_in"]), _counts(value["walk_ins"]),
        value["sites"],
    )  # fmt: skip


def _headcount_of(moment: str, value: dict[str, Any] | None) -> Headcount | None:
    if value is None:
        return None
    return Headcount(
        value["id"], moment, _when(value["counted_at"]), value["members"],
        value["non_members"], value["guests"], value["note"],
    )  # fmt: skip


def _site_of(v: dict[str, Any]) -> SiteRow:
    heads = v["headcounts"]
    return SiteRow(
        site_code=v["site_code"],
        site_name=v["site_name"],
        unit_code=v["unit_code"],
        level=v["level"],
        capacity=v["capacity"],
        expected=_counts(v["expected"]),
        checked_in=_counts(v["checked_in"]),
        walk_ins=_counts(v["walk_ins"]),
        **{name: v[name] for name in _SITE_COUNTS},
        headcounts=Headcounts(*(_headcount_of(m, heads[m]) for m in MOMENTS)),
        absences=Absences(**v["absences"]),
    )


def _flag_of(v: dict[str, Any]) -> Flag:
    r = v["resolution"]
    resolution = None
    if r is not None:
        resolution = Resolution(r["action"], r["figure"], r["note"], r["by"], _when(r["at"]))
    return Flag(v["kind"], v["site_code"], v["detail"], v["fingerprint"], resolution)


def load(data: bytes, report_sha256: str) -> Reconciliation:
    """A signed reconciliation from its canonical content."""
    doc = orjson.loads(data)
    c = doc["conference"]
    conference = Conference(
        code=c["code"],
        title=c["title"],
        starts_at=_when(c["starts_at"]),
        ends_at=_when(c["ends_at"]),
        checkin_opens_at=_when(c["checkin_opens_at"]),
        timezone=c["timezone"],
        host_site=c["host_site"],
        other_site=c["policy"]["other_site"],
        targets=c["targets"],
    )
    return Reconciliation(
        conference=conference,
        status="signed_off",
        totals=_tally_of(doc["totals"]),
        units=[
            UnitRow(u["unit_code"], u["unit_name"], u["level"], u["parent_code"], _tally_of(u))
            for u in doc["units"]
        ],
        levels=[LevelRow(lv["level"], _tally_of(lv)) for lv in doc["levels"]],
        sites=[_site_of(s) for s in doc["sites"]],
        flags=[_flag_of(f) for f in doc["flags"]],
        signed_off_at=_when(doc["signed_off_at"]),
        report_sha256=report_sha256,
    )
