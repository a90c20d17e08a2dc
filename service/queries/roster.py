"""Named SQL for the roster import: the maps rows are checked against, the staging
tables, the set-based checks over a whole file, and the writes."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

FETCH_SITE_MAP = """
    SELECT s.code, s.id, s.unit_id, cs.site_id IS NOT NULL AS taking_part
      FROM sites s
      LEFT JOIN conference_sites cs ON cs.site_id = s.id AND cs.conference_id = $1
"""
FETCH_UNIT_MAP = "SELECT code, id, path FROM units"
HAS_DELEGATES = "SELECT EXISTS (SELECT 1 FROM delegates WHERE conference_id = $1)"

CREATE_STAGING = """
    CREATE TEMP TABLE roster_staging (row integer, external_id text, full_name text,
        category text, site_id bigint, unit_id bigint, phone text, email text)
    ON COMMIT DROP
"""

# Rows whose external_id appeared on an earlier row of the same file.
CREATE_REPEATS = """
    CREATE TEMP TABLE roster_dups ON COMMIT DROP AS
    SELECT external_id, min(row) AS first, count(*) AS n FROM roster_staging
     WHERE external_id IS NOT NULL GROUP BY external_id HAVING count(*) > 1
"""
COUNT_REPEATS = "SELECT coalesce(sum(n - 1), 0) FROM roster_dups"
FETCH_REPEATS = """
    SELECT st.row, st.external_id, d.first FROM roster_staging st
      JOIN roster_dups d USING (external_id)
     WHERE st.row <> d.first ORDER BY st.row LIMIT $1
"""

# The staged rows that add a delegate (no exact external_id in the roster): what the
# leading-zero and namesake checks look at, and what is inserted.
CREATE_NEW_ROWS = """
    CREATE TEMP TABLE roster_new ON COMMIT DROP AS
    SELECT st.* FROM roster_staging st
     WHERE st.external_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM delegates d
                        WHERE d.conference_id = $1 AND d.external_id = st.external_id)
"""

# All-digit ids equal once leading zeros are dropped ('000123' and '123'): a new row
# against the roster...
FETCH_ZEROS_IN_ROSTER = """
    SELECT n.row, n.external_id, d.external_id AS existing, d.full_name AS existing_name,
           count(*) OVER () AS total
      FROM roster_new n
      JOIN delegates d ON d.conference_id = $1 AND d.external_id ~ '^[0-9]+$'
                      AND ltrim(d.external_id, '0') = ltrim(n.external_id, '0')
     WHERE n.external_id ~ '^[0-9]+$'
     ORDER BY n.row, d.external_id LIMIT $2
"""
# ... and rows of one file (roster_new, or roster_staging for a new roster) against the
# first row with the same digits. Exact repeats are FETCH_REPEATS' to report.
FETCH_ZEROS_IN_FILE = """
    WITH digits AS (
        SELECT row, external_id, ltrim(external_id, '0') AS bare FROM {table}
         WHERE external_id ~ '^[0-9]+$'),
    firsts AS (
        SELECT DISTINCT ON (bare) bare, row AS first, external_id AS first_id
          FROM digits ORDER BY bare, row)
    SELECT d.row, d.external_id, f.first, f.first_id, count(*) OVER () AS total
      FROM digits d JOIN firsts f USING (bare)
     WHERE d.external_id <> f.first_id
     ORDER BY d.row LIMIT $1
"""
# Whether a roster written straight from a file holds such ids (then the file's rows
# are staged again, to report them by row).
HAS_ZEROS = """
    SELECT EXISTS (SELECT 1 FROM delegates
                    WHERE conference_id = $1 AND external_id ~ '^[0-9]+$'
                    GROUP BY ltrim(external_id, '0') HAVING count(DISTINCT external_id) > 1)
"""

# New rows with the same name and site as a delegate already in the roster (the first
# such delegate), else as an earlier new row of the file.
FETCH_NAMESAKES = """
    WITH in_roster AS (
        SELECT DISTINCT ON (n.row) n.row, n.site_id, d.external_id AS existing,
               false AS in_file
          FROM roster_new n
          JOIN delegates d ON d.conference_id = $1 AND d.site_id = n.site_id
                          AND d.full_name = n.full_name
         ORDER BY n.row, d.external_id),
    firsts AS (
        SELECT DISTINCT ON (site_id, full_name) site_id, full_name, row AS first, external_id
          FROM roster_new WHERE site_id IS NOT NULL AND full_name IS NOT NULL
         ORDER BY site_id, full_name, row),
    in_file AS (
        SELECT n.row, n.site_id, f.external_id AS existing, true AS in_file
          FROM roster_new n JOIN firsts f USING (site_id, full_name)
         WHERE n.row <> f.first AND NOT EXISTS (SELECT 1 FROM in_roster r WHERE r.row = n.row)),
    found AS (SELECT * FROM in_roster UNION ALL SELECT * FROM in_file)
    SELECT found.row, found.existing, found.in_file, s.code AS site_code,
           count(*) OVER () AS total
      FROM found JOIN sites s ON s.id = found.site_id
     ORDER BY found.row LIMIT $2
"""
# Rows of a new roster, just written, that may repeat an earlier row's name and site
# ($2-$5: row, external_id, site_id, full_name): those whose (site, name) first belongs
# to another delegate (the roster's ids follow the file's order).
FETCH_NAMESAKES_WRITTEN = """
    SELECT c.row, f.external_id AS existing, true AS in_file, s.code AS site_code,
           count(*) OVER () AS total
      FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[])
           AS c(row, external_id, site_id, full_name)
      JOIN LATERAL (SELECT d.external_id FROM delegates d
                     WHERE d.conference_id = $1 AND d.site_id = c.site_id
                       AND d.full_name = c.full_name
                     ORDER BY d.id LIMIT 1) f ON f.external_id <> c.external_id
      JOIN sites s ON s.id = c.site_id
     ORDER BY c.row LIMIT $6
"""
# New rows with no category, in a file without that column: they cannot be added.
FETCH_NEW_WITHOUT_CATEGORY = """
    SELECT row, count(*) OVER () AS total FROM roster_new
     WHERE category IS NULL ORDER BY row LIMIT $1
"""

# A column the file leaves out ($2 unit_code, $3 phone, $4 email, $5 category absent)
# keeps what is stored; an empty cell in a column the file has clears it.
_NEW_UNIT = "CASE WHEN $2 THEN st.unit_id ELSE d.unit_id END"
_NEW_PHONE = "CASE WHEN $3 THEN st.phone ELSE d.phone END"
_NEW_EMAIL = "CASE WHEN $4 THEN st.email ELSE d.email END"
_NEW_CATEGORY = "CASE WHEN $5 THEN st.category ELSE d.category END"
UPDATE_EXISTING = f"""
    UPDATE delegates d
       SET full_name = st.full_name, category = {_NEW_CATEGORY}, site_id = st.site_id,
           unit_id = {_NEW_UNIT}, phone = {_NEW_PHONE}, email = {_NEW_EMAIL},
           credential_version = d.credential_version + (d.site_id <> st.site_id)::int,
           updated_at = now()
      FROM roster_staging st
     WHERE d.conference_id = $1 AND d.external_id = st.external_id
       AND (d.full_name, d.category, d.site_id, d.unit_id, d.phone, d.email)
           IS DISTINCT FROM (st.full_name, {_NEW_CATEGORY}, st.site_id, {_NEW_UNIT},
                             {_NEW_PHONE}, {_NEW_EMAIL})
"""
INSERT_NEW = """
    INSERT INTO delegates (conference_id, external_id, full_name, category, site_id, unit_id,
                           phone, email)
    SELECT $1, n.external_id, n.full_name, n.category, n.site_id, n.unit_id, n.phone, n.email
      FROM roster_new n
"""


async def copy_records(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], data: bytes
) -> int:
    """COPY text records into `table`: how many rows."""
    # A buffer, not a file object, which asyncpg reads through the thread pool: each read
    # then waits for the GIL the checking thread holds. (Not bytes: asyncpg takes those
    # for a path.)
    status = await conn.copy_to_table(table, source=memoryview(data), columns=columns)
    return count_of(status)


def count_of(status: str) -> int:
    """The row count of a command status ('INSERT 0 12' -> 12)."""
    return int(status.rsplit(" ", 1)[-1])
