"""The migration runner: applies in order, once, under a lock, and refuses edited history."""

from __future__ import annotations

import asyncio

import pytest

from diemcau.db import connect
from diemcau.migrate import Migration, MigrationError, migrate, packaged_migrations


def test_packaged_migrations_are_numbered_and_shipped() -> None:
    found = packaged_migrations()
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert found[0].name == "0001_registry.sql"


async def test_applies_each_once_and_records_checksums(fresh_database: str) -> None:
    conn = await connect(fresh_database)
    try:
        applied = await migrate(conn)
        assert applied == [m.name for m in packaged_migrations()]
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY 1")
        assert [r["checksum"] for r in rows] == [m.checksum for m in packaged_migrations()]
    finally:
        await conn.close()


async def test_edited_applied_migration_is_refused(fresh_database: str) -> None:
    first = [Migration("0001", "0001_one.sql", "CREATE TABLE t1 (id int);")]
    conn = await connect(fresh_database)
    try:
        await migrate(conn, first)
        edited = [Migration("0001", "0001_one.sql", "CREATE TABLE t1 (id bigint);")]
        with pytest.raises(MigrationError, match=r"0001_one\.sql was changed"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_failed_migration_changes_nothing(fresh_database: str) -> None:
    good = Migration("0001", "0001_good.sql", "CREATE TABLE good (id int);")
    bad = Migration("0002", "0002_bad.sql", "CREATE TABLE half (id int); SELECT 1/0;")
    conn = await connect(fresh_database)
    try:
        with pytest.raises(Exception, match="division by zero"):
            await migrate(conn, [good, bad])
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT to_regclass('good')") is not None
        versions = await conn.fetch("SELECT version FROM schema_migrations")
        assert [r["version"] for r in versions] == ["0001"]
    finally:
        await conn.close()


async def test_concurrent_runners_apply_once(fresh_database: str) -> None:
    conns = [await connect(fresh_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [name for r in results for name in r]
        assert sorted(applied) == sorted(m.name for m in packaged_migrations())
    finally:
        for c in conns:
            await c.close()
