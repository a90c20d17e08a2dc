"""Annulling a mistaken check-in (a badge scanned for the wrong person, a walk-in
entered twice). The scans stay recorded, stamped with the annulment; the counts follow;
the person can check in again. An annulment voids the scans received up to then: a scan
uploaded later (an offline kiosk) counts as usual.

What an annulment voids, and who may make it (DESIGN, Rules):
- an accepted scan of a delegate: the check-in it counts for, that is every valid scan
  of the delegate received so far;
- an accepted walk-in: that walk-in;
- a refused or duplicate scan: that scan alone (a duplicate also leaves the delegate's
  timeline, and the counts follow what remains).
The caller's scope must cover the scan's site (else 404, as for a scan that does not
exist) and the site the delegate is counted at (else 403): a technician of one province
never voids a check-in counted in another.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.checkin import timeline
from diemcau.checkin.records import State
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


def already_annulled() -> Problem:
    return Problem("conflict", Msg("Lượt quét này đã được hủy", "this scan was annulled already"))


def counted_elsewhere() -> Problem:
    return Problem(
        "forbidden",
        Msg(
            "Đại biểu được tính tại một điểm cầu ngoài phạm vi của bạn",
            "the delegate is counted at a site outside your scope",
        ),
    )


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có lượt quét này", "no such scan"))


async def annul(
    conn: asyncpg.Connection, caller: Principal, conference: Any, scan_id: UUID, reason: str
) -> dict[str, Any]:
    """Void what a scan counts for (see above); answers what was voided."""
    ensure_writable(conference)
    cid = conference["id"]
    async with conn.transaction():
        scan = await q.fetch_scan(conn, cid, scan_id)
        if scan is None or not caller.covers_unit_path(scan["site_unit_path"]):
            raise not_found()
        if scan["annulment_id"] is not None:
            raise already_annulled()
        change: timeline.Tallies = {}
        if scan["delegate_id"] is None:  # a walk-in, or a code naming nobody
            if scan["method"] == "walk_in" and scan["result"] == "accepted":
                timeline.bump(change, scan["site_id"], f"walk_ins_{scan['category']}", -1)
                timeline.bump(change, scan["site_id"], "present", -1)
            voided = [scan_id]
        else:
            voided = await _void_delegate_scan(conn, caller, cid, scan, change)
        annulment = await q.insert_annulment(
            conn, cid, scan_id, scan["delegate_id"], reason, caller
        )
        await q.stamp_scans(conn, cid, voided, annulment)
        sites = sorted(s for s, values in change.items() if any(values))
        if sites:
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


async def _void_delegate_scan(
    conn: asyncpg.Connection,
    caller: Principal,
    conference_id: int,
    scan: Any,
    change: timeline.Tallies,
) -> list[UUID]:
    """Void the delegate's check-in (an accepted scan) or this scan alone (any other),
    within the caller's scope; the attendance row is locked as check-in locks it."""
    delegate_id = scan["delegate_id"]
    held = await q.lock_attendance(conn, conference_id, delegate_id)
    counted_at = held["site_unit_path"] if held is not None else None
    if counted_at is not None and not caller.covers_unit_path(counted_at):
        raise counted_elsewhere()
    if scan["result"] == "accepted":
        if held is None:
            raise nothing_to_annul()
        entries = timeline.unpack(held["timeline"])
        timeline.contribute(change, entries, held["home_site_id"], held["category"], -1)
        await q.delete_attendance(conn, conference_id, delegate_id)
        return [UUID(bytes=e.scan_id) for e in entries]
    if held is not None:
        await _leave_timeline(conn, conference_id, delegate_id, held, scan["scan_id"], change)
    return [scan["scan_id"]]


async def _leave_timeline(
    conn: asyncpg.Connection,
    conference_id: int,
    delegate_id: int,
    held: Any,
    scan_id: UUID,
    change: timeline.Tallies,
) -> None:
    """Take one scan out of the delegate's timeline (if it is there); the counts follow."""
    entries = timeline.unpack(held["timeline"])
    left = [e for e in entries if e.scan_id != scan_id.bytes]
    if len(left) == len(entries):
        return
    home, category = held["home_site_id"], held["category"]
    timeline.contribute(change, entries, home, category, -1)
    timeline.contribute(change, left, home, category)
    if not left:
        await q.delete_attendance(conn, conference_id, delegate_id)
        return
    state = State(category, home, entries, left, True)
    await qc.update_attendances(conn, conference_id, [state.row(delegate_id)])
