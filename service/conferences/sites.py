"""The sites that take part in a conference: naming them, the host among them, replacing
the set. The host site always takes part: naming it adds it to the participating sites.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences.access import ensure_writable, reload
from diemcau.errors import Msg, Problem, field_error
from diemcau.queries import conferences as q
from diemcau.queries import sites as qs


def _outside_scope(fields: list[str]) -> Problem:
    return Problem(
        "forbidden",
        Msg("Điểm cầu ngoài phạm vi của mã truy cập", "a site outside your scope"),
        errors=[field_error(f, Msg("Ngoài phạm vi", "outside your scope")) for f in fields],
    )


async def site_ids(
    conn: asyncpg.Connection,
    principal: Principal,
    codes: list[str],
    fields: list[str],
    *,
    kept: frozenset[int] = frozenset(),
) -> dict[str, int]:
    """{code: id} for sites a write names (`fields[i]` names `codes[i]` in errors).

    422 for each unknown code; 403 for each site outside the caller's subtree, unless it
    is already `kept` (an unscoped organiser may have added it: keeping it is no change).
    """
    rows = await qs.fetch_sites_by_code(conn, codes)
    found = {r["code"]: r for r in rows}
    errors = [
        field_error(f, Msg(f"Không có điểm cầu {c}", f"no site {c!r}"))
        for c, f in zip(codes, fields, strict=True)
        if c not in found
    ]
    if errors:
        raise Problem(
            "validation_failed", Msg("Có mã điểm cầu không tồn tại", "unknown sites"), errors=errors
        )
    outside = [
        f
        for c, f in zip(codes, fields, strict=True)
        if found[c]["id"] not in kept and not principal.covers_unit_path(found[c]["unit_path"])
    ]
    if outside:
        raise _outside_scope(outside)
    return {c: found[c]["id"] for c in codes}


async def participant_ids(
    conn: asyncpg.Connection, principal: Principal, codes: list[str], kept: frozenset[int]
) -> dict[str, int]:
    """The `sites` of a create or a replacement, named `sites.N` in errors."""
    fields = [f"sites.{i}" for i in range(len(codes))]
    return await site_ids(conn, principal, codes, fields, kept=kept)


async def host_site_id(
    conn: asyncpg.Connection, principal: Principal, code: str | None, kept: int | None = None
) -> int | None:
    """The host site's id (None clears it); a scoped organiser names one of their subtree."""
    if code is None:
        return None
    keep = frozenset() if kept is None else frozenset([kept])
    return (await site_ids(conn, principal, [code], ["host_site"], kept=keep))[code]


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
        current = frozenset(
            r["site_id"]
            for r in await conn.fetch(
                "SELECT site_id FROM conference_sites WHERE conference_id = $1", row["id"]
            )
        )
        wanted = set((await participant_ids(conn, principal, codes, current)).values())
        if row["host_site_id"] is not None:
            wanted.add(row["host_site_id"])
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
