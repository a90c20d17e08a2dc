"""Who may see a conference, reading it back (and its contract shape), and the lock of a
signed-off one."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from diemcau.auth import Principal
from diemcau.errors import Msg, Problem
from diemcau.queries import conferences as q


def not_found() -> Problem:
    return Problem("not_found", Msg("Không có hội nghị này", "no such conference"))


def visible_to(principal: Principal, conference: asyncpg.Record) -> bool:
    """Whether the caller may see this conference at all (else it answers 404).

    Tokens bound to one conference (kiosk, viewer) see that one; an organiser limited to
    a unit subtree sees the conferences owned by a unit of that subtree.
    """
    if not principal.covers_conference(conference["id"]):
        return False
    if principal.role == "organiser" and principal.unit_path is not None:
        path = conference["unit_path"]
        return path is not None and path.startswith(principal.unit_path)
    return True


async def may_see(conn: asyncpg.Connection, principal: Principal, conference: Any) -> bool:
    """`visible_to`, and for a technician: the conference includes a site of their subtree
    (else it answers 404, as one that does not exist)."""
    if not visible_to(principal, conference):
        return False
    if principal.role == "technician" and principal.unit_path is not None:
        return await q.has_site_under(conn, conference["id"], principal.unit_path)
    return True


async def may_read_part(conn: asyncpg.Connection, principal: Principal, conference: Any) -> bool:
    """Whether an organiser may read the conference's figures for their subtree: a
    conference they see, or one (a national one, say) that takes in a site of their
    subtree. What they read is then limited to that subtree."""
    if principal.role != "organiser":
        return False
    if await may_see(conn, principal, conference):
        return True
    return principal.unit_path is not None and await q.has_site_under(
        conn, conference["id"], principal.unit_path
    )


async def reload(conn: asyncpg.Connection, conference_id: int, *, lock: bool = False) -> Any:
    """The conference as of now (locked for this transaction with `lock`), or 404."""
    row = await q.fetch_conference_by_id(conn, conference_id, lock=lock)
    if row is None:
        raise not_found()
    return row


async def hold_writable(conn: asyncpg.Connection, conference_id: int) -> Any:
    """The conference as of now, held for this transaction against a sign-off (FOR
    SHARE: small writers go side by side; a sign-off waits for them, and they for it);
    409 `locked` once signed off, 404 when gone."""
    row = await q.fetch_conference_by_id(conn, conference_id, share=True)
    if row is None:
        raise not_found()
    ensure_writable(row)
    return row


def ensure_writable(conference: Any) -> None:
    """A signed-off conference is locked: every write answers 409 `locked`."""
    if conference["status"] == "signed_off" or conference["signed_off_at"] is not None:
        raise Problem(
            "locked",
            Msg(
                "Hội nghị đã khóa sổ, không thể thay đổi",
                "the conference is signed off; nothing can change",
            ),
        )


def schedule_out(row: Any) -> dict[str, Any]:
    """Code, title, schedule, status and policy, times with the conference's offset."""
    zone = ZoneInfo(row["timezone"])
    return {
        "code": row["code"],
        "title": row["title"],
        "starts_at": row["starts_at"].astimezone(zone),
        "ends_at": row["ends_at"].astimezone(zone),
        "checkin_opens_at": row["checkin_opens_at"].astimezone(zone),
        "timezone": row["timezone"],
        "status": row["status"],
        "policy": {"other_site": row["policy_other_site"]},
    }


def conference_out(row: Any, counts: Any = None) -> dict[str, Any]:
    """The contract shape; times shown with their offset in the conference's zone."""
    zone = ZoneInfo(row["timezone"])
    out = {
        **schedule_out(row),
        "host_site": row["host_site"],
        "targets": row["targets"],
        "unit_code": row["unit_code"],
        "signed_off_at": row["signed_off_at"] and row["signed_off_at"].astimezone(zone),
        "created_at": row["created_at"].astimezone(zone),
        "updated_at": row["updated_at"].astimezone(zone),
    }
    if counts is not None:
        out["sites_count"] = counts["sites"]
        out["delegates_count"] = counts["delegates"]
    return out
