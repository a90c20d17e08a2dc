"""Named SQL for kiosks, their enrollment codes and what a kiosk reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from diemcau.queries.conferences import STATUS_SQL


async def insert_code(
    conn: asyncpg.Connection,
    code_hash: bytes,
    conference_id: int,
    site_id: int,
    created_by: int | None,
    ttl: timedelta,
) -> datetime:
    """Store a new enrollment code (hashed); answers when it expires."""
    # Used and expired codes are of no use to anyone; sweep them on the way.
    await conn.execute("DELETE FROM kiosk_codes WHERE expires_at < now() - interval '30 days'")
    return await conn.fetchval(
        """INSERT INTO kiosk_codes (code_hash, conference_id, site_id, created_by, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING expires_at""",
        code_hash,
        conference_id,
        site_id,
        created_by,
        ttl,
    )


async def fetch_code(conn: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT conference_id, site_id, used_at, expires_at, expires_at <= now() AS expired
             FROM kiosk_codes WHERE code_hash = $1""",
        code_hash,
    )


async def fetch_device_names(
    conn: asyncpg.Connection, conference_id: int, site_id: int
) -> list[str]:
    """The names of the site's kiosks in this conference, revoked ones included."""
    rows = await conn.fetch(
        "SELECT device_name FROM kiosks WHERE conference_id = $1 AND site_id = $2",
        conference_id,
        site_id,
    )
    return [r["device_name"] for r in rows]


async def use_code(conn: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    """Take a live code (once: two devices typing it at once, one gets it)."""
    return await conn.fetchrow(
        """UPDATE kiosk_codes SET used_at = now()
            WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
        RETURNING conference_id, site_id, created_by""",
        code_hash,
    )


async def mark_code_used(conn: asyncpg.Connection, code_hash: bytes, kiosk_id: int) -> None:
    await conn.execute(
        "UPDATE kiosk_codes SET kiosk_id = $2 WHERE code_hash = $1", code_hash, kiosk_id
    )


async def fetch_conference_brief(conn: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""SELECT c.id, c.code, c.title, c.starts_at, c.ends_at, c.checkin_opens_at,
                   c.timezone, c.policy_other_site, c.signed_off_at, ({STATUS_SQL}) AS status
              FROM conferences c WHERE c.id = $1""",
        conference_id,
    )


async def fetch_site_brief(conn: asyncpg.Connection, site_id: int) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT s.id, s.code, s.name, u.code AS unit_code, u.name AS unit_name,
                  u.path AS unit_path,
                  u.parent_id AS unit_parent_id
             FROM sites s JOIN units u ON u.id = s.unit_id WHERE s.id = $1""",
        site_id,
    )


_KIOSK_SQL = """
    SELECT k.token_id, k.device_name, k.enrolled_at, k.last_seen_at, k.queue_length,
           k.app_version, t.revoked_at,
           (SELECT count(*) FROM checkins c
             WHERE c.conference_id = k.conference_id AND c.site_id = k.site_id
               AND c.kiosk_id = k.token_id) AS scans
      FROM kiosks k JOIN tokens t ON t.id = k.token_id
"""


async def fetch_site_kiosks(
    conn: asyncpg.Connection, conference_id: int, site_id: int
) -> list[asyncpg.Record]:
    """The site's kiosks, with how many scans each sent (on the site's scan index)."""
    return await conn.fetch(
        _KIOSK_SQL + " WHERE k.conference_id = $1 AND k.site_id = $2 ORDER BY k.token_id",
        conference_id,
        site_id,
    )


async def fetch_site_kiosk(
    conn: asyncpg.Connection, conference_id: int, site_id: int, kiosk_id: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        _KIOSK_SQL + " WHERE k.conference_id = $1 AND k.site_id = $2 AND k.token_id = $3",
        conference_id,
        site_id,
        kiosk_id,
    )


async def touch_kiosks(
    conn: asyncpg.Connection,
    token_ids: list[int],
    queue_length: int | None = None,
    app_version: str | None = None,
) -> None:
    """These kiosks are alive now (with what they still have to send, when they said); a
    gap of more than 5 minutes since they were last seen is recorded as a silence
    (reconciliation's `kiosk_silent`)."""
    await conn.execute(
        """WITH before AS (
               SELECT token_id, last_seen_at FROM kiosks
                WHERE token_id = ANY($1::bigint[]) ORDER BY token_id FOR NO KEY UPDATE),
           gaps AS (
               INSERT INTO kiosk_silences (token_id, silent_from, silent_until)
               SELECT token_id, last_seen_at, now() FROM before
                WHERE last_seen_at < now() - interval '5 minutes')
           UPDATE kiosks k SET last_seen_at = now(),
                  first_seen_at = coalesce(k.first_seen_at, now()),
                  queue_length = coalesce($2, k.queue_length),
                  app_version = coalesce($3, k.app_version)
             FROM before WHERE k.token_id = before.token_id""",
        token_ids,
        queue_length,
        app_version,
    )


async def beat_kiosks(
    conn: asyncpg.Connection, token_ids: list[int], queue_lengths: list[int | None]
) -> set[int]:
    """The heartbeats of many kiosks at once, each with its own queue length, as
    `touch_kiosks` records one (silences included); answers the revoked among them,
    which are not touched."""
    rows = await conn.fetch(
        """WITH given AS (
               SELECT * FROM unnest($1::bigint[], $2::int[]) AS g(token_id, queue_length)),
           revoked AS (
               SELECT id FROM tokens WHERE id = ANY($1::bigint[]) AND revoked_at IS NOT NULL),
           before AS (
               SELECT token_id, last_seen_at FROM kiosks
                WHERE token_id = ANY($1::bigint[]) AND token_id NOT IN (SELECT id FROM revoked)
                ORDER BY token_id FOR NO KEY UPDATE),
           gaps AS (
               INSERT INTO kiosk_silences (token_id, silent_from, silent_until)
               SELECT token_id, last_seen_at, now() FROM before
                WHERE last_seen_at < now() - interval '5 minutes'),
           touched AS (
               UPDATE kiosks k SET last_seen_at = now(),
                      first_seen_at = coalesce(k.first_seen_at, now()),
                      queue_length = coalesce(g.queue_length, k.queue_length)
                 FROM before JOIN given g USING (token_id)
                WHERE k.token_id = before.token_id)
           SELECT id FROM revoked""",
        token_ids,
        queue_lengths,
    )
    return {r["id"] for r in rows}


async def fetch_site_tally(
    conn: asyncpg.Connection, conference_id: int, site_id: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM site_tallies WHERE conference_id = $1 AND site_id = $2",
        conference_id,
        site_id,
    )


async def fetch_expected(
    conn: asyncpg.Connection, conference_id: int, site_id: int
) -> list[asyncpg.Record]:
    """The site's roster by category, revoked delegates left out."""
    return await conn.fetch(
        """SELECT category, count(*) AS n FROM delegates
            WHERE conference_id = $1 AND site_id = $2 AND NOT revoked GROUP BY category""",
        conference_id,
        site_id,
    )


async def fetch_roster_versions(
    conn: asyncpg.Connection, sites: list[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """The roster version of each (conference, site): the latest of the site's own and its
    conference's (a bulk import moves the conference's only)."""
    rows = await conn.fetch(
        """SELECT w.conference_id, w.site_id,
                  greatest(v.seq, cv.seq, 0) AS seq
             FROM unnest($1::bigint[], $2::bigint[]) AS w(conference_id, site_id)
             LEFT JOIN roster_versions v USING (conference_id, site_id)
             LEFT JOIN roster_conference_versions cv USING (conference_id)""",
        [c for c, _ in sites],
        [s for _, s in sites],
    )
    return {(r["conference_id"], r["site_id"]): r["seq"] for r in rows}
