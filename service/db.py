"""PostgreSQL access: the pool, and where the DSN comes from."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from diemcau.config import Config
from diemcau.embedded import EmbeddedPostgres


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def create_pool(dsn: str, size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python values."""
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=size, init=_init_connection, command_timeout=300
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection, with the same codecs as the pool's (for the CLI and migrations)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


def resolve_dsn(config: Config) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN to use: DATABASE_URL, or the embedded server (started or joined)."""
    if config.database_url:
        return config.database_url, None
    embedded = EmbeddedPostgres(config.data_dir)
    return embedded.start(), embedded
