"""Helpers shared by CLI commands: the config, a database connection, problems as text."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from diemcau.config import Config
from diemcau.db import connect, resolve_dsn
from diemcau.errors import Problem
from diemcau.logs import setup_logging
from diemcau.migrate import migrate


def load_config() -> Config:
    config = Config.from_env()
    setup_logging("WARNING" if config.log_level == "INFO" else config.log_level)
    return config


@asynccontextmanager
async def database(config: Config) -> AsyncIterator[asyncpg.Connection]:
    """A migrated connection: to DATABASE_URL, or to the embedded server (joined or started)."""
    dsn, embedded = resolve_dsn(config)
    try:
        conn = await connect(dsn)
        try:
            await migrate(conn)
            yield conn
        finally:
            await conn.close()
    finally:
        if embedded is not None:
            embedded.stop()


def report_problem(problem: Problem) -> int:
    """Print a problem the way a person reads it; answer the exit status."""
    body = problem.body("en")
    print(f"error: {body.get('detail') or body['title']}", file=sys.stderr)
    for err in body.get("errors", []):
        where = f"row {err['row']}, " if "row" in err else ""
        print(f"  {where}{err.get('field', '')}: {err['message']}", file=sys.stderr)
    return 1
