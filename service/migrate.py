"""Forward-only migrations from the packaged `sql/` folder.

Each `NNNN_what.sql` runs once, in its own transaction, under an advisory lock so that
several workers or hosts starting together apply it once. Its SHA-256 is recorded; an
applied file whose text changed is refused: history is fixed, a change is a new file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from diemcau.errors import Msg

log = logging.getLogger("diemcau.migrate")

# Any constant works; it only has to be the same in every diemcau process.
ADVISORY_LOCK_KEY = 0x6469656D636175  # "diemcau"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The database and the packaged migrations disagree; the message says how, in both
    languages (`message`; `str()` is the English one, for logs)."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(message.en)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def packaged_migrations() -> list[Migration]:
    """The migrations shipped in the package, in order."""
    found = []
    for entry in resources.files("diemcau.sql").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(
            Msg(
                f"hai tệp migration trùng số: {versions}",
                f"two migration files share a number: {versions}",
            )
        )
    return found


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing; answer the names applied now."""
    migrations = packaged_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version TEXT PRIMARY KEY,
                   name TEXT NOT NULL,
                   checksum TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {r["version"]: r for r in rows}
        done = []
        for m in migrations:
            row = applied.get(m.version)
            if row is not None:
                if row["checksum"] != m.checksum:
                    was, now = row["checksum"][:12], m.checksum[:12]
                    raise MigrationError(
                        Msg(
                            f"sql/{m.name} đã bị sửa sau khi áp dụng vào cơ sở dữ liệu này "
                            f"(ghi là {row['name']}, checksum {was}…, tệp bây giờ {now}…). "
                            "Migration đã áp dụng là lịch sử: trả lại tệp cũ và đưa thay "
                            "đổi vào một tệp số mới.",
                            f"sql/{m.name} was changed after it was applied to this database "
                            f"(recorded as {row['name']}, checksum {was}…, file now {now}…). "
                            "Applied migrations are history: restore the file and put the "
                            "change in a new numbered file.",
                        )
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            log.info("migration applied", extra={"migration": m.name})
            done.append(m.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
