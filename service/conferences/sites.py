"""The sites that take part in a conference: naming them, the host among them, replacing
the set. The host site always takes part: naming it adds it to the participating sites.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences.access import ensure_writable, reload
from diemcau.errors import Msg, Problem, field_error, validation_failed
from diemcau.queries import conferences as q


async def site_ids(conn: asyncpg.Connection, codes: list[str], field: str) -> dict[str, int]:
    """{code: id} for these site codes; 422 listing each unknown one as `field.N`."""
    rows = await conn.fetch("SELECT code, id FROM sites WHERE code = ANY($1::text[])", codes)
    found = {r["code"]: r["id"] for r in rows}
    errors = [
        field_error(f"{field}.{i}", Msg(f"Không có điểm cầu {c}", f"no site {c!r}"))
        for i, c in enumerate(codes)
        if c not in found
    ]
    if errors:
        raise Problem(
            "validation_failed", Msg("Có mã điểm cầu không tồn tại", "unknown sites"), errors=errors
        )
    return found


async def host_site_id(conn: asyncpg.Connection, code: str | None) -> int | None:
    if code is None:
        return None
    found = await conn.fetchval("SELECT id FROM sites WHERE code = $1", code)
    if found is None:
        raise validation_failed("host_site", Msg("Không có điểm cầu này", f"no site {code!r}"))
    return found


async def add_sites(conn: asyncpg.Connection, conference_id: int, site_ids: list[int]) -> None:
    await conn.execute(
        """INSERT INTO conference_sites (conference_id, site_id)
           SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING""",
        conference_id,
        site_ids,
    )


async def _sites_with_delegates(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT s.code, count(*) AS delegates FROM delegates d JOIN sites s ON s.id = d.site_id
            WHERE d.conference_id = $1 AND d.site_id = ANY($2::bigint[])
            GROUP BY s.code ORDER BY s.code""",
        conference_id,
        site_ids,
    )


def _sites_in_use(rows: list[asyncpg.Record]) -> Problem:
    names = ", ".join(f"{r['code']} ({r['delegates']})" for r in rows)
    return Problem(
        "conflict",
        Msg(
            f"Không thể bỏ điểm cầu còn đại biểu: {names}; hãy chuyển đại biểu đi trước",
            f"cannot remove sites that still have delegates: {names}; move them first",
        ),
        errors=[
            field_error(
                "sites",
                Msg(
                    f"Điểm cầu {r['code']} còn {r['delegates']} đại biểu",
                    f"site {r['code']} still has {r['delegates']} delegates",
                ),
                site=r["code"],
            )
            for r in rows
        ],
    )


async def set_sites(
    conn: asyncpg.Connection, principal: Principal, conference: Any, codes: list[str]
) -> list[asyncpg.Record]:
    """Replace the participating sites (the host site always stays); answer the new list."""
    codes = list(dict.fromkeys(codes))
    async with conn.transaction():
        row = await reload(conn, conference["id"], lock=True)
        ensure_writable(row)
        wanted = set((await site_ids(conn, codes, "sites")).values())
        if row["host_site_id"] is not None:
            wanted.add(row["host_site_id"])
        current = {
            r["site_id"]
            for r in await conn.fetch(
                "SELECT site_id FROM conference_sites WHERE conference_id = $1", row["id"]
            )
        }
        removed = sorted(current - wanted)
        in_use = await _sites_with_delegates(conn, row["id"], removed) if removed else []
        if in_use:
            raise _sites_in_use(in_use)
        before = [r["code"] for r in await q.fetch_conference_sites(conn, row["id"])]
        await conn.execute(
            "DELETE FROM conference_sites WHERE conference_id = $1 AND site_id = ANY($2::bigint[])",
            row["id"],
            removed,
        )
        await add_sites(conn, row["id"], sorted(wanted - current))
        after = await q.fetch_conference_sites(conn, row["id"])
        await audit.record(
            conn,
            principal,
            "set_sites",
            "conference",
            row["code"],
            {"sites": before},
            {"sites": [r["code"] for r in after]},
        )
    return after
