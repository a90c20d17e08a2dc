"""Test data made straight in the database, with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from diemcau import auth


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Factory:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._n = 0

    def _next(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:03d}"

    async def unit(
        self,
        code: str | None = None,
        *,
        parent: str | None = None,
        level: str = "province",
        name: str | None = None,
    ) -> asyncpg.Record:
        code = code or self._next("U")
        parent_row = None
        if parent is not None:
            parent_row = await self.conn.fetchrow(
                "SELECT id, path FROM units WHERE code=$1", parent
            )
        path = (parent_row["path"] if parent_row else "/") + code + "/"
        return await self.conn.fetchrow(
            """INSERT INTO units (code, name, level, parent_id, path) VALUES ($1,$2,$3,$4,$5)
               RETURNING *""",
            code,
            name or f"Đơn vị {code}",
            level,
            parent_row["id"] if parent_row else None,
            path,
        )

    async def site(
        self,
        code: str | None = None,
        *,
        unit: str,
        level: str = "commune",
        status: str = "registered",
        capacity: int | None = 100,
        name: str | None = None,
    ) -> asyncpg.Record:
        code = code or self._next("S")
        unit_id = await self.conn.fetchval("SELECT id FROM units WHERE code=$1", unit)
        return await self.conn.fetchrow(
            """INSERT INTO sites (code, name, unit_id, level, capacity, status, search_text)
               VALUES ($1,$2,$3,$4,$5,$6,lower($1)) RETURNING *""",
            code,
            name or f"Điểm cầu {code}",
            unit_id,
            level,
            capacity,
            status,
        )

    async def token(
        self,
        role: str,
        *,
        unit: str | None = None,
        conference: str | None = None,
        site: str | None = None,
        label: str = "",
    ) -> str:
        secret, _ = await auth.create_token(
            self.conn, role, unit=unit, conference=conference, site=site, label=label
        )
        return secret

    async def conference(
        self,
        code: str | None = None,
        *,
        sites: list[str] = (),
        host_site: str | None = None,
        starts_in: timedelta = timedelta(days=7),
        **fields: Any,
    ) -> asyncpg.Record:
        code = code or self._next("HN")
        starts = datetime.now(UTC) + starts_in
        row = await self.conn.fetchrow(
            """INSERT INTO conferences (code, title, starts_at, ends_at, checkin_opens_at,
                                        host_site_id, policy_other_site, targets, unit_id)
               VALUES ($1, $2, $3, $4, $5, (SELECT id FROM sites WHERE code = $6), $7, $8,
                       (SELECT id FROM units WHERE code = $9))
               RETURNING *""",
            code,
            fields.get("title", f"Hội nghị {code}"),
            starts,
            starts + timedelta(hours=4),
            starts - timedelta(hours=1),
            host_site,
            fields.get("policy_other_site", "accept"),
            fields.get("targets", {"member": 0.98, "non_member": 0.9}),
            fields.get("unit"),  # owning unit code (organisers scoped to a subtree)
        )
        for s in sites:
            await self.conn.execute(
                """INSERT INTO conference_sites (conference_id, site_id)
                   SELECT $1, id FROM sites WHERE code = $2""",
                row["id"],
                s,
            )
        return row

    async def delegate(
        self,
        conference_id: int,
        *,
        site: str,
        unit: str | None = None,
        external_id: str | None = None,
        full_name: str = "Nguyễn Văn An",
        category: str = "member",
    ) -> asyncpg.Record:
        return await self.conn.fetchrow(
            """INSERT INTO delegates (conference_id, external_id, full_name, category, site_id,
                                      unit_id)
               VALUES ($1, $2, $3, $4, (SELECT id FROM sites WHERE code = $5),
                       (SELECT id FROM units WHERE code = $6))
               RETURNING *""",
            conference_id,
            external_id or self._next("DB"),
            full_name,
            category,
            site,
            unit,
        )
