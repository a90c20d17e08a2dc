"""Named SQL for conferences and their delegates."""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau.queries.units import subtree_pattern

# The status follows the clock (DESIGN, Rules): computed here so that every reader of a
# conference row, `conference["status"]`, sees the status of this moment, never a stale
# stored one. Columns are listed rather than `c.*` because `c.status` (the value stored at
# the last write) would shadow the computed one: a new column of `conferences` that
# readers need goes into this list.
STATUS_SQL = """
    CASE WHEN c.signed_off_at IS NOT NULL THEN 'signed_off'
         WHEN now() >= c.ends_at THEN 'closed'
         WHEN now() >= c.starts_at THEN 'live'
         WHEN now() >= c.checkin_opens_at THEN 'open'
         ELSE 'draft' END
"""

CONFERENCE_SQL = f"""
    SELECT c.id, c.code, c.title, c.starts_at, c.ends_at, c.checkin_opens_at, c.timezone,
           c.host_site_id, c.policy_other_site, c.targets, c.signed_off_at, c.created_at,
           c.updated_at, c.unit_id, ({STATUS_SQL}) AS status,
           h.code AS host_site, cu.code AS unit_code, cu.path AS unit_path
      FROM conferences c
      LEFT JOIN sites h ON h.id = c.host_site_id
      LEFT JOIN units cu ON cu.id = c.unit_id
"""

DELEGATE_SQL = """
    SELECT d.*, s.code AS site_code, s.name AS site_name, u.code AS unit_code,
           u.name AS unit_name, su.path AS site_unit_path
      FROM delegates d
      JOIN sites s ON s.id = d.site_id
      JOIN units su ON su.id = s.unit_id
      LEFT JOIN units u ON u.id = d.unit_id
"""

# Vietnamese letters (both cases) and their bare Latin letter, for accent-free name search
# ("nguyen van an" finds "Nguyễn Văn An"): the database may run with the C collation, where
# lower() leaves "Đ" alone, so upper case is mapped here too.
FOLD_FROM = (
    "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúýĂăĐđĨĩŨũƠơƯưẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệ"
    "ỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ"
)
FOLD_TO = (
    "aaaaeeeiioooouuyaaaaeeeiioooouuyaaddiiuuoouuaaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeee"
    "iiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy"
)
FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    """Lower case without Vietnamese diacritics, as the SQL name search compares."""
    return text.translate(FOLD_TABLE).lower()


def _subtree(path: str | None) -> str | None:
    # A unit code may hold '_', a LIKE wildcard: the pattern is escaped.
    return None if path is None else subtree_pattern(path)


async def fetch_conference(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """One conference by code, with its host site's code as `host_site`."""
    return await conn.fetchrow(CONFERENCE_SQL + " WHERE c.code = $1", code)


async def fetch_conference_by_id(
    conn: asyncpg.Connection, conference_id: int, *, lock: bool = False, share: bool = False
) -> asyncpg.Record | None:
    """One conference by id; `lock` holds its row until the transaction ends.

    FOR NO KEY UPDATE serialises writers of one conference (imports, site changes,
    schedule edits, sign-off) without blocking the foreign-key checks of check-ins.
    `share` (FOR SHARE) lets small writers (a headcount, an absence) go side by side
    while keeping them and a sign-off apart.
    """
    suffix = " FOR NO KEY UPDATE OF c" if lock else (" FOR SHARE OF c" if share else "")
    return await conn.fetchrow(CONFERENCE_SQL + " WHERE c.id = $1" + suffix, conference_id)


async def fetch_conferences(
    conn: asyncpg.Connection, *, unit_path: str | None, after: int | None, limit: int
) -> list[asyncpg.Record]:
    """Conferences newest first, limited to a unit subtree when `unit_path` is given."""
    return await conn.fetch(
        CONFERENCE_SQL
        + """ WHERE ($1::text IS NULL OR cu.path LIKE $1)
                AND ($2::bigint IS NULL OR c.id < $2)
              ORDER BY c.id DESC LIMIT $3""",
        _subtree(unit_path),
        after,
        limit,
    )


async def has_site_under(conn: asyncpg.Connection, conference_id: int, unit_path: str) -> bool:
    """Whether a participating site of the conference lies in this unit subtree."""
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM conference_sites cs
                            JOIN sites s ON s.id = cs.site_id
                            JOIN units u ON u.id = s.unit_id
                           WHERE cs.conference_id = $1 AND u.path LIKE $2)""",
        conference_id,
        subtree_pattern(unit_path),
    )


async def fetch_counts(conn: asyncpg.Connection, conference_id: int) -> asyncpg.Record:
    """How many sites take part and how many delegates the roster holds."""
    return await conn.fetchrow(
        """SELECT (SELECT count(*) FROM conference_sites WHERE conference_id = $1) AS sites,
                  (SELECT count(*) FROM delegates WHERE conference_id = $1) AS delegates""",
        conference_id,
    )


async def fetch_conference_sites(conn: asyncpg.Connection, conference_id: int) -> list[Any]:
    """The participating sites with their unit and roster size, by code."""
    return await conn.fetch(
        """SELECT s.code, s.name, u.code AS unit_code, s.level, s.capacity, s.status,
                  (SELECT count(*) FROM delegates d
                    WHERE d.conference_id = cs.conference_id AND d.site_id = s.id) AS delegates
             FROM conference_sites cs
             JOIN sites s ON s.id = cs.site_id
             JOIN units u ON u.id = s.unit_id
            WHERE cs.conference_id = $1
            ORDER BY s.code""",
        conference_id,
    )


async def fetch_delegate(
    conn: asyncpg.Connection, conference_id: int, delegate_id: int
) -> asyncpg.Record | None:
    """One delegate of a conference, with site and unit codes and the site's unit path."""
    return await conn.fetchrow(
        DELEGATE_SQL + " WHERE d.conference_id = $1 AND d.id = $2", conference_id, delegate_id
    )


async def fetch_delegates(
    conn: asyncpg.Connection,
    conference_id: int,
    *,
    site_unit_path: str | None = None,
    site: str | None = None,
    unit_path: str | None = None,
    category: str | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """A page of a roster in external_id order (the roster's own numbering, and the
    order of its unique index); every filter is optional.

    `site_unit_path` keeps delegates of sites inside a unit subtree (a technician's scope);
    `unit_path` the delegates whose own unit is inside that subtree; `q` matches the
    accent-free name, or the external id exactly.
    """
    return await conn.fetch(
        DELEGATE_SQL
        + """ WHERE d.conference_id = $1
                AND ($2::text IS NULL OR su.path LIKE $2)
                AND ($3::text IS NULL OR s.code = $3)
                AND ($4::text IS NULL OR u.path LIKE $4)
                AND ($5::text IS NULL OR d.category = $5)
                AND ($6::text IS NULL OR d.external_id = $7
                     OR lower(translate(d.full_name, $8, $9)) LIKE '%' || $6 || '%')
                AND ($10::text IS NULL OR d.external_id > $10)
              ORDER BY d.external_id LIMIT $11""",
        conference_id,
        _subtree(site_unit_path),
        site,
        _subtree(unit_path),
        category,
        None
        if q is None
        else fold(q).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_"),
        q,
        FOLD_FROM,
        FOLD_TO,
        after,
        limit,
    )


async def fetch_delegate_by_external_id(
    conn: asyncpg.Connection, conference_id: int, external_id: str
) -> asyncpg.Record | None:
    """One delegate of a conference by the id the roster gives them (a member card number)."""
    return await conn.fetchrow(
        DELEGATE_SQL + " WHERE d.conference_id = $1 AND d.external_id = $2",
        conference_id,
        external_id,
    )


async def fetch_category_counts(conn: asyncpg.Connection, conference_id: int) -> dict[str, int]:
    """How many delegates the roster holds in each category (0 for a category it lacks)."""
    rows = await conn.fetch(
        """SELECT category, count(*) AS n FROM delegates
            WHERE conference_id = $1 GROUP BY category""",
        conference_id,
    )
    found = {r["category"]: r["n"] for r in rows}
    return {c: found.get(c, 0) for c in ("member", "non_member", "guest")}


async def has_attendance(conn: asyncpg.Connection, delegate_id: int) -> bool:
    """Whether the delegate has valid scans on record (an attendance row)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM attendances WHERE delegate_id = $1)", delegate_id
        )
    )
