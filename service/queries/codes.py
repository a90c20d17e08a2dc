"""Named SQL for "did you mean": codes near one that was not found, within a scope."""

from __future__ import annotations

import asyncpg

# Candidates share the first two letters, in any case: enough for a wrong case or a
# slip later in the code, and a bounded list however big the registry (an error path
# must stay cheap).
_CANDIDATES = {
    "units": """SELECT u.code FROM units u
                 WHERE lower(u.code) LIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR u.path LIKE $2)
                 ORDER BY u.code LIMIT 5000""",
    "sites": """SELECT s.code FROM sites s JOIN units u ON u.id = s.unit_id
                 WHERE lower(s.code) LIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR u.path LIKE $2)
                 ORDER BY s.code LIMIT 5000""",
    "conferences": """SELECT c.code FROM conferences c LEFT JOIN units u ON u.id = c.unit_id
                 WHERE lower(c.code) LIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR u.path LIKE $2)
                 ORDER BY c.code LIMIT 5000""",
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def fetch_codes_near(
    conn: asyncpg.Connection, table: str, code: str, scope_path: str | None
) -> list[str]:
    """Codes of `table` ('units', 'sites', 'conferences') that start like `code`, inside
    the unit subtree `scope_path` (None: everywhere)."""
    prefix = _escape_like(code[:2].lower()) + "%"
    scope = None if scope_path is None else _escape_like(scope_path) + "%"
    return [r["code"] for r in await conn.fetch(_CANDIDATES[table], prefix, scope)]
