"""Named SQL for the live board: the view of a conference at its `seq`, what changed
since a `seq`, and the recount of the tallies from the attendances (docs/live.md).

A view is read in one REPEATABLE READ transaction (`snapshot_transaction`), so the
counter and every row read belong to one moment: the view is the database at that `seq`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau.checkin.timeline import TALLY_FIELDS

# A site as the board holds it: the published row (live_sites), its unit's path, and its
# tallies (null before its first scan).
_SITE_COLUMNS = f"""
    l.site_id, l.code, l.name, l.unit_id, u.path AS unit_path, l.capacity, l.status,
    l.expected_member, l.expected_non_member, l.expected_guest, l.kiosk_online, l.link,
    l.headcount, l.taking_part, {", ".join("t." + f for f in TALLY_FIELDS)}, t.last_scan_at
"""
_SITES_FROM = """
      FROM live_sites l
      JOIN units u ON u.id = l.unit_id
      LEFT JOIN site_tallies t ON t.conference_id = l.conference_id AND t.site_id = l.site_id
"""
_UNIT_COLUMNS = "u.unit_id AS id, u.code, u.name, u.level, u.parent_id, u.path"


def snapshot_transaction(conn: asyncpg.Connection) -> Any:
    """A read-only transaction that sees one moment for all its statements."""
    return conn.transaction(isolation="repeatable_read", readonly=True)


async def fetch_seq(conn: asyncpg.Connection, conference_id: int) -> int:
    """The conference's `seq` now (0 before anything changed)."""
    return await conn.fetchval(
        "SELECT coalesce((SELECT seq FROM live_counters WHERE conference_id = $1), 0)",
        conference_id,
    )


async def fetch_seqs(conn: asyncpg.Connection, conference_ids: list[int]) -> dict[int, int]:
    """The `seq` of several conferences in one round trip (the hub's safety poll)."""
    rows = await conn.fetch(
        "SELECT conference_id, seq FROM live_counters WHERE conference_id = ANY($1::bigint[])",
        conference_ids,
    )
    return {r["conference_id"]: r["seq"] for r in rows}


async def fetch_sites(conn: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Every participating site with its tallies."""
    return await conn.fetch(
        f"SELECT {_SITE_COLUMNS} {_SITES_FROM} WHERE l.conference_id = $1 AND l.taking_part",
        conference_id,
    )


async def fetch_sites_since(
    conn: asyncpg.Connection, conference_id: int, after: int
) -> list[asyncpg.Record]:
    """Sites whose published row changed after `after` (departures included)."""
    return await conn.fetch(
        f"SELECT {_SITE_COLUMNS} {_SITES_FROM} WHERE l.conference_id = $1 AND l.seq > $2",
        conference_id,
        after,
    )


async def fetch_tallies_since(
    conn: asyncpg.Connection, conference_id: int, after: int
) -> list[asyncpg.Record]:
    """Tallies that changed after `after`, on the (conference, seq) index."""
    return await conn.fetch(
        f"""SELECT site_id, {", ".join(TALLY_FIELDS)}, last_scan_at FROM site_tallies
             WHERE conference_id = $1 AND seq > $2""",
        conference_id,
        after,
    )


async def fetch_units(
    conn: asyncpg.Connection, conference_id: int, after: int = -1
) -> list[asyncpg.Record]:
    """The units of the board (the participating sites' units and their ancestors), all
    or those published after `after`."""
    return await conn.fetch(
        f"SELECT {_UNIT_COLUMNS} FROM live_units u WHERE u.conference_id = $1 AND u.seq > $2",
        conference_id,
        after,
    )


async def fetch_arrivals(
    conn: asyncpg.Connection, conference_id: int, after: int = -1
) -> list[asyncpg.Record]:
    """Arrivals per unit and minute, all or those changed after `after`."""
    return await conn.fetch(
        """SELECT unit_id, minute, arrivals FROM live_arrivals
            WHERE conference_id = $1 AND seq > $2""",
        conference_id,
        after,
    )


async def fetch_conference(
    conn: asyncpg.Connection, conference_id: int, after: int = -1
) -> dict[str, Any] | None:
    """The conference as the board shows it, when published after `after`."""
    return await conn.fetchval(
        "SELECT conference FROM live_sweeps WHERE conference_id = $1 AND seq > $2",
        conference_id,
        after,
    )


async def fetch_changed_site_ids(
    conn: asyncpg.Connection, conference_id: int, after: int, upto: int
) -> list[int]:
    """Sites whose tallies or published row changed in (after, upto]: a resuming client's
    missed changes, coalesced."""
    rows = await conn.fetch(
        """SELECT site_id FROM site_tallies
            WHERE conference_id = $1 AND seq > $2 AND seq <= $3
           UNION
           SELECT site_id FROM live_sites
            WHERE conference_id = $1 AND seq > $2 AND seq <= $3""",
        conference_id,
        after,
        upto,
    )
    return [r["site_id"] for r in rows]


async def fetch_changed_unit_ids(
    conn: asyncpg.Connection, conference_id: int, after: int, upto: int
) -> list[int]:
    """Units whose published record or arrivals changed in (after, upto]."""
    rows = await conn.fetch(
        """SELECT unit_id FROM live_units
            WHERE conference_id = $1 AND seq > $2 AND seq <= $3
           UNION
           SELECT unit_id FROM live_arrivals
            WHERE conference_id = $1 AND seq > $2 AND seq <= $3""",
        conference_id,
        after,
        upto,
    )
    return [r["unit_id"] for r in rows]


async def fetch_unit_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, code, path FROM units WHERE code = $1", code)


async def fetch_revoked(conn: asyncpg.Connection, token_ids: list[int]) -> list[int]:
    """Which of these tokens were revoked (a watcher's token is checked again now and then)."""
    rows = await conn.fetch(
        "SELECT id FROM tokens WHERE id = ANY($1::bigint[]) AND revoked_at IS NOT NULL",
        token_ids,
    )
    return [r["id"] for r in rows]


# --- the recount ------------------------------------------------------------------------

# Each site's counters recounted from what they stand on: the attendances (each delegate
# at the site of their counted entry) and the accepted walk-ins that were not annulled.
RECOUNT_SQL = """
WITH people AS (
    SELECT a.site_id, a.home_site_id, a.category, a.present
      FROM attendances a
     WHERE a.conference_id = $1 AND a.site_id IS NOT NULL),
walk AS (
    SELECT c.site_id, c.category FROM checkins c
     WHERE c.conference_id = $1 AND c.method = 'walk_in' AND c.result = 'accepted'
       AND c.annulment_id IS NULL),
counted AS (
    SELECT site_id,
           count(*) FILTER (WHERE category = 'member') AS checked_in_member,
           count(*) FILTER (WHERE category = 'non_member') AS checked_in_non_member,
           count(*) FILTER (WHERE category = 'guest') AS checked_in_guest,
           count(*) FILTER (WHERE site_id <> home_site_id) AS moved_in,
           count(*) FILTER (WHERE present) AS present
      FROM people GROUP BY site_id),
moved_out AS (
    SELECT home_site_id AS site_id, count(*) AS moved_out FROM people
     WHERE site_id <> home_site_id GROUP BY home_site_id),
walked AS (
    SELECT site_id,
           count(*) FILTER (WHERE category = 'member') AS walk_ins_member,
           count(*) FILTER (WHERE category = 'non_member') AS walk_ins_non_member,
           count(*) FILTER (WHERE category = 'guest') AS walk_ins_guest
      FROM walk GROUP BY site_id),
recount AS (
    SELECT coalesce(c.site_id, o.site_id, w.site_id) AS site_id,
           coalesce(c.checked_in_member, 0) AS checked_in_member,
           coalesce(c.checked_in_non_member, 0) AS checked_in_non_member,
           coalesce(c.checked_in_guest, 0) AS checked_in_guest,
           coalesce(w.walk_ins_member, 0) AS walk_ins_member,
           coalesce(w.walk_ins_non_member, 0) AS walk_ins_non_member,
           coalesce(w.walk_ins_guest, 0) AS walk_ins_guest,
           coalesce(c.moved_in, 0) AS moved_in,
           coalesce(o.moved_out, 0) AS moved_out,
           coalesce(c.present, 0) + coalesce(w.walk_ins_member + w.walk_ins_non_member
                                             + w.walk_ins_guest, 0) AS present
      FROM counted c
      FULL JOIN moved_out o ON o.site_id = c.site_id
      FULL JOIN walked w ON w.site_id = coalesce(c.site_id, o.site_id))
SELECT s.code, r.*, t.checked_in_member AS t_checked_in_member,
       t.checked_in_non_member AS t_checked_in_non_member,
       t.checked_in_guest AS t_checked_in_guest, t.walk_ins_member AS t_walk_ins_member,
       t.walk_ins_non_member AS t_walk_ins_non_member, t.walk_ins_guest AS t_walk_ins_guest,
       t.moved_in AS t_moved_in, t.moved_out AS t_moved_out, t.present AS t_present
  FROM recount r
  FULL JOIN (SELECT * FROM site_tallies WHERE conference_id = $1) t ON t.site_id = r.site_id
  JOIN sites s ON s.id = coalesce(r.site_id, t.site_id)
"""
RECOUNTED = (
    "checked_in_member",
    "checked_in_non_member",
    "checked_in_guest",
    "walk_ins_member",
    "walk_ins_non_member",
    "walk_ins_guest",
    "moved_in",
    "moved_out",
    "present",
)


async def verify_tallies(conn: asyncpg.Connection, conference_id: int) -> list[dict[str, Any]]:
    """Every site whose tallies differ from a recount from `attendances` and the walk-ins:
    `[{site_code, field, tallied, recounted}]`, empty when they agree. One statement, so
    the two sides are read at one moment (`diemcau reconcile --verify` reuses it)."""
    out = []
    for row in await conn.fetch(RECOUNT_SQL, conference_id):
        for field in RECOUNTED:
            tallied = row["t_" + field] or 0
            recounted = row[field] or 0
            if tallied != recounted:
                out.append(
                    {
                        "site_code": row["code"],
                        "field": field,
                        "tallied": tallied,
                        "recounted": recounted,
                    }
                )
    return out
