"""Reading a board from the database: whole, or what changed since the `seq` a view is at.
Used by the hub and by `diemcau live`; both run inside a snapshot transaction
(queries.live.snapshot_transaction), so what is read belongs to one `seq`."""

from __future__ import annotations

import asyncpg

from diemcau.live.view import View
from diemcau.queries import live as q


async def read_view(conn: asyncpg.Connection, conference_id: int) -> View:
    """The whole board at the database's `seq`."""
    seq = await q.fetch_seq(conn, conference_id)
    view = View(conference_id, seq, await q.fetch_conference(conn, conference_id))
    view.load(
        await q.fetch_units(conn, conference_id),
        await q.fetch_sites(conn, conference_id),
        await q.fetch_arrivals(conn, conference_id),
    )
    return view


async def catch_up(conn: asyncpg.Connection, view: View, seq: int) -> View | None:
    """Move `view` to `seq` (the database's now) by what changed since its own; a new
    view instead (answered) when the database went back, as after a restore."""
    cid = view.conference_id
    if seq < view.seq:
        return await read_view(conn, cid)
    after = view.seq
    view.apply(
        seq,
        await q.fetch_conference(conn, cid, after),
        await q.fetch_units(conn, cid, after),
        await q.fetch_sites_since(conn, cid, after),
        await q.fetch_tallies_since(conn, cid, after),
        await q.fetch_arrivals(conn, cid, after),
    )
    return None
