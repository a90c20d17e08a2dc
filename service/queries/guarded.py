"""Named SQL for the brute-force guards' tries (diemcau.ratelimit.FailureGuard)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg


async def lock_client(conn: asyncpg.Connection, guard: str, client: str) -> None:
    """Serialise one client's tries at one guard until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('guarded_tries'), hashtext($1 || ' ' || $2))",
        guard,
        client,
    )


async def sweep_tries(conn: asyncpg.Connection, guard: str, window: timedelta) -> None:
    """Forget the guard's tries older than its window, whoever made them."""
    await conn.execute(
        "DELETE FROM guarded_tries WHERE guard = $1 AND tried_at < now() - $2::interval",
        guard,
        window,
    )


async def fetch_recent_tries(
    conn: asyncpg.Connection, guard: str, client: str, window: timedelta
) -> tuple[int, datetime | None, datetime]:
    """How many tries the client made within `window`, the oldest of them, and now."""
    row = await conn.fetchrow(
        """SELECT count(*) AS tries, min(tried_at) AS oldest, now() AS now
             FROM guarded_tries
            WHERE guard = $1 AND client = $2 AND tried_at >= now() - $3::interval""",
        guard,
        client,
        window,
    )
    return row["tries"], row["oldest"], row["now"]


async def insert_try(conn: asyncpg.Connection, guard: str, client: str) -> int:
    return await conn.fetchval(
        "INSERT INTO guarded_tries (guard, client) VALUES ($1, $2) RETURNING id", guard, client
    )


async def delete_try(conn: asyncpg.Connection, try_id: int) -> None:
    await conn.execute("DELETE FROM guarded_tries WHERE id = $1", try_id)
