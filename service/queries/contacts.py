"""Named SQL for kiosks' contact spells (diemcau.checkin.contact)."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def write_contacts(
    conn: asyncpg.Connection, rows: list[tuple[int, datetime, datetime]]
) -> None:
    """Record spells (token id, from, until), each growing the row that began with it
    (of kiosks that exist: the table has no foreign key). Rows come sorted by key, so
    two workers writing at once lock in the same order."""
    await conn.execute(
        """INSERT INTO kiosk_contacts AS c (token_id, contact_from, contact_until)
           SELECT w.token_id, w.contact_from, w.contact_until
             FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[])
                           WITH ORDINALITY AS w(token_id, contact_from, contact_until, n)
             JOIN kiosks k ON k.token_id = w.token_id
            ORDER BY w.n
           ON CONFLICT (token_id, contact_from) DO UPDATE
              SET contact_until = greatest(c.contact_until, EXCLUDED.contact_until)""",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def fetch_contacts(
    conn: asyncpg.Connection, token_ids: list[int], since: datetime
) -> list[asyncpg.Record]:
    """These kiosks' spells that lasted until `since` or later (on the primary key)."""
    return await conn.fetch(
        """SELECT token_id, contact_from, contact_until FROM kiosk_contacts
            WHERE token_id = ANY($1::bigint[]) AND contact_until >= $2""",
        token_ids,
        since,
    )
