"""Named SQL for bridge points (sites) and their link tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from diemcau.queries.units import Where, subtree_pattern

# Every column a registration or an update writes (status moves by its own rules).
WRITABLE = (
    "name",
    "unit_id",
    "level",
    "address",
    "capacity",
    "technician_name",
    "technician_phone",
    "endpoint_protocol",
    "endpoint_uri",
    "endpoint_provider",
    "search_text",
)

_LAST_TEST = """
    LEFT JOIN LATERAL (
        SELECT lt.kind, lt.passed, lt.rtt_ms, lt.jitter_ms, lt.loss_pct, lt.audio_ok,
               lt.video_ok, lt.tested_at
          FROM link_tests lt
         WHERE lt.site_id = s.id
         ORDER BY lt.tested_at DESC, lt.id DESC
         LIMIT 1) t ON true
"""

SITE_SQL = (
    """
    SELECT s.*, u.code AS unit_code, u.name AS unit_name, u.path AS unit_path,
           CASE WHEN t.kind IS NULL THEN NULL ELSE to_jsonb(t) END AS last_test
      FROM sites s
      JOIN units u ON u.id = s.unit_id
"""
    + _LAST_TEST
)


async def fetch_site(
    conn: asyncpg.Connection, code: str, *, for_update: bool = False
) -> asyncpg.Record | None:
    """One site by code, with its unit's code, name and path and its latest link test."""
    if for_update:
        # Lock first (plain row lock on sites), then read the joined view.
        await conn.execute("SELECT 1 FROM sites WHERE code = $1 FOR UPDATE", code)
    return await conn.fetchrow(SITE_SQL + " WHERE s.code = $1", code)


async def fetch_sites_by_code(conn: asyncpg.Connection, codes: list[str]) -> list[asyncpg.Record]:
    """The sites among these codes, with their unit's path (for the scope of a write)."""
    return await conn.fetch(
        """SELECT s.id, s.code, u.path AS unit_path
             FROM sites s JOIN units u ON u.id = s.unit_id
            WHERE s.code = ANY($1::text[])""",
        codes,
    )


async def fetch_sites(
    conn: asyncpg.Connection,
    *,
    scope_path: str | None,
    unit_path: str | None = None,
    status: str | None = None,
    level: str | None = None,
    patterns: Sequence[str] = (),
    after: str | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """A page of sites in code order (keyset on code), every filter AND-ed."""
    where = Where()
    for path in (scope_path, unit_path):
        if path:
            where.add("u.path LIKE {}", subtree_pattern(path))
    if status:
        where.add("s.status = {}", status)
    if level:
        where.add("s.level = {}", level)
    for pattern in patterns:
        where.add("s.search_text LIKE {}", pattern)
    if after is not None:
        where.add("s.code > {}", after)
    sql = SITE_SQL + where.sql() + f" ORDER BY s.code LIMIT {where.param(limit)}"
    return await conn.fetch(sql, *where.args)


async def insert_site(conn: asyncpg.Connection, code: str, values: dict[str, Any]) -> int:
    """A new site; `sites_code_key` answers a duplicate code."""
    cols = ", ".join(WRITABLE)
    params = ", ".join(f"${i}" for i in range(2, len(WRITABLE) + 2))
    return await conn.fetchval(
        f"INSERT INTO sites (code, {cols}) VALUES ($1, {params}) RETURNING id",
        code,
        *(values[c] for c in WRITABLE),
    )


async def update_site(
    conn: asyncpg.Connection, site_id: int, values: dict[str, Any], status: str
) -> None:
    """Rewrite the writable columns (and the status, kept or reset by the caller)."""
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(WRITABLE, start=3))
    await conn.execute(
        f"""UPDATE sites SET {sets}, updated_at = now(), status = $2,
                   status_at = CASE WHEN status = $2 THEN status_at ELSE now() END
             WHERE id = $1""",
        site_id,
        status,
        *(values[c] for c in WRITABLE),
    )


async def set_status(conn: asyncpg.Connection, site_id: int, status: str) -> None:
    """Move a site to `status`, stamping when."""
    await conn.execute(
        "UPDATE sites SET status = $2, status_at = now(), updated_at = now() WHERE id = $1",
        site_id,
        status,
    )


async def insert_link_test(
    conn: asyncpg.Connection, site_id: int, values: dict[str, Any], token_id: int | None
) -> asyncpg.Record:
    """Record one link test or rehearsal."""
    return await conn.fetchrow(
        """INSERT INTO link_tests (site_id, kind, rtt_ms, jitter_ms, loss_pct, audio_ok,
                                   video_ok, passed, note, tested_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           RETURNING id, tested_at""",
        site_id,
        values["kind"],
        values["rtt_ms"],
        values["jitter_ms"],
        values["loss_pct"],
        values["audio_ok"],
        values["video_ok"],
        values["passed"],
        values["note"],
        token_id,
    )


LINK_TEST_SQL = """
    SELECT lt.id, lt.kind, lt.rtt_ms, lt.jitter_ms, lt.loss_pct, lt.audio_ok, lt.video_ok,
           lt.passed, lt.note, lt.tested_at,
           CASE WHEN tk.id IS NULL THEN NULL
                ELSE btrim(tk.role || '#' || tk.id || ' ' || tk.label) END AS tested_by
      FROM link_tests lt
      LEFT JOIN tokens tk ON tk.id = lt.tested_by
"""


async def fetch_link_test(conn: asyncpg.Connection, test_id: int) -> asyncpg.Record:
    return await conn.fetchrow(LINK_TEST_SQL + " WHERE lt.id = $1", test_id)


async def fetch_link_tests(
    conn: asyncpg.Connection, site_id: int, before_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """A site's tests, newest first (keyset on id, which grows with time)."""
    return await conn.fetch(
        LINK_TEST_SQL + " WHERE lt.site_id = $1 AND ($2::bigint IS NULL OR lt.id < $2)"
        " ORDER BY lt.id DESC LIMIT $3",
        site_id,
        before_id,
        limit,
    )


async def fetch_not_ready(conn: asyncpg.Connection, path: str, limit: int) -> list[asyncpg.Record]:
    """Sites under `path` still `registered` or `tested`, in code order."""
    return await conn.fetch(
        SITE_SQL + " WHERE u.path LIKE $1 AND s.status IN ('registered', 'tested')"
        " ORDER BY s.code LIMIT $2",
        subtree_pattern(path),
        limit,
    )
