"""A stored scan as the answer the kiosk gets (DESIGN, Contract: result).

New scans and retries are answered by the same function from the stored row, so a
retry gets exactly the first answer: the result and flags stored then, and for a
duplicate the first entry it named then (not the one that counts now).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from diemcau.checkin import messages
from diemcau.checkin.rules import Window
from diemcau.errors import Msg
from diemcau.queries import checkins as q


class CheckinRow(NamedTuple):
    """A `checkins` row, in queries.checkins.CHECKIN_COLUMNS order."""

    scan_id: UUID
    site_id: int
    kiosk_id: int | None
    delegate_id: int | None
    method: str
    direction: str
    scanned_at: datetime
    judged_at: datetime
    received_at: datetime
    result: str
    reason: str | None
    moved: bool
    reentry: bool
    skewed: bool
    first_scanned_at: datetime | None
    first_site_id: int | None
    full_name: str | None
    category: str | None
    qr: str | None
    content_digest: bytes


assert CheckinRow._fields == q.CHECKIN_COLUMNS

# Site codes never change (a code is a site's name in every path), so each worker keeps
# the ones it has met.
_SITE_CODES: dict[int, str] = {}


def brief(person: Mapping[str, Any]) -> dict[str, Any]:
    """The delegate as the door sees them."""
    return {
        "id": person["id"],
        "full_name": person["full_name"],
        "category": person["category"],
        "unit_code": person["unit_code"],
        "unit_name": person["unit_name"],
        "site_code": person["site_code"],
        "site_name": person["site_name"],
    }


@functools.lru_cache(maxsize=4096)
def _message(text: Msg) -> dict[str, str]:
    """The answer's `message` (the same few texts answer most scans: made once each)."""
    return {"vi": text.vi, "en": text.en}


class Renderer:
    def __init__(self, zone: ZoneInfo, window: Window, delegates: Mapping[Any, Any]) -> None:
        self.zone = zone
        self.window = window
        self.delegates = delegates

    async def load_sites(self, conn: asyncpg.Connection, rows: list[CheckinRow]) -> None:
        """Learn the codes of the sites these answers name."""
        missing = {r.first_site_id for r in rows if r.first_site_id is not None} - set(_SITE_CODES)
        if missing:
            _SITE_CODES.update(await q.fetch_site_codes(conn, sorted(missing)))

    def result(self, row: CheckinRow) -> dict[str, Any]:
        person = self.delegates.get(row.delegate_id) if row.delegate_id is not None else None
        first = None
        if row.first_scanned_at is not None and row.first_site_id is not None:
            first = (row.first_scanned_at, _SITE_CODES.get(row.first_site_id, ""))
        text = messages.message(
            row.result,
            row.reason,
            zone=self.zone,
            moved=row.moved,
            first=first,
            home_site=person["site_code"] if person is not None else None,
            opens_at=self.window.opens_at,
        )
        out: dict[str, Any] = {
            "scan_id": str(row.scan_id),
            "result": row.result,
            "direction": row.direction,
            "moved": row.moved,
            "reentry": row.reentry,
            "skewed": row.skewed,
            "delegate": brief(person) if person is not None else None,
            "first": None,
            "message": _message(text),
        }
        if first is not None:
            out["first"] = {
                "scanned_at": first[0].astimezone(self.zone).isoformat(),
                "site_code": first[1],
            }
        if row.direction == "out" and row.result in ("accepted", "duplicate"):
            out["checked_in"] = row.reason != "no_entry"
        if row.method == "walk_in":
            out["walk_in"] = {"full_name": row.full_name, "category": row.category}
        return out
