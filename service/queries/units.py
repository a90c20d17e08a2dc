"""Named SQL for the unit tree, and the small WHERE builder the list queries share."""

from __future__ import annotations

from typing import Any

import asyncpg

UNIT_SQL = """
    SELECT u.id, u.code, u.name, u.level, p.code AS parent_code, u.path,
           u.created_at, u.updated_at
      FROM units u
      LEFT JOIN units p ON p.id = u.parent_id
"""


def subtree_pattern(path: str) -> str:
    """A `LIKE` pattern for every path under `path` (itself included).

    Codes may hold `_`, a LIKE wildcard: escaped, or '/VN/L_/' would also match '/VN/LX/'.
    """
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Where:
    """AND-ed clauses with numbered parameters; clause text is fixed, values are `$n`."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        """`clause` uses `{}` once per value, replaced by its `$n`."""
        numbers = []
        for value in values:
            self.args.append(value)
            numbers.append(f"${len(self.args)}")
        self.clauses.append(clause.format(*numbers))

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


async def fetch_unit(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """One unit by code, with its parent's code."""
    return await conn.fetchrow(UNIT_SQL + " WHERE u.code = $1", code)


async def fetch_units_by_code(conn: asyncpg.Connection, codes: list[str]) -> list[asyncpg.Record]:
    """The units among these codes (for imports: one round trip for a whole file)."""
    return await conn.fetch(UNIT_SQL + " WHERE u.code = ANY($1::text[])", codes)


async def fetch_units(
    conn: asyncpg.Connection,
    *,
    scope_path: str | None,
    parent_id: int | None = None,
    under_path: str | None = None,
    level: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """A page of units in code order, inside `scope_path` when given."""
    where = Where()
    if scope_path:
        where.add("u.path LIKE {}", subtree_pattern(scope_path))
    if under_path:
        where.add("u.path LIKE {}", subtree_pattern(under_path))
    if parent_id is not None:
        where.add("u.parent_id = {}", parent_id)
    if level:
        where.add("u.level = {}", level)
    if after is not None:
        where.add("u.code > {}", after)
    sql = UNIT_SQL + where.sql() + f" ORDER BY u.code LIMIT {where.param(limit)}"
    return await conn.fetch(sql, *where.args)


async def count_subtree(conn: asyncpg.Connection, path: str) -> asyncpg.Record:
    """How many units (itself excluded) and sites lie under the unit with this path."""
    return await conn.fetchrow(
        """SELECT (SELECT count(*) FROM units WHERE path LIKE $1) - 1 AS units,
                  (SELECT count(*) FROM sites s JOIN units u ON u.id = s.unit_id
                    WHERE u.path LIKE $1) AS sites,
                  (SELECT count(*) FROM units c JOIN units p ON p.id = c.parent_id
                    WHERE p.path = $2) AS children""",
        subtree_pattern(path),
        path,
    )


async def count_unit_uses(conn: asyncpg.Connection, unit_id: int) -> asyncpg.Record:
    """What still names a unit: child units, sites, delegates, conferences, tokens (revoked
    ones too: they keep their scope for the audit)."""
    return await conn.fetchrow(
        """SELECT (SELECT count(*) FROM units WHERE parent_id = $1) AS children,
                  (SELECT count(*) FROM sites WHERE unit_id = $1) AS sites,
                  (SELECT count(*) FROM delegates WHERE unit_id = $1) AS delegates,
                  (SELECT count(*) FROM conferences WHERE unit_id = $1) AS conferences,
                  (SELECT count(*) FROM tokens WHERE unit_id = $1) AS tokens""",
        unit_id,
    )


async def fetch_readiness_counts(conn: asyncpg.Connection, path: str) -> list[asyncpg.Record]:
    """Sites under `path` counted by status and by child unit ('' = the unit itself)."""
    return await conn.fetch(
        """SELECT split_part(substr(u.path, length($2) + 1), '/', 1) AS child,
                  s.status, count(*) AS n
             FROM sites s JOIN units u ON u.id = s.unit_id
            WHERE u.path LIKE $1
            GROUP BY 1, 2""",
        subtree_pattern(path),
        path,
    )


async def fetch_children(conn: asyncpg.Connection, unit_id: int) -> list[asyncpg.Record]:
    """The direct children of a unit, in code order."""
    return await conn.fetch(
        "SELECT code, name, level FROM units WHERE parent_id = $1 ORDER BY code", unit_id
    )


async def insert_unit(
    conn: asyncpg.Connection, code: str, name: str, level: str, parent_id: int | None, path: str
) -> asyncpg.Record:
    """A new unit; `units_code_key` answers a duplicate."""
    return await conn.fetchrow(
        """INSERT INTO units (code, name, level, parent_id, path) VALUES ($1, $2, $3, $4, $5)
           RETURNING id""",
        code,
        name,
        level,
        parent_id,
        path,
    )


async def insert_units(
    conn: asyncpg.Connection, rows: list[tuple[str, str, str, str | None, str]]
) -> None:
    """(code, name, level, parent_code, path) in order: a parent made in the same batch is
    found by the statements after it."""
    await conn.executemany(
        """INSERT INTO units (code, name, level, parent_id, path)
           VALUES ($1, $2, $3, (SELECT id FROM units WHERE code = $4), $5)""",
        rows,
    )


async def rename_units(conn: asyncpg.Connection, rows: list[tuple[str, str, str]]) -> None:
    """(code, name, level): new name and level for existing units."""
    await conn.executemany(
        """UPDATE units SET name = $2, level = $3, updated_at = now()
            WHERE code = $1 AND (name, level) IS DISTINCT FROM ($2, $3)""",
        rows,
    )
