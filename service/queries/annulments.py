"""Named SQL for annulling check-ins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from diemcau.auth import Principal


async def fetch_scan(conn: asyncpg.Connection, conference_id: int, scan_id: UUID) -> Any:
    """One stored scan with its site's unit path (for the caller's scope)."""
    return await conn.fetchrow(
        """SELECT c.scan_id, c.site_id, c.delegate_id, c.method, c.result, c.category,
                  c.annulment_id, u.path AS site_unit_path
             FROM checkins c
             JOIN sites s ON s.id = c.site_id
             JOIN units u ON u.id = s.unit_id
            WHERE c.scan_id = $2 AND c.conference_id = $1""",
        conference_id,
        scan_id,
    )


async def insert_annulment(
    conn: asyncpg.Connection,
    conference_id: int,
    scan_id: UUID,
    delegate_id: int | None,
    reason: str,
    caller: Principal,
) -> int:
    return await conn.fetchval(
        """INSERT INTO annulments (conference_id, scan_id, delegate_id, reason, token_id, actor)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        conference_id,
        scan_id,
        delegate_id,
        reason,
        caller.token_id,
        caller.actor,
    )


async def stamp_scans(
    conn: asyncpg.Connection, conference_id: int, scan_ids: list[UUID], annulment_id: int
) -> None:
    await conn.execute(
        """UPDATE checkins c SET annulment_id = $3
             FROM unnest($2::uuid[]) AS w(scan_id)
            WHERE c.scan_id = w.scan_id AND c.conference_id = $1""",
        conference_id,
        scan_ids,
        annulment_id,
    )


async def lock_attendance(conn: asyncpg.Connection, conference_id: int, delegate_id: int) -> Any:
    """A delegate's attendance row, locked (check-in batches lock it the same way), with
    the unit path of the site they are counted at (null: counted nowhere)."""
    return await conn.fetchrow(
        """SELECT a.category, a.home_site_id, a.timeline, u.path AS site_unit_path
             FROM attendances a
             LEFT JOIN sites s ON s.id = a.site_id
             LEFT JOIN units u ON u.id = s.unit_id
            WHERE a.delegate_id = $2 AND a.conference_id = $1 FOR UPDATE OF a""",
        conference_id,
        delegate_id,
    )


async def delete_attendance(conn: asyncpg.Connection, conference_id: int, delegate_id: int) -> None:
    await conn.execute(
        "DELETE FROM attendances WHERE delegate_id = $2 AND conference_id = $1",
        conference_id,
        delegate_id,
    )
