"""Named SQL for check-in: the context of a batch, stored scans, delegates' attendance,
site tallies. Every write takes arrays (one statement per batch, not per scan)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from diemcau.checkin.timeline import TALLY_FIELDS

# Order of the checkins columns in `insert_checkins` (a row is a tuple in this order).
CHECKIN_COLUMNS = (
    "scan_id",
    "site_id",
    "kiosk_id",
    "delegate_id",
    "method",
    "direction",
    "scanned_at",
    "judged_at",
    "received_at",
    "result",
    "reason",
    "moved",
    "reentry",
    "skewed",
    "first_scanned_at",
    "first_site_id",
    "full_name",
    "category",
    "qr",
    "content_digest",
)
_CHECKIN_TYPES = (
    "uuid",
    "bigint",
    "bigint",
    "bigint",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "bool",
    "bool",
    "bool",
    "timestamptz",
    "bigint",
    "text",
    "text",
    "text",
    "bytea",
)


def _unnest(types: Sequence[str], first: int = 2) -> str:
    return ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=first))


async def fetch_context(
    conn: asyncpg.Connection, conference_id: int, kiosk_ids: list[int], scan_ids: list[Any]
) -> asyncpg.Record | None:
    """The conference's window and policy, its keys, which of these kiosks' tokens are
    revoked, and the scans of these ids already stored (retries, as tuples: the
    conference each belongs to, then CHECKIN_COLUMNS; an id reused from another
    conference is a conflict): everything a batch needs before its scans, in one round
    trip."""
    # The stored scans: one probe of the unique key per id, whatever the statistics say.
    return await conn.fetchrow(
        f"""SELECT c.checkin_opens_at, c.ends_at, c.signed_off_at, c.policy_other_site,
                  c.timezone,
                  ARRAY(SELECT kid FROM conference_keys k
                         WHERE k.conference_id = c.id ORDER BY k.id) AS kids,
                  ARRAY(SELECT public_key FROM conference_keys k
                         WHERE k.conference_id = c.id ORDER BY k.id) AS publics,
                  ARRAY(SELECT retired_at IS NOT NULL FROM conference_keys k
                         WHERE k.conference_id = c.id ORDER BY k.id) AS retired,
                  ARRAY(SELECT t.id FROM unnest($2::bigint[]) AS w(id)
                          JOIN tokens t ON t.id = w.id
                         WHERE t.revoked_at IS NOT NULL) AS revoked_kiosks,
                  ARRAY(SELECT ROW(s.conference_id, {", ".join("s." + c for c in CHECKIN_COLUMNS)})
                          FROM unnest($3::uuid[]) AS w(scan_id)
                          JOIN checkins s ON s.scan_id = w.scan_id) AS stored
             FROM conferences c WHERE c.id = $1""",
        conference_id,
        kiosk_ids,
        scan_ids,
    )


async def fetch_delegates(
    conn: asyncpg.Connection,
    conference_id: int,
    delegate_ids: list[int],
    versions: list[int | None],
    kids: list[str | None],
) -> list[asyncpg.Record]:
    """Delegates by id with what the rules and the answer need; the digest of the code
    issued for (delegate, version, kid) when one was asked for and is known; and their
    attendance rows (`held_*`, null for none yet), locked for this transaction.

    Locked in id order, as every writer locks them, so two batches never wait on each
    other in a ring; locked before anything is decided, so a scan is judged against the
    state it will change. The delegates are found first (one key probe each), then their
    sites and units: planned as one join, a database of many conferences had the planner
    walk the sites first.
    """
    return await conn.fetch(
        """WITH wanted AS (
               SELECT * FROM unnest($2::bigint[], $3::int[], $4::text[])
                          AS c(delegate_id, version, kid)),
           held AS MATERIALIZED (
               SELECT a.delegate_id, a.category, a.home_site_id, a.timeline
                 FROM (SELECT DISTINCT delegate_id FROM wanted) w
                 JOIN attendances a ON a.delegate_id = w.delegate_id AND a.conference_id = $1
                ORDER BY a.delegate_id FOR UPDATE OF a),
           found AS MATERIALIZED (
               SELECT d.id, d.site_id, d.unit_id, d.category, d.credential_version,
                      d.revoked, d.full_name, c.version AS asked_version,
                      c.kid AS asked_kid, ic.digest
                 FROM wanted c
                 JOIN delegates d ON d.id = c.delegate_id AND d.conference_id = $1
                 LEFT JOIN issued_codes ic
                        ON ic.delegate_id = c.delegate_id AND ic.version = c.version
                       AND ic.kid = c.kid)
           SELECT f.*, s.code AS site_code, s.name AS site_name, u.code AS unit_code,
                  u.name AS unit_name,
                  h.category AS held_category, h.home_site_id AS held_home_site_id,
                  h.timeline AS held_timeline
             FROM found f
             JOIN sites s ON s.id = f.site_id
             LEFT JOIN units u ON u.id = f.unit_id
             LEFT JOIN held h ON h.delegate_id = f.id""",
        conference_id,
        delegate_ids,
        versions,
        kids,
    )


async def fetch_site_codes(conn: asyncpg.Connection, site_ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, code FROM sites WHERE id = ANY($1::bigint[])", site_ids)
    return {r["id"]: r["code"] for r in rows}


ATTENDANCE_COLUMNS = (
    "delegate_id",
    "category",
    "home_site_id",
    "site_id",
    "first_scan_id",
    "first_at",
    "present",
    "last_at",
    "timeline",
)
_ATTENDANCE_TYPES = (
    "bigint",
    "text",
    "bigint",
    "bigint",
    "uuid",
    "timestamptz",
    "bool",
    "timestamptz",
    "bytea",
)


async def update_attendances(
    conn: asyncpg.Connection, conference_id: int, rows: list[tuple[Any, ...]]
) -> None:
    sets = ", ".join(f"{c} = u.{c}" for c in ATTENDANCE_COLUMNS[3:])
    await conn.execute(
        f"""UPDATE attendances a SET {sets}, updated_at = now()
              FROM unnest({_unnest(_ATTENDANCE_TYPES)}) AS u({", ".join(ATTENDANCE_COLUMNS)})
             WHERE a.delegate_id = u.delegate_id AND a.conference_id = $1""",
        conference_id,
        *_columns(rows, len(ATTENDANCE_COLUMNS)),
    )


async def insert_checkins(
    conn: asyncpg.Connection, conference_id: int, rows: Sequence[tuple[Any, ...]]
) -> None:
    # Binary COPY: a third cheaper than INSERT ... SELECT FROM unnest() for a batch.
    await conn.copy_records_to_table(
        "checkins",
        records=[(conference_id, *row) for row in rows],
        columns=("conference_id", *CHECKIN_COLUMNS),
    )


async def add_tallies(
    conn: asyncpg.Connection,
    conference_id: int,
    site_ids: list[int],
    values: list[list[int]],
    last_scan_at: list[Any],
    arrivals: tuple[list[int], list[Any], list[int]] = ([], [], []),
) -> int:
    """Add to the tallies of these sites and to the arrivals per minute, all stamped with
    the conference's next `seq`, which it answers; a site's first scan makes its row.

    The transaction's last statement: the counter row's lock, taken first and held to the
    commit, orders the commits of one conference, so `seq` follows commit order
    (sql/0011_live.sql). Every tally and arrival row is locked after it, so two writers
    never wait on each other in a ring here. One notification per batch tells every
    worker's live board (diemcau.live.listener); PostgreSQL delivers it at the commit.
    """
    n = len(TALLY_FIELDS)
    adds = ", ".join(f"{f} = t.{f} + EXCLUDED.{f}" for f in TALLY_FIELDS)
    return await conn.fetchval(
        f"""WITH counter AS (
                INSERT INTO live_counters AS c (conference_id, seq) VALUES ($1, 1)
                ON CONFLICT (conference_id) DO UPDATE SET seq = c.seq + 1
                RETURNING seq),
            tallies AS (
                INSERT INTO site_tallies AS t
                       (conference_id, site_id, {", ".join(TALLY_FIELDS)}, last_scan_at, seq)
                SELECT $1, u.*, counter.seq
                  FROM counter,
                       unnest($2::bigint[], {_unnest(["int"] * n, 3)}, ${n + 3}::timestamptz[])
                         AS u
                ON CONFLICT (conference_id, site_id) DO UPDATE SET {adds},
                       last_scan_at = greatest(t.last_scan_at, EXCLUDED.last_scan_at),
                       seq = EXCLUDED.seq
                RETURNING 1),
            arrivals AS (
                INSERT INTO live_arrivals AS a (conference_id, unit_id, minute, arrivals, seq)
                SELECT $1, s.unit_id, w.minute, sum(w.n), counter.seq
                  FROM counter,
                       unnest(${n + 4}::bigint[], ${n + 5}::timestamptz[], ${n + 6}::int[])
                         AS w(site_id, minute, n)
                  JOIN sites s ON s.id = w.site_id
                 GROUP BY s.unit_id, w.minute, counter.seq
                ON CONFLICT (conference_id, unit_id, minute) DO UPDATE
                   SET arrivals = a.arrivals + EXCLUDED.arrivals, seq = EXCLUDED.seq
                RETURNING 1)
            SELECT seq, pg_notify('diemcau_live', $1::text || ' ' || seq) FROM counter""",
        conference_id,
        site_ids,
        *[[v[i] for v in values] for i in range(n)],
        last_scan_at,
        *arrivals,
    )


async def write_rows(
    conn: asyncpg.Connection,
    conference_id: int,
    made: list[tuple[Any, ...]],
    changed: list[tuple[Any, ...]],
    scans: Sequence[tuple[Any, ...]] = (),
) -> None:
    """A batch's first attendance rows, its changed ones and (for a small batch) its
    `checkins` rows, in one statement: one round trip where a COPY of the first rows
    (two), the UPDATE and the scans' COPY (two) took five.

    The order every writer keeps: the attendance rows first (a first row that another
    batch committed meanwhile fails its primary key, and the batch runs again), then the
    scans. Data-modifying CTEs would otherwise run after the main INSERT: the scans'
    INSERT is gated on the attendance writes' counts, which runs them to completion
    first. The tallies come after, last in the transaction (`add_tallies`)."""
    k = len(ATTENDANCE_COLUMNS)
    columns = ", ".join(ATTENDANCE_COLUMNS)
    sets = ", ".join(f"{c} = u.{c}" for c in ATTENDANCE_COLUMNS[3:])
    await conn.execute(
        f"""WITH made AS (
                INSERT INTO attendances (conference_id, {columns})
                SELECT $1, * FROM unnest({_unnest(_ATTENDANCE_TYPES, 2)})
                RETURNING 1),
            changed AS (
                UPDATE attendances a SET {sets}, updated_at = now()
                  FROM unnest({_unnest(_ATTENDANCE_TYPES, 2 + k)}) AS u({columns})
                 WHERE a.delegate_id = u.delegate_id AND a.conference_id = $1
                RETURNING 1)
            INSERT INTO checkins (conference_id, {", ".join(CHECKIN_COLUMNS)})
            SELECT $1, * FROM unnest({_unnest(_CHECKIN_TYPES, 2 + 2 * k)})
             WHERE (SELECT count(*) FROM made) + (SELECT count(*) FROM changed) >= 0""",
        conference_id,
        *_columns(made, k),
        *_columns(changed, k),
        *_columns(list(scans), len(CHECKIN_COLUMNS)),
    )


async def fetch_site_scans(
    conn: asyncpg.Connection,
    conference_id: int,
    site_id: int,
    result: str | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A site's scans, newest first, on the site's scan index."""
    return await conn.fetch(
        """SELECT c.id, c.scan_id, c.kiosk_id, c.delegate_id,
                  coalesce(d.full_name, c.full_name) AS full_name, c.method, c.direction,
                  c.scanned_at, c.received_at, c.result, c.moved, c.reentry, c.skewed,
                  c.annulment_id IS NOT NULL AS annulled
             FROM checkins c
             LEFT JOIN delegates d ON d.id = c.delegate_id
            WHERE c.conference_id = $1 AND c.site_id = $2
              AND ($3::text IS NULL OR c.result = $3)
              AND ($4::bigint IS NULL OR c.id < $4)
            ORDER BY c.id DESC LIMIT $5""",
        conference_id,
        site_id,
        result,
        before_id,
        limit,
    )


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows to the column arrays unnest() takes."""
    return [[row[i] for row in rows] for i in range(width)]
