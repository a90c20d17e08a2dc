"""Named SQL for the digests of the codes the service issued."""

from __future__ import annotations

from typing import Any

import asyncpg


async def insert_issued_codes(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Digests of codes made, or found genuine by their signature: their next scan is a
    digest compare."""
    await conn.execute(
        """INSERT INTO issued_codes (delegate_id, version, kid, digest)
           SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bytea[])
           ON CONFLICT DO NOTHING""",
        *[[row[i] for row in rows] for i in range(4)],
    )
