"""Named SQL for conferences and their delegates."""

from __future__ import annotations

import asyncpg

CONFERENCE_SQL = """
    SELECT c.*, h.code AS host_site
      FROM conferences c
      LEFT JOIN sites h ON h.id = c.host_site_id
"""

DELEGATE_SQL = """
    SELECT d.*, s.code AS site_code, s.name AS site_name, u.code AS unit_code,
           u.name AS unit_name, su.path AS site_unit_path
      FROM delegates d
      JOIN sites s ON s.id = d.site_id
      JOIN units su ON su.id = s.unit_id
      LEFT JOIN units u ON u.id = d.unit_id
"""


async def fetch_conference(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """One conference by code, with its host site's code as `host_site`."""
    return await conn.fetchrow(CONFERENCE_SQL + " WHERE c.code = $1", code)


async def fetch_delegate(
    conn: asyncpg.Connection, conference_id: int, delegate_id: int
) -> asyncpg.Record | None:
    """One delegate of a conference, with site and unit codes and the site's unit path."""
    return await conn.fetchrow(
        DELEGATE_SQL + " WHERE d.conference_id = $1 AND d.id = $2", conference_id, delegate_id
    )
