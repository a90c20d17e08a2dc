"""Named SQL for the live board's sweep (diemcau.live.sweep): what the board shows of each
site, unit and the conference, computed from the registry, the roster and the kiosks,
compared with what was last published, and published again under a new `seq`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from diemcau.queries.conferences import STATUS_SQL

ONLINE_WITHIN = timedelta(seconds=30)  # DESIGN: kiosk_online, seen within 30 s
LOST_AFTER = timedelta(minutes=2)  # no kiosk heard for this long: the link is lost

# The site's link (README, "The live board"): from its kiosks' last signs of life and
# queues, and its latest link test. `k` is the site's kiosks, `lt` its latest test.
LINK_SQL = """
    CASE
      WHEN k.seen >= now() - $2::interval THEN
        CASE WHEN coalesce(k.queued, 0) > 0 OR lt.passed IS FALSE THEN 'degraded'
             ELSE 'connected' END
      WHEN k.seen >= now() - $3::interval THEN 'degraded'
      WHEN k.seen >= c.checkin_opens_at THEN 'lost'
      WHEN lt.passed IS FALSE THEN 'degraded'
      ELSE 'unknown'
    END"""

# Every participating site as the board would show it now, beside what was published.
CURRENT_SITES_SQL = f"""
WITH kiosk AS (
    SELECT k.site_id, max(k.last_seen_at) AS seen,
           max(k.queue_length) FILTER (WHERE k.last_seen_at >= now() - $2::interval) AS queued
      FROM kiosks k JOIN tokens t ON t.id = k.token_id AND t.revoked_at IS NULL
     WHERE k.conference_id = $1
     GROUP BY k.site_id),
cur AS (
    SELECT s.id AS site_id, s.code, s.name, s.unit_id, s.capacity, s.status,
           coalesce(k.seen >= now() - $2::interval, false) AS kiosk_online,
           {LINK_SQL} AS link,
           -- The latest headcount joins here once headcounts are recorded.
           NULL::jsonb AS headcount
      FROM conference_sites cs
      JOIN conferences c ON c.id = cs.conference_id
      JOIN sites s ON s.id = cs.site_id
      LEFT JOIN kiosk k ON k.site_id = s.id
      LEFT JOIN LATERAL (SELECT passed FROM link_tests
                          WHERE site_id = s.id ORDER BY tested_at DESC LIMIT 1) lt ON true
     WHERE cs.conference_id = $1
       -- $4: only the sites whose liveness may have moved (they have kiosks, or were
       -- published as anything but silent and unknown)
       AND (NOT $4 OR k.site_id IS NOT NULL OR EXISTS (
                SELECT 1 FROM live_sites p
                 WHERE p.conference_id = $1 AND p.site_id = s.id
                   AND (p.kiosk_online OR p.link <> 'unknown'))))
SELECT cur.*, l.site_id IS NULL AS new
  FROM cur
  LEFT JOIN live_sites l ON l.conference_id = $1 AND l.site_id = cur.site_id
 WHERE l.site_id IS NULL OR NOT l.taking_part
    OR (l.code, l.name, l.unit_id, l.capacity, l.status, l.kiosk_online, l.link, l.headcount)
       IS DISTINCT FROM (cur.code, cur.name, cur.unit_id, cur.capacity, cur.status,
                         cur.kiosk_online, cur.link, cur.headcount)
"""


async def ensure_sweep_row(conn: asyncpg.Connection, conference_id: int) -> None:
    await conn.execute(
        "INSERT INTO live_sweeps (conference_id) VALUES ($1) ON CONFLICT DO NOTHING",
        conference_id,
    )


async def claim(conn: asyncpg.Connection, conference_id: int, wait: bool) -> Any:
    """The conference's sweep row, locked for this transaction: one sweeper at a time.
    Without `wait`, None when another sweeper holds it."""
    lock = "FOR UPDATE" if wait else "FOR UPDATE SKIP LOCKED"
    return await conn.fetchrow(
        f"""SELECT swept_at, roster_seq, registry, conference, now() - swept_at AS age
              FROM live_sweeps WHERE conference_id = $1 {lock}""",
        conference_id,
    )


async def fetch_changed_sites(
    conn: asyncpg.Connection, conference_id: int, liveness_only: bool = False
) -> list[Any]:
    """Participating sites whose record, kiosks or link differ from what was published
    (`liveness_only`: among the sites whose kiosks or link may have moved)."""
    return await conn.fetch(
        CURRENT_SITES_SQL, conference_id, ONLINE_WITHIN, LOST_AFTER, liveness_only
    )


async def fetch_registry_mark(conn: asyncpg.Connection, conference_id: int) -> str:
    """Moves whenever a site or unit record, the participating sites or a link test may
    have changed (cheap maxima and sums): the sweep compares the whole registry only
    then, and otherwise the kiosks' liveness alone. It also moves every 30 s: a record
    written by a transaction that started before another's but committed after it
    carries an older `updated_at`, which no maximum shows; the 30 s pass catches it."""
    return await conn.fetchval(
        """SELECT concat_ws('|', extract(epoch FROM now())::bigint / 30,
                  (SELECT max(updated_at) FROM sites),
                  (SELECT max(updated_at) FROM units), (SELECT max(id) FROM link_tests),
                  (SELECT count(*) || ':' || coalesce(sum(site_id), 0) FROM conference_sites
                    WHERE conference_id = $1))""",
        conference_id,
    )


async def fetch_departed(conn: asyncpg.Connection, conference_id: int) -> list[int]:
    """Published sites that no longer take part."""
    rows = await conn.fetch(
        """SELECT l.site_id FROM live_sites l
            WHERE l.conference_id = $1 AND l.taking_part
              AND NOT EXISTS (SELECT 1 FROM conference_sites cs
                               WHERE cs.conference_id = $1 AND cs.site_id = l.site_id)""",
        conference_id,
    )
    return [r["site_id"] for r in rows]


async def fetch_roster_marks(
    conn: asyncpg.Connection, conference_id: int, after: int
) -> tuple[int, int, list[int]]:
    """The roster's version now, the conference-wide version (a bulk import moves only
    that one), and the sites whose own version moved after `after`."""
    row = await conn.fetchrow(
        """SELECT coalesce((SELECT seq FROM roster_conference_versions
                             WHERE conference_id = $1), 0) AS whole,
                  coalesce((SELECT max(seq) FROM roster_versions
                             WHERE conference_id = $1), 0) AS sites,
                  ARRAY(SELECT site_id FROM roster_versions
                         WHERE conference_id = $1 AND seq > $2) AS moved""",
        conference_id,
        after,
    )
    return max(row["whole"], row["sites"]), row["whole"], list(row["moved"])


async def fetch_expected(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int] | None
) -> dict[int, tuple[int, int, int]]:
    """The roster by site and category (revoked delegates left out, as on the kiosk's
    screen), for these sites or all."""
    rows = await conn.fetch(
        """SELECT site_id,
                  count(*) FILTER (WHERE category = 'member') AS member,
                  count(*) FILTER (WHERE category = 'non_member') AS non_member,
                  count(*) FILTER (WHERE category = 'guest') AS guest
             FROM delegates
            WHERE conference_id = $1 AND NOT revoked
              AND ($2::bigint[] IS NULL OR site_id = ANY($2::bigint[]))
            GROUP BY site_id""",
        conference_id,
        site_ids,
    )
    return {r["site_id"]: (r["member"], r["non_member"], r["guest"]) for r in rows}


async def fetch_published_expected(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int]
) -> dict[int, tuple[int, int, int]]:
    rows = await conn.fetch(
        """SELECT site_id, expected_member, expected_non_member, expected_guest
             FROM live_sites WHERE conference_id = $1 AND site_id = ANY($2::bigint[])""",
        conference_id,
        site_ids,
    )
    return {r["site_id"]: (r[1], r[2], r[3]) for r in rows}


async def fetch_changed_units(conn: asyncpg.Connection, conference_id: int) -> list[Any]:
    """The board's units (the participating sites' units and their ancestors, found by
    the codes of their paths) whose record differs from what was published."""
    return await conn.fetch(
        """WITH paths AS (
               SELECT DISTINCT u.path FROM conference_sites cs
                 JOIN sites s ON s.id = cs.site_id JOIN units u ON u.id = s.unit_id
                WHERE cs.conference_id = $1),
           codes AS (SELECT DISTINCT unnest(string_to_array(btrim(path, '/'), '/')) AS code
                       FROM paths)
           SELECT u.id AS unit_id, u.code, u.name, u.level, u.parent_id, u.path
             FROM codes JOIN units u ON u.code = codes.code
             LEFT JOIN live_units l ON l.conference_id = $1 AND l.unit_id = u.id
            WHERE l.unit_id IS NULL
               OR (l.code, l.name, l.level, l.parent_id, l.path)
                  IS DISTINCT FROM (u.code, u.name, u.level, u.parent_id, u.path)""",
        conference_id,
    )


async def fetch_conference_facts(conn: asyncpg.Connection, conference_id: int) -> Any:
    """What the board shows of the conference (its status follows the clock)."""
    return await conn.fetchval(
        f"""SELECT jsonb_build_object(
                   'code', c.code, 'title', c.title, 'timezone', c.timezone,
                   'starts_at', c.starts_at, 'ends_at', c.ends_at,
                   'checkin_opens_at', c.checkin_opens_at, 'status', {STATUS_SQL},
                   'targets', c.targets, 'unit_code', cu.code)
              FROM conferences c LEFT JOIN units cu ON cu.id = c.unit_id
             WHERE c.id = $1""",
        conference_id,
    )


async def advance(conn: asyncpg.Connection, conference_id: int) -> int:
    """The conference's next `seq`; its lock is held to the commit (sql/0011_live.sql)."""
    return await conn.fetchval(
        """INSERT INTO live_counters AS c (conference_id, seq) VALUES ($1, 1)
           ON CONFLICT (conference_id) DO UPDATE SET seq = c.seq + 1
           RETURNING seq, pg_notify('diemcau_live', $1::text || ' ' || seq)""",
        conference_id,
    )


SITE_WRITE = (
    "site_id",
    "code",
    "name",
    "unit_id",
    "capacity",
    "status",
    "expected_member",
    "expected_non_member",
    "expected_guest",
    "kiosk_online",
    "link",
    "headcount",
)
_SITE_TYPES = (
    "bigint",
    "text",
    "text",
    "bigint",
    "int",
    "text",
    "int",
    "int",
    "int",
    "bool",
    "text",
    "jsonb",
)


async def publish_sites(
    conn: asyncpg.Connection, conference_id: int, seq: int, rows: list[tuple[Any, ...]]
) -> None:
    """Publish these sites whole (SITE_WRITE order), taking part, under `seq`."""
    cols = ", ".join(SITE_WRITE)
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_SITE_TYPES, start=3))
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in SITE_WRITE[1:])
    await conn.execute(
        f"""INSERT INTO live_sites (conference_id, seq, taking_part, {cols})
            SELECT $1, $2, true, * FROM unnest({arrays})
            ON CONFLICT (conference_id, site_id) DO UPDATE
               SET seq = EXCLUDED.seq, taking_part = true, {sets}""",
        conference_id,
        seq,
        *[[row[i] for row in rows] for i in range(len(SITE_WRITE))],
    )


async def publish_expected(
    conn: asyncpg.Connection,
    conference_id: int,
    seq: int,
    expected: dict[int, tuple[int, int, int]],
) -> None:
    ids = sorted(expected)
    await conn.execute(
        """UPDATE live_sites l
              SET seq = $2, expected_member = w.m, expected_non_member = w.n,
                  expected_guest = w.g
             FROM unnest($3::bigint[], $4::int[], $5::int[], $6::int[]) AS w(site_id, m, n, g)
            WHERE l.conference_id = $1 AND l.site_id = w.site_id""",
        conference_id,
        seq,
        ids,
        *[[expected[i][c] for i in ids] for c in range(3)],
    )


async def publish_departures(
    conn: asyncpg.Connection, conference_id: int, seq: int, site_ids: list[int]
) -> None:
    await conn.execute(
        """UPDATE live_sites SET seq = $2, taking_part = false
            WHERE conference_id = $1 AND site_id = ANY($3::bigint[])""",
        conference_id,
        seq,
        site_ids,
    )


async def publish_units(
    conn: asyncpg.Connection, conference_id: int, seq: int, rows: list[Any]
) -> None:
    cols = ("unit_id", "code", "name", "level", "parent_id", "path")
    await conn.execute(
        """INSERT INTO live_units (conference_id, seq, unit_id, code, name, level, parent_id,
                                  path)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[],
                                        $7::bigint[], $8::text[])
           ON CONFLICT (conference_id, unit_id) DO UPDATE
              SET seq = EXCLUDED.seq, code = EXCLUDED.code, name = EXCLUDED.name,
                  level = EXCLUDED.level, parent_id = EXCLUDED.parent_id,
                  path = EXCLUDED.path""",
        conference_id,
        seq,
        *[[r[c] for r in rows] for c in cols],
    )


async def finish(
    conn: asyncpg.Connection,
    conference_id: int,
    marks: tuple[int, str],
    conference: Any,
    seq: int | None,
) -> None:
    """Record the sweep: when, the roster version counted, the registry's mark, and the
    conference shown (`seq` given when it changed)."""
    await conn.execute(
        """UPDATE live_sweeps
              SET swept_at = now(), roster_seq = $2, registry = $3, conference = $4,
                  seq = coalesce($5, seq)
            WHERE conference_id = $1""",
        conference_id,
        *marks,
        conference,
        seq,
    )
