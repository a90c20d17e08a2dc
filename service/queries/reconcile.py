"""Named SQL for reconciliation: a conference's figures per site, set-based.

Every figure is counted by the database over the whole conference at once, in a few
statements run in one snapshot: the roster (`delegates`, as it stands now) joined to
the attribution (`attendances`) and the absences; exits and re-entries from the
delegates' timelines; walk-ins from the scans (`checkins`); the latest headcounts;
kiosks' silences; resolutions. Nothing here reads `site_tallies`, the running counters;
reconcile/verify.py recounts those from the scans.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from diemcau.checkin import timeline
from diemcau.queries.units import subtree_pattern

# A scan in a delegate's timeline (diemcau.checkin.timeline): a genuine code's entry or
# exit that passed the gate (judged `accepted` or `duplicate` by the timeline), not voided.
VALID_SCAN = """c.delegate_id IS NOT NULL AND c.method <> 'walk_in'
    AND c.result IN ('accepted', 'duplicate') AND c.annulment_id IS NULL"""


# A delegate's timeline (attendances.timeline, packed by diemcau.checkin.timeline) as
# SQL reads it: entries of ENTRY bytes, the direction byte at INWARD (1: in), the site at
# SITE (8 bytes, big-endian). A test packs timelines in Python and reads them here.
ENTRY = timeline.ENTRY_SIZE
INWARD = timeline.INWARD_OFFSET
SITE = timeline.SITE_OFFSET


def _inward(entry: str) -> str:
    return f"get_byte(a.timeline, {ENTRY} * ({entry}) + {INWARD}) = 1"


# A site's figures come from three statements run in one snapshot (rows.compute), each
# over the whole conference, so each gets a plan of its own (planned as one statement,
# the exits' row estimates, far off, pulled the rest into a slow plan). $1 is the
# conference; ids are site ids.

# The participating sites (of a unit subtree $2, or these sites $3), with their walk-ins
# (the partial index checkins_walk_ins_idx) and the latest headcount of each moment.
SITES_SQL = """
    WITH site AS (
        SELECT s.id, s.code, s.name, s.level, s.capacity, u.code AS unit_code, u.path
          FROM conference_sites cs
          JOIN sites s ON s.id = cs.site_id
          JOIN units u ON u.id = s.unit_id
         WHERE cs.conference_id = $1 AND ($2::text IS NULL OR u.path LIKE $2)
           AND ($3::bigint[] IS NULL OR s.id = ANY($3))),
    walk AS (
        SELECT site_id,
               count(*) FILTER (WHERE category = 'member') AS member,
               count(*) FILTER (WHERE category = 'non_member') AS non_member,
               count(*) FILTER (WHERE category = 'guest') AS guest
          FROM checkins
         WHERE conference_id = $1 AND method = 'walk_in' AND result = 'accepted'
           AND annulment_id IS NULL
         GROUP BY site_id),
    latest AS MATERIALIZED (
        SELECT DISTINCT ON (h.site_id, h.moment)
               h.site_id, h.id, h.moment, h.counted_at, h.members, h.non_members, h.guests,
               h.note
          FROM headcounts h WHERE h.conference_id = $1
         ORDER BY h.site_id, h.moment, h.counted_at DESC, h.id DESC)
    SELECT s.id, s.code, s.name, s.unit_code, s.level, s.capacity, s.path,
           coalesce(walk.member, 0), coalesce(walk.non_member, 0), coalesce(walk.guest, 0),
           hs.id, hs.counted_at, hs.members, hs.non_members, hs.guests, hs.note,
           ha.id, ha.counted_at, ha.members, ha.non_members, ha.guests, ha.note,
           he.id, he.counted_at, he.members, he.non_members, he.guests, he.note
      FROM site s
      LEFT JOIN walk ON walk.site_id = s.id
      LEFT JOIN latest hs ON hs.site_id = s.id AND hs.moment = 'start'
      LEFT JOIN latest ha ON ha.site_id = s.id AND ha.moment = 'after_break'
      LEFT JOIN latest he ON he.site_id = s.id AND he.moment = 'end'
"""

# One pass over the roster joined to the attribution (and the absences), grouped by
# (own site, counted site); then each pair counted at both sites: at its own site the
# roster by the category it holds now, moved out and the absences by reason; at the
# counted site checked in by that category, moved in, present. (One statement with no
# CTE referenced twice, so PostgreSQL may run the pass in parallel.)
PEOPLE_SQL = """
    SELECT x.site_id,
           coalesce(sum(p.member) FILTER (WHERE x.own), 0)::int AS e_member,
           coalesce(sum(p.non_member) FILTER (WHERE x.own), 0)::int AS e_non_member,
           coalesce(sum(p.guest) FILTER (WHERE x.own), 0)::int AS e_guest,
           coalesce(sum(p.member) FILTER (WHERE NOT x.own), 0)::int AS c_member,
           coalesce(sum(p.non_member) FILTER (WHERE NOT x.own), 0)::int AS c_non_member,
           coalesce(sum(p.guest) FILTER (WHERE NOT x.own), 0)::int AS c_guest,
           coalesce(sum(p.member + p.non_member + p.guest)
               FILTER (WHERE NOT x.own AND p.here <> p.home), 0)::int AS moved_in,
           coalesce(sum(p.member + p.non_member + p.guest)
               FILTER (WHERE x.own AND p.here <> p.home), 0)::int AS moved_out,
           coalesce(sum(p.present) FILTER (WHERE NOT x.own), 0)::int AS present,
           coalesce(sum(p.sick) FILTER (WHERE x.own), 0)::int AS sick,
           coalesce(sum(p.on_duty) FILTER (WHERE x.own), 0)::int AS on_duty,
           coalesce(sum(p.travel) FILTER (WHERE x.own), 0)::int AS travel,
           coalesce(sum(p.other) FILTER (WHERE x.own), 0)::int AS other,
           coalesce(sum(p.makeup_owed) FILTER (WHERE x.own), 0)::int AS makeup_owed
      FROM (SELECT d.site_id AS home, a.site_id AS here,
                   count(*) FILTER (WHERE d.category = 'member') AS member,
                   count(*) FILTER (WHERE d.category = 'non_member') AS non_member,
                   count(*) FILTER (WHERE d.category = 'guest') AS guest,
                   count(*) FILTER (WHERE a.present) AS present,
                   count(b.reason) FILTER (WHERE b.reason = 'sick') AS sick,
                   count(b.reason) FILTER (WHERE b.reason = 'on_duty') AS on_duty,
                   count(b.reason) FILTER (WHERE b.reason = 'travel') AS travel,
                   count(b.reason) FILTER (WHERE b.reason = 'other') AS other,
                   count(b.reason) FILTER (WHERE b.makeup_owed) AS makeup_owed
              FROM delegates d
              LEFT JOIN attendances a ON a.delegate_id = d.id
              LEFT JOIN absences b ON b.delegate_id = d.id
             WHERE d.conference_id = $1
             GROUP BY 1, 2) p
     CROSS JOIN LATERAL (VALUES (p.home, true), (p.here, false)) AS x(site_id, own)
     WHERE x.site_id IS NOT NULL
     GROUP BY x.site_id
"""

# Exits and re-entries from the timelines of the delegates scanned more than once, each
# at the site it was scanned at: an exit an `out` right after an `in`; a re-entry an
# `in` right after an `out`, once the person has come in (after their first `in`).
STEPS_SQL = f"""
    SELECT ('x' || encode(substring(a.timeline FROM {ENTRY} * i + {SITE + 1} FOR 8), 'hex'))
               ::bit(64)::bigint AS site_id,
           count(*) FILTER (WHERE {_inward("i - 1")} AND NOT {_inward("i")})::int AS exits,
           count(*) FILTER (WHERE NOT {_inward("i - 1")} AND {_inward("i")}
                              AND f.first_in < i - 1)::int AS reentries
      FROM attendances a
     CROSS JOIN LATERAL (
           SELECT CASE WHEN {_inward("0")} THEN 0 ELSE
                      (SELECT min(j) FROM generate_series(0, length(a.timeline) / {ENTRY} - 1) j
                        WHERE {_inward("j")}) END AS first_in) f
     CROSS JOIN LATERAL generate_series(1, length(a.timeline) / {ENTRY} - 1) AS i
     WHERE a.conference_id = $1 AND length(a.timeline) > {ENTRY}
     GROUP BY 1
"""


async def fetch_sites(
    conn: asyncpg.Connection,
    conference_id: int,
    unit_path: str | None,
    site_ids: list[int] | None,
) -> list[asyncpg.Record]:
    """The participating sites (of a unit subtree, or these) with walk-ins and latest
    headcounts, a row each in the column order of SITES_SQL (read by position)."""
    pattern = None if unit_path is None else subtree_pattern(unit_path)
    return await conn.fetch(SITES_SQL, conference_id, pattern, site_ids)


async def fetch_people(conn: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Per site: expected, checked in, moved in and out, present, absences (PEOPLE_SQL)."""
    return await conn.fetch(PEOPLE_SQL, conference_id)


async def fetch_steps(conn: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Per site: exits and re-entries (STEPS_SQL)."""
    return await conn.fetch(STEPS_SQL, conference_id)


# The latest headcount of each moment at each site: the first entry per (site, moment)
# of headcounts_latest_idx. One query for reconciliation and the live board.
LATEST_HEADCOUNTS_SQL = """
    SELECT DISTINCT ON (h.site_id, h.moment)
           h.site_id, h.id, h.moment, h.counted_at, h.members, h.non_members, h.guests, h.note,
           h.client_id, h.actor, h.recorded_at
      FROM headcounts h
     WHERE h.conference_id = $1 AND ($2::bigint[] IS NULL OR h.site_id = ANY($2))
     ORDER BY h.site_id, h.moment, h.counted_at DESC, h.id DESC
"""


async def fetch_latest_headcounts(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int] | None = None
) -> list[asyncpg.Record]:
    """The latest headcount per site per moment (of these sites, or all)."""
    return await conn.fetch(LATEST_HEADCOUNTS_SQL, conference_id, site_ids)


# A kiosk went silent for 5 minutes within the window (check-in opening to the end):
# the gaps between its signs of life (kiosk_silences), and the time since it was last
# seen for one that never came back, each cut to the window and to the kiosk's
# revocation (a revoked kiosk is silent by design), and to now while the window is open.
SILENCES_SQL = """
    WITH kiosk AS (
        SELECT k.token_id, k.site_id, k.device_name, k.last_seen_at,
               least($3::timestamptz, now(), t.revoked_at) AS until
          FROM kiosks k JOIN tokens t ON t.id = k.token_id
         WHERE k.conference_id = $1 AND ($4::bigint[] IS NULL OR k.site_id = ANY($4))),
    gap AS (
        SELECT k.token_id, k.site_id, k.device_name,
               greatest(s.silent_from, $2::timestamptz) AS silent_from,
               least(s.silent_until, k.until) AS silent_until
          FROM kiosk k JOIN kiosk_silences s ON s.token_id = k.token_id
        UNION ALL
        SELECT k.token_id, k.site_id, k.device_name, greatest(k.last_seen_at, $2), k.until
          FROM kiosk k WHERE k.last_seen_at IS NOT NULL)
    SELECT * FROM gap
     WHERE silent_until - silent_from >= interval '5 minutes'
     ORDER BY site_id, token_id, silent_from
"""


async def fetch_silences(
    conn: asyncpg.Connection,
    conference_id: int,
    opens_at: datetime,
    ends_at: datetime,
    site_ids: list[int] | None,
) -> list[asyncpg.Record]:
    """Kiosks' silences of 5 minutes or more within [opens_at, ends_at]."""
    return await conn.fetch(SILENCES_SQL, conference_id, opens_at, ends_at, site_ids)


async def fetch_resolutions(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int] | None
) -> list[asyncpg.Record]:
    """The latest resolution of each flag (site and kind) ever resolved."""
    return await conn.fetch(
        """SELECT DISTINCT ON (r.site_id, r.kind) r.site_id, r.kind, r.fingerprint,
                  r.action, r.figure, r.note, r.actor, r.at
             FROM flag_resolutions r
            WHERE r.conference_id = $1 AND ($2::bigint[] IS NULL OR r.site_id = ANY($2))
            ORDER BY r.site_id, r.kind, r.id DESC""",
        conference_id,
        site_ids,
    )


async def fetch_units(conn: asyncpg.Connection, codes: list[str]) -> list[asyncpg.Record]:
    """Units by code, with their parent's code."""
    return await conn.fetch(
        """SELECT u.code, u.name, u.level, p.code AS parent_code
             FROM units u LEFT JOIN units p ON p.id = u.parent_id
            WHERE u.code = ANY($1::text[])""",
        codes,
    )


async def insert_resolution(conn: asyncpg.Connection, values: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO flag_resolutions (conference_id, site_id, kind, fingerprint, detail,
                                         action, figure, note, token_id, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           RETURNING action, figure, note, actor, at""",
        values["conference_id"],
        values["site_id"],
        values["kind"],
        values["fingerprint"],
        values["detail"],
        values["action"],
        values["figure"],
        values["note"],
        values["token_id"],
        values["actor"],
    )
