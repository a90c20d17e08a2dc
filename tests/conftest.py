"""Test harness: one real PostgreSQL per session (embedded, or DATABASE_URL), migrated once.

Each test gets an application on its own pool and a clean database: tables are truncated
after every test, so tests may commit for real (LISTEN/NOTIFY, races, restarts).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.app import create_app
from diemcau.checkin import render
from diemcau.config import Config
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.migrate import migrate
from tests.factory import Factory, bearer
from tests.pgdir import embedded_data_dir

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


async def _create_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def with_database(dsn: str, name: str) -> str:
    """The same server, another database (works for socket and TCP DSNs)."""
    base, _, query = dsn.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def admin_dsn() -> Iterator[str]:
    """A server to create test databases on."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    with embedded_data_dir() as data_dir:
        embedded = EmbeddedPostgres(data_dir)
        dsn = embedded.start()
        yield dsn
        embedded.stop()


@pytest.fixture(scope="session")
def database_url(admin_dsn: str) -> Iterator[str]:
    """A migrated database for this test session."""
    name = f"diemcau_test_{secrets.token_hex(4)}"
    asyncio.run(_create_database(admin_dsn, name))
    dsn = with_database(admin_dsn, name)

    async def _migrate() -> None:
        conn = await connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(_migrate())
    yield dsn
    asyncio.run(_drop_database(admin_dsn, name))


@pytest.fixture
async def fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    """An empty, unmigrated database (for the migration runner's own tests)."""
    name = f"diemcau_fresh_{secrets.token_hex(4)}"
    await _create_database(admin_dsn, name)
    yield with_database(admin_dsn, name)
    await _drop_database(admin_dsn, name)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return Config(database_url=database_url, data_dir=tmp_path, secret_key="t" * 32)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection (autocommit), and a clean database after the test."""
    conn = await connect(database_url)
    yield conn
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations'"
    )
    if tables:
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    # Site codes are cached by id in the process (a code never changes); ids restart
    # here, so the next test's site 1 may bear another code.
    render._SITE_CODES.clear()
    await conn.close()


@pytest.fixture
def factory(db: asyncpg.Connection) -> Factory:
    return Factory(db)


@pytest.fixture
def app(config: Config) -> web.Application:
    return create_app(config)


@pytest.fixture
async def client(db: asyncpg.Connection, aiohttp_client: Any, app: web.Application) -> TestClient:
    # Depends on `db` so that the database is cleaned after every test that used the API;
    # `db` first, so that the app (and its background tasks: the live board's sweeps) has
    # stopped before the tables are truncated.
    return await aiohttp_client(app)


@pytest.fixture
async def tree(factory: Factory) -> None:
    """VN > LC (Lai Châu) > LC-TD (Tam Đường) > LC-TD-BB (Bản Bo); VN > HG (Hà Giang)."""
    await factory.unit("VN", level="national", name="Việt Nam")
    await factory.unit("LC", parent="VN", name="Lai Châu")
    await factory.unit("LC-TD", parent="LC", level="district", name="Tam Đường")
    await factory.unit("LC-TD-BB", parent="LC-TD", level="commune", name="Bản Bo")
    await factory.unit("HG", parent="VN", name="Hà Giang")


@pytest.fixture
async def organiser(factory: Factory) -> dict[str, str]:
    """The auth header of an unscoped organiser."""
    return bearer(await factory.token("organiser"))


Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def cli(config: Config, db: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Run:
    """`await cli("unit", "list")` -> (exit status, stdout, stderr), as a person runs it."""
    from diemcau.cli import main

    monkeypatch.setenv("DATABASE_URL", config.database_url or "")
    monkeypatch.setenv("DIEMCAU_SECRET_KEY", config.secret_key or "")
    monkeypatch.setenv("DIEMCAU_DATA_DIR", str(config.data_dir))
    for name in ("DIEMCAU_LANGUAGE", "DIEMCAU_TIMEZONE", "DIEMCAU_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = await asyncio.to_thread(main, list(argv))
        except SystemExit as stopped:  # argparse refusing the arguments
            code = int(stopped.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
