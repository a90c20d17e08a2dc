"""Where a check-in batch's database time goes: every statement of `ingest`, explained.

The bench's world (bench/checkin.py --explain) is given one batch through the service's
own `ingest`, on a connection that first runs each statement under
EXPLAIN (ANALYZE, BUFFERS) inside a savepoint it rolls back, then runs it for real and
times it. COPY cannot be explained: it is timed. Two shapes of batch are explained: one
job of `batch` scans (a websocket batch) and `batch` jobs of one scan each (single-scan
requests gathered by group commit). Nothing here is a figure of the bench: EXPLAIN
ANALYZE costs time of its own. The output is a text file in bench/results/.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from bench.checkin_world import Scan
from diemcau import auth
from diemcau.checkin.ingest import ingest
from diemcau.checkin.model import ScanIn
from diemcau.checkin.records import Job, Kiosk
from diemcau.db import _init_connection


class ExplainingConnection(asyncpg.Connection):
    """A connection that writes down the plan and time of every statement it runs."""

    notes: list[str]
    explaining = False  # not while the connection sets itself up

    async def _explained(self, method: str, query: str, *args: Any) -> Any:
        if not self.explaining:
            return await getattr(super(), method)(query, *args)
        if query.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH")):
            savepoint = self.transaction()
            await savepoint.start()
            plan = await super().fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
            await savepoint.rollback()
            self.notes.append(" ".join(query.split())[:300])
            self.notes += ["    " + r[0] for r in plan]
        started = time.perf_counter()
        result = await getattr(super(), method)(query, *args)
        self.notes.append(
            f"    -- run again for real: {1000 * (time.perf_counter() - started):.2f} ms\n"
        )
        return result

    async def fetch(self, query: str, *args: Any, **kw: Any) -> Any:
        return await self._explained("fetch", query, *args)

    async def fetchrow(self, query: str, *args: Any, **kw: Any) -> Any:
        return await self._explained("fetchrow", query, *args)

    async def fetchval(self, query: str, *args: Any, **kw: Any) -> Any:
        return await self._explained("fetchval", query, *args)

    async def execute(self, query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            return await super().execute(query)
        return await self._explained("execute", query, *args)

    async def copy_records_to_table(self, table: str, **kw: Any) -> Any:
        started = time.perf_counter()
        result = await super().copy_records_to_table(table, **kw)
        ms = 1000 * (time.perf_counter() - started)
        self.notes.append(f"COPY {table} ({len(kw['records'])} rows): {ms:.2f} ms\n")
        return result


async def _kiosk(conn: asyncpg.Connection, token: str) -> Kiosk:
    row = await conn.fetchrow(
        "SELECT id, conference_id, site_id FROM tokens WHERE token_hash = $1",
        auth.hash_secret(token),
    )
    return Kiosk(row["id"], row["conference_id"], row["site_id"])


async def _explain(conn: ExplainingConnection, jobs: list[Job], title: str) -> list[str]:
    conn.notes, conn.explaining = [f"=== {title}"], True
    started = time.perf_counter()
    outcomes = await ingest(conn, jobs[0].kiosk.conference_id, jobs)
    accepted = sum(r["result"] == "accepted" for o in outcomes if isinstance(o, list) for r in o)
    conn.notes.append(
        f"=== {title}: {accepted} accepted, {1000 * (time.perf_counter() - started):.1f} ms "
        "in all with the EXPLAINs\n"
    )
    return conn.notes


async def explain(dsn: str, scans: list[Scan], batch: int) -> str:
    """Explain one job of `batch` scans, then `batch` jobs of one scan (fresh delegates)."""
    conn = await asyncpg.connect(dsn, connection_class=ExplainingConnection)
    await _init_connection(conn)
    try:
        one = [
            Job(await _kiosk(conn, s.token), [ScanIn.model_validate_json(s.body)])
            for s in scans[: 2 * batch]
        ]
        ws = [Job(one[0].kiosk, [s for j in one[:batch] for s in j.scans])]
        notes = await _explain(conn, ws, f"one job of {batch} scans (a websocket batch)")
        notes += await _explain(conn, one[batch:], f"{batch} jobs of one scan (group commit)")
        return "\n".join(notes)
    finally:
        await conn.close()
