"""PostgreSQL access: the pool, and where the DSN comes from."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg

from diemcau.config import Config, ConfigError, mask_dsn
from diemcau.embedded import EmbeddedPostgres
from diemcau.errors import Msg

T = TypeVar("T")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=_dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class DatabaseUnreachable(ConfigError):
    """PostgreSQL does not answer at the configured address; the message says why."""


async def _reach(dsn: str, opening: Awaitable[T]) -> T:
    """Await a first connection; a bad DSN or an unreachable server becomes one line.

    asyncpg's own messages quote the piece of the DSN they failed on, which may be a
    piece of the password; they are replaced by ours, with the DSN masked.
    """
    try:
        return await opening
    except ValueError:  # asyncpg's ClientConfigurationError is one too
        raise ConfigError(
            Msg(
                f"DATABASE_URL không đọc được như một địa chỉ PostgreSQL: {mask_dsn(dsn)}",
                f"DATABASE_URL cannot be read as a PostgreSQL URL: {mask_dsn(dsn)}",
            )
        ) from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        why = reason or type(exc).__name__
        raise DatabaseUnreachable(
            Msg(
                f"không kết nối được PostgreSQL tại {mask_dsn(dsn)}: {why}",
                f"cannot reach PostgreSQL at {mask_dsn(dsn)}: {why}",
            )
        ) from None


async def create_pool(dsn: str, size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python values."""
    pool = await _reach(
        dsn,
        asyncpg.create_pool(
            dsn, min_size=1, max_size=size, init=_init_connection, command_timeout=300
        ),
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection, with the same codecs as the pool's (for the CLI and migrations)."""
    conn = await _reach(dsn, asyncpg.connect(dsn))
    await _init_connection(conn)
    return conn


def resolve_dsn(config: Config) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN to use: DATABASE_URL, or the embedded server (started or joined)."""
    if config.database_url:
        return config.database_url, None
    embedded = EmbeddedPostgres(config.data_dir)
    return embedded.start(), embedded


# What losing PostgreSQL looks like from here: no connection at all (OSError), the server
# ending ours (a restart, a failover, pg_terminate_backend: SQLSTATE 57P0x), a broken link
# (class 08), or no free connection slot (53300).
DATABASE_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def database_lost(exc: BaseException | None) -> bool:
    """Whether `exc`, or anything that caused it, is the database going away.

    The chain matters: a connection ended mid-transaction surfaces as asyncpg's
    InterfaceError from the transaction's exit, with the real cause as its context.
    """
    for _ in range(10):  # a chain is short; never loop on a cycle
        if exc is None:
            return False
        if isinstance(exc, DATABASE_LOST):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
