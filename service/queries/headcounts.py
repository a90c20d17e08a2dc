"""Named SQL for headcounts: a new record, one by its client id, a site's history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

HEADCOUNT_SQL = """
    SELECT h.id, h.client_id, s.code AS site_code, h.moment, h.counted_at, h.members,
           h.non_members, h.guests, h.note, h.actor, h.recorded_at, h.conference_id,
           h.site_id
      FROM headcounts h JOIN sites s ON s.id = h.site_id
"""


async def insert_headcount(conn: asyncpg.Connection, values: dict[str, Any]) -> int | None:
    """The new record's id; None when its client id is already stored (a replay)."""
    return await conn.fetchval(
        """INSERT INTO headcounts (conference_id, site_id, moment, counted_at, members,
                                   non_members, guests, note, client_id, token_id, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (client_id) DO NOTHING RETURNING id""",
        values["conference_id"],
        values["site_id"],
        values["moment"],
        values["counted_at"],
        values["members"],
        values["non_members"],
        values["guests"],
        values["note"],
        values["client_id"],
        values["token_id"],
        values["actor"],
    )


async def fetch_headcount(conn: asyncpg.Connection, headcount_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(HEADCOUNT_SQL + " WHERE h.id = $1", headcount_id)


async def fetch_by_client_id(conn: asyncpg.Connection, client_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(HEADCOUNT_SQL + " WHERE h.client_id = $1", client_id)


async def fetch_history(
    conn: asyncpg.Connection,
    conference_id: int,
    site_id: int,
    moment: str | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A site's headcounts, latest recorded first (corrections included)."""
    return await conn.fetch(
        HEADCOUNT_SQL
        + """ WHERE h.conference_id = $1 AND h.site_id = $2
                AND ($3::text IS NULL OR h.moment = $3)
                AND ($4::bigint IS NULL OR h.id < $4)
              ORDER BY h.id DESC LIMIT $5""",
        conference_id,
        site_id,
        moment,
        before_id,
        limit,
    )
