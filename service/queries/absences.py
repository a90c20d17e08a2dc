"""Named SQL for absences: one delegate's, the list (and the make-up list), the import."""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau.queries.units import subtree_pattern

ABSENCE_SQL = """
    SELECT a.delegate_id, d.external_id, d.full_name, d.category, s.code AS site_code,
           s.name AS site_name, u.code AS unit_code, su.path AS site_unit_path, a.reason,
           a.note, a.makeup_owed, a.actor, a.recorded_at, a.updated_at
      FROM absences a
      JOIN delegates d ON d.id = a.delegate_id
      JOIN sites s ON s.id = d.site_id
      JOIN units su ON su.id = s.unit_id
      LEFT JOIN units u ON u.id = d.unit_id
"""


async def upsert_absence(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Record or replace a delegate's absence; True when it is new."""
    return bool(
        await conn.fetchval(
            """INSERT INTO absences (delegate_id, conference_id, reason, note, makeup_owed,
                                     token_id, actor)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (delegate_id) DO UPDATE SET reason = EXCLUDED.reason,
                   note = EXCLUDED.note, makeup_owed = EXCLUDED.makeup_owed,
                   token_id = EXCLUDED.token_id, actor = EXCLUDED.actor, updated_at = now()
               RETURNING xmax = 0""",
            values["delegate_id"],
            values["conference_id"],
            values["reason"],
            values["note"],
            values["makeup_owed"],
            values["token_id"],
            values["actor"],
        )
    )


async def fetch_absence(
    conn: asyncpg.Connection, conference_id: int, delegate_id: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        ABSENCE_SQL + " WHERE a.conference_id = $1 AND a.delegate_id = $2",
        conference_id,
        delegate_id,
    )


async def delete_absence(conn: asyncpg.Connection, conference_id: int, delegate_id: int) -> None:
    await conn.execute(
        "DELETE FROM absences WHERE conference_id = $1 AND delegate_id = $2",
        conference_id,
        delegate_id,
    )


async def fetch_counted_site(conn: asyncpg.Connection, delegate_id: int) -> asyncpg.Record | None:
    """Where and when a delegate was counted, if they checked in."""
    return await conn.fetchrow(
        """SELECT s.code, a.first_at FROM attendances a JOIN sites s ON s.id = a.site_id
            WHERE a.delegate_id = $1 AND a.site_id IS NOT NULL""",
        delegate_id,
    )


async def fetch_absences(
    conn: asyncpg.Connection,
    conference_id: int,
    *,
    site_unit_path: str | None,
    site: str | None,
    reason: str | None,
    makeup_owed: bool | None,
    after: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A page of a conference's absences in external_id order."""
    return await conn.fetch(
        ABSENCE_SQL
        + """ WHERE a.conference_id = $1
                AND ($2::text IS NULL OR su.path LIKE $2)
                AND ($3::text IS NULL OR s.code = $3)
                AND ($4::text IS NULL OR a.reason = $4)
                AND ($5::bool IS NULL OR a.makeup_owed = $5)
                AND ($6::text IS NULL OR d.external_id > $6)
              ORDER BY d.external_id LIMIT $7""",
        conference_id,
        None if site_unit_path is None else subtree_pattern(site_unit_path),
        site,
        reason,
        makeup_owed,
        after,
        limit,
    )


async def fetch_makeup(
    conn: asyncpg.Connection, conference_id: int, site_unit_path: str | None
) -> list[asyncpg.Record]:
    """Everyone who owes a make-up session, by site then external id."""
    return await conn.fetch(
        ABSENCE_SQL
        + """ WHERE a.conference_id = $1 AND a.makeup_owed
                AND ($2::text IS NULL OR su.path LIKE $2)
              ORDER BY s.code, d.external_id""",
        conference_id,
        None if site_unit_path is None else subtree_pattern(site_unit_path),
    )


# The import: rows staged by COPY, checked set-based, written in one statement.
CREATE_STAGING = """
    CREATE TEMP TABLE absence_import (
        row int, delegate_id bigint, external_id text, reason text, note text,
        makeup_owed bool, found bigint
    ) ON COMMIT DROP
"""
STAGING_COLUMNS = ("row", "delegate_id", "external_id", "reason", "note", "makeup_owed")

# Each row's delegate, by id (and then the external id, when given too, must be theirs)
# or by external id: two statements, so each is a probe of a unique index.
FIND_BY_ID = """
    UPDATE absence_import i SET found = d.id
      FROM delegates d
     WHERE i.delegate_id IS NOT NULL AND d.id = i.delegate_id AND d.conference_id = $1
       AND (i.external_id IS NULL OR d.external_id = i.external_id)
"""
FIND_BY_EXTERNAL_ID = """
    UPDATE absence_import i SET found = d.id
      FROM delegates d
     WHERE i.delegate_id IS NULL AND d.conference_id = $1 AND d.external_id = i.external_id
"""

# Rows whose delegate is unknown or outside the caller's subtree ($1: "%" for all),
# checked in already, or named again by a later row.
CHECK_ROWS = """
    SELECT i.row, 'delegate' AS problem, NULL::text AS site, NULL::int AS first_row
      FROM absence_import i
      LEFT JOIN delegates d ON d.id = i.found
      LEFT JOIN sites s ON s.id = d.site_id
      LEFT JOIN units u ON u.id = s.unit_id
     WHERE i.found IS NULL OR u.path NOT LIKE $1
    UNION ALL
    SELECT i.row, 'checked_in', s.code, NULL
      FROM absence_import i
      JOIN attendances a ON a.delegate_id = i.found AND a.site_id IS NOT NULL
      JOIN sites s ON s.id = a.site_id
    UNION ALL
    SELECT i.row, 'repeated', NULL, f.first_row
      FROM absence_import i
      JOIN (SELECT found, min(row) AS first_row FROM absence_import
             WHERE found IS NOT NULL GROUP BY found) f
        ON f.found = i.found AND f.first_row < i.row
"""

WRITE_ROWS = """
    WITH written AS (
        INSERT INTO absences (delegate_id, conference_id, reason, note, makeup_owed,
                              token_id, actor)
        SELECT found, $1, reason, note, makeup_owed, $2, $3 FROM absence_import ORDER BY found
        ON CONFLICT (delegate_id) DO UPDATE SET reason = EXCLUDED.reason,
            note = EXCLUDED.note, makeup_owed = EXCLUDED.makeup_owed,
            token_id = EXCLUDED.token_id, actor = EXCLUDED.actor, updated_at = now()
        RETURNING xmax = 0 AS inserted)
    SELECT count(*) FILTER (WHERE inserted) AS imported,
           count(*) FILTER (WHERE NOT inserted) AS updated
      FROM written
"""
