"""Named SQL for conference keys and the delegates that badges are printed for."""

from __future__ import annotations

import asyncpg

KEY_COLUMNS = "id, conference_id, kid, public_key, private_key_enc, signing, created_at, retired_at"


async def fetch_signing_key(conn: asyncpg.Connection, conference_id: int) -> asyncpg.Record | None:
    """The key that signs new codes of this conference, if it has one yet."""
    return await conn.fetchrow(
        f"SELECT {KEY_COLUMNS} FROM conference_keys WHERE conference_id = $1 AND signing",
        conference_id,
    )


async def insert_key(
    conn: asyncpg.Connection, conference_id: int, kid: str, public: bytes, sealed: bytes
) -> asyncpg.Record | None:
    """A new signing key, or None when another worker made one first (or the kid is taken)."""
    return await conn.fetchrow(
        f"""INSERT INTO conference_keys (conference_id, kid, public_key, private_key_enc)
            VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING {KEY_COLUMNS}""",
        conference_id,
        kid,
        public,
        sealed,
    )


async def fetch_live_keys(conn: asyncpg.Connection, conference_id: int) -> list[asyncpg.Record]:
    """Every key of the conference that is not retired, oldest first."""
    return await conn.fetch(
        f"""SELECT {KEY_COLUMNS} FROM conference_keys
             WHERE conference_id = $1 AND retired_at IS NULL ORDER BY created_at, id""",
        conference_id,
    )


async def fetch_live_key(
    conn: asyncpg.Connection, conference_id: int, kid: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {KEY_COLUMNS} FROM conference_keys
             WHERE conference_id = $1 AND kid = $2 AND retired_at IS NULL""",
        conference_id,
        kid,
    )


async def fetch_some_key(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """Any one stored key, to check at start-up that the secret still opens them."""
    return await conn.fetchrow(f"SELECT {KEY_COLUMNS} FROM conference_keys ORDER BY id LIMIT 1")


async def fetch_conference_site(
    conn: asyncpg.Connection, conference_id: int, site_code: str
) -> asyncpg.Record | None:
    """A participating site of the conference, with its unit's path for scope checks."""
    return await conn.fetchrow(
        """SELECT s.id, s.code, s.name, u.path AS unit_path
             FROM conference_sites cs
             JOIN sites s ON s.id = cs.site_id
             JOIN units u ON u.id = s.unit_id
            WHERE cs.conference_id = $1 AND s.code = $2""",
        conference_id,
        site_code,
    )


async def fetch_conference_sites(
    conn: asyncpg.Connection, conference_id: int
) -> list[asyncpg.Record]:
    """Every participating site, in code order."""
    return await conn.fetch(
        """SELECT s.id, s.code, s.name, u.path AS unit_path
             FROM conference_sites cs
             JOIN sites s ON s.id = cs.site_id
             JOIN units u ON u.id = s.unit_id
            WHERE cs.conference_id = $1 ORDER BY s.code""",
        conference_id,
    )


async def fetch_badge_delegates(
    conn: asyncpg.Connection, conference_id: int, site_id: int | None = None
) -> list[asyncpg.Record]:
    """Delegates to print badges for (not revoked), by site then roster order."""
    return await conn.fetch(
        """SELECT d.id, d.external_id, d.full_name, d.category, d.site_id, d.credential_version,
                  coalesce(u.name, '') AS unit_name
             FROM delegates d
             LEFT JOIN units u ON u.id = d.unit_id
            WHERE d.conference_id = $1 AND NOT d.revoked
              AND ($2::bigint IS NULL OR d.site_id = $2)
            ORDER BY d.site_id, d.id""",
        conference_id,
        site_id,
    )
