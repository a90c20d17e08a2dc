"""Losing PostgreSQL in the middle of a request answers 503, never 500, and the next
request works again on a fresh connection.

Done for real: a request waits on a row lock held by the test, its backend is ended with
pg_terminate_backend (what a failover or a restart of the server does to it), and the
answer is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from diemcau.db import connect
from tests.factory import Factory
from tests.problems import assert_problem


async def _waiting_backend(db: asyncpg.Connection, holder: int) -> int:
    """The pid of the backend that waits on a lock held by `holder`."""
    for _ in range(200):
        pid = await db.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.02)
    raise AssertionError("no request ever waited on the lock")


async def test_a_backend_ended_mid_request_answers_503(
    client: Any, factory: Factory, db: asyncpg.Connection, database_url: str, organiser: dict
) -> None:
    await factory.unit("VN", level="national")
    await factory.conference("HN")
    holder = await connect(database_url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM conferences WHERE code = 'HN' FOR UPDATE")
            request = asyncio.ensure_future(
                client.patch("/api/v1/conferences/HN", json={"title": "Mới"}, headers=organiser)
            )
            victim = await _waiting_backend(db, holder.get_server_pid())
            assert await db.fetchval("SELECT pg_terminate_backend($1)", victim)
            resp = await request
            await assert_problem(resp, 503, "service_unavailable")
    finally:
        await holder.close()
    resp = await client.patch("/api/v1/conferences/HN", json={"title": "Mới"}, headers=organiser)
    assert resp.status == 200, await resp.text()
