"""Annulling a mistaken check-in (a badge scanned for the wrong person, a walk-in
entered twice). The scans stay recorded, stamped with the annulment; the counts follow;
the person can check in again. An annulment voids the scans received up to then: a scan
uploaded later (an offline kiosk) counts as usual."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.checkin import timeline
from diemcau.conferences import ensure_writable
from diemcau.errors import Msg, Problem
from diemcau.queries import annulments as q
from diemcau.queries import checkins as qc


def nothing_to_annul() -> Problem:
    return Problem(
        "conflict",
        Msg(
            "Lượt quét này không có gì để hủy", "this scan counts for nothing that can be annulled"
        ),
    )


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có lượt quét này", "no such scan"))


async def annul(
    conn: asyncpg.Connection, caller: Principal, conference: Any, scan_id: UUID, reason: str
) -> dict[str, Any]:
    """Void the check-in a scan counts for; answers what was voided."""
    ensure_writable(conference)
    cid = conference["id"]
    async with conn.transaction():
        scan = await q.fetch_scan(conn, cid, scan_id)
        if scan is None or not caller.covers_unit_path(scan["site_unit_path"]):
            raise not_found()
        if scan["annulment_id"] is not None or scan["result"] not in ("accepted", "duplicate"):
            raise nothing_to_annul()
        change: timeline.Tallies = {}
        if scan["method"] == "walk_in":
            if scan["result"] != "accepted":
                raise nothing_to_annul()
            timeline.bump(change, scan["site_id"], f"walk_ins_{scan['category']}", -1)
            timeline.bump(change, scan["site_id"], "present", -1)
            voided = [scan_id]
        else:
            voided = await _void_attendance(conn, cid, scan["delegate_id"], change)
        annulment = await q.insert_annulment(
            conn, cid, scan_id, scan["delegate_id"], reason, caller
        )
        await q.stamp_scans(conn, cid, voided, annulment)
        sites = sorted(change)
        await qc.add_tallies(conn, cid, sites, [change[s] for s in sites], [None] * len(sites))
        after = {"reason": reason, "voided": [str(v) for v in voided]}
        await audit.record(conn, caller, "annul", "checkin", str(scan_id), None, after)
    return {
        "annulment_id": annulment,
        "scan_id": str(scan_id),
        "delegate_id": scan["delegate_id"],
        "voided": [str(v) for v in voided],
        "reason": reason,
    }


async def _void_attendance(
    conn: asyncpg.Connection, conference_id: int, delegate_id: int, change: timeline.Tallies
) -> list[UUID]:
    """Remove the delegate's attendance (locked), taking its counts off the tallies."""
    row = await q.lock_attendance(conn, conference_id, delegate_id)
    if row is None:
        raise nothing_to_annul()
    entries = timeline.unpack(row["timeline"])
    timeline.contribute(change, entries, row["home_site_id"], row["category"], -1)
    await q.delete_attendance(conn, conference_id, delegate_id)
    return [UUID(bytes=e.scan_id) for e in entries]
