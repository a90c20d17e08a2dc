"""Named SQL for kiosks' roster snapshots and name search."""

from __future__ import annotations

import asyncpg

from diemcau.queries.conferences import FOLD_FROM, FOLD_TO

# A roster entry: the delegate as a kiosk keeps it offline.
_ROSTER_FROM = """
           d.id, d.external_id, d.full_name, d.category, u.code AS unit_code,
           u.name AS unit_name, s.code AS site_code, d.credential_version, d.revoked
      FROM delegates d
      JOIN sites s ON s.id = d.site_id
      LEFT JOIN units u ON u.id = d.unit_id
"""


async def fetch_unit_scope_sites(
    conn: asyncpg.Connection, conference_id: int, site_id: int
) -> list[int]:
    """Participating sites under the parent of this site's unit (the unit itself when it
    is a root). `starts_with`, not LIKE: a code may hold `_`, a LIKE wildcard."""
    return [
        r["id"]
        for r in await conn.fetch(
            """WITH here AS (
                   SELECT coalesce(p.path, u.path) AS path
                     FROM sites s JOIN units u ON u.id = s.unit_id
                     LEFT JOIN units p ON p.id = u.parent_id
                    WHERE s.id = $2)
               SELECT s.id FROM conference_sites cs
                 JOIN sites s ON s.id = cs.site_id
                 JOIN units u ON u.id = s.unit_id, here
                WHERE cs.conference_id = $1 AND starts_with(u.path, here.path)
                ORDER BY s.id""",
            conference_id,
            site_id,
        )
    ]


async def fetch_version(conn: asyncpg.Connection, conference_id: int, site_ids: list[int]) -> int:
    """The roster version of these sites: the latest of theirs and their conference's
    (a bulk import moves the conference's only)."""
    return await conn.fetchval(
        """SELECT greatest(
                  (SELECT max(seq) FROM roster_versions
                    WHERE conference_id = $1 AND site_id = ANY($2::bigint[])),
                  (SELECT seq FROM roster_conference_versions WHERE conference_id = $1), 0)""",
        conference_id,
        site_ids,
    )


async def fetch_keys_mark(conn: asyncpg.Connection, conference_id: int) -> str:
    """Changes when a key is added or retired: part of the snapshot's ETag."""
    row = await conn.fetchrow(
        """SELECT count(*) AS n, coalesce(max(id), 0) AS last,
                  count(*) FILTER (WHERE retired_at IS NOT NULL) AS retired
             FROM conference_keys WHERE conference_id = $1""",
        conference_id,
    )
    return f"{row['n']}-{row['last']}-{row['retired']}"


async def fetch_site_names(conn: asyncpg.Connection, site_ids: list[int]) -> dict[str, str]:
    """Site code -> name, for the sites of a snapshot."""
    rows = await conn.fetch(
        "SELECT code, name FROM sites WHERE id = ANY($1::bigint[]) ORDER BY code", site_ids
    )
    return {r["code"]: r["name"] for r in rows}


async def count_delegates(conn: asyncpg.Connection, conference_id: int, site_ids: list[int]) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM delegates WHERE conference_id = $1 AND site_id = ANY($2::bigint[])",
        conference_id,
        site_ids,
    )


async def fetch_roster(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int], after: int | None
) -> list[asyncpg.Record]:
    """The scope's delegates (changed after `after`, when given), on the site index."""
    return await conn.fetch(
        "SELECT"
        + _ROSTER_FROM
        + """ WHERE d.conference_id = $1 AND d.site_id = ANY($2::bigint[])
                AND ($3::bigint IS NULL OR d.roster_seq > $3)
              ORDER BY d.site_id, d.id""",
        conference_id,
        site_ids,
        after,
    )


async def fetch_removed(
    conn: asyncpg.Connection, conference_id: int, site_ids: list[int], after: int
) -> list[int]:
    rows = await conn.fetch(
        """SELECT DISTINCT delegate_id FROM roster_removals
            WHERE conference_id = $1 AND site_id = ANY($2::bigint[]) AND roster_seq > $3
            ORDER BY delegate_id""",
        conference_id,
        site_ids,
        after,
    )
    return [r["delegate_id"] for r in rows]


async def search_site(
    conn: asyncpg.Connection, conference_id: int, site_id: int, patterns: list[str], limit: int
) -> list[asyncpg.Record]:
    """One site's delegates whose folded name matches every pattern: the site index
    bounds the work to that site's delegates, never the whole roster."""
    return await conn.fetch(
        "SELECT a.first_at IS NOT NULL AS checked_in,"
        + _ROSTER_FROM
        + """ LEFT JOIN attendances a ON a.conference_id = d.conference_id
                                    AND a.delegate_id = d.id
              WHERE d.conference_id = $1 AND d.site_id = $2
                AND lower(translate(d.full_name, $3, $4)) LIKE ALL ($5::text[])
              ORDER BY d.full_name, d.id LIMIT $6""",
        conference_id,
        site_id,
        FOLD_FROM,
        FOLD_TO,
        patterns,
        limit,
    )


# The unit scope of a kiosk's site, as `fetch_unit_scope_sites` defines it: the path of
# the parent of the site's unit (the unit itself when it is a root).
_KIOSK_SCOPE_PATH = """
    SELECT coalesce(p.path, u.path) FROM sites s JOIN units u ON u.id = s.unit_id
      LEFT JOIN units p ON p.id = u.parent_id WHERE s.id = k.site_id"""


async def record_roster_scope(conn: asyncpg.Connection, token_id: int, scope: str) -> None:
    """The roster this kiosk took last (what its manual check-ins may name)."""
    await conn.execute(
        "UPDATE kiosks SET roster_scope = $2 WHERE token_id = $1 AND roster_scope <> $2",
        token_id,
        scope,
    )


async def fetch_manual_reach(
    conn: asyncpg.Connection, conference_id: int, asked: list[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Of these (kiosk, site) pairs, those where the kiosk took its unit's roster and the
    site is a participating site of that scope."""
    rows = await conn.fetch(
        f"""SELECT w.token_id, w.site_id
              FROM unnest($2::bigint[], $3::bigint[]) AS w(token_id, site_id)
              JOIN kiosks k ON k.token_id = w.token_id AND k.conference_id = $1
                           AND k.roster_scope = 'unit'
              JOIN conference_sites cs ON cs.conference_id = $1 AND cs.site_id = w.site_id
              JOIN sites s ON s.id = w.site_id
              JOIN units u ON u.id = s.unit_id
             WHERE starts_with(u.path, ({_KIOSK_SCOPE_PATH}))""",
        conference_id,
        [t for t, _ in asked],
        [s for _, s in asked],
    )
    return {(r["token_id"], r["site_id"]) for r in rows}
