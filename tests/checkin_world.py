"""A conference open for check-in, ready to scan: sites, delegates, kiosks and their codes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from diemcau import issuance
from diemcau.auth import CLI
from diemcau.keystore import Keystore
from tests.factory import Factory, bearer

SECRET = b"t" * 32  # the `config` fixture's DIEMCAU_SECRET_KEY


@dataclass
class World:
    conference: asyncpg.Record
    delegates: dict[str, asyncpg.Record]  # by external id
    kiosks: dict[str, list[dict[str, str]]]  # site code -> auth headers of its kiosks
    db: asyncpg.Connection
    codes: dict[int, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.conference["code"]

    async def qr(self, external_id: str) -> str:
        """The delegate's current code, issued as the service issues it."""
        row = await self.db.fetchrow(
            "SELECT * FROM delegates WHERE conference_id = $1 AND external_id = $2",
            self.conference["id"],
            external_id,
        )
        return await issuance.delegate_code(self.db, Keystore(SECRET), row, CLI)

    def kiosk(self, site: str, n: int = 0) -> dict[str, str]:
        return self.kiosks[site][n]

    async def tally(self, site: str) -> dict[str, Any]:
        row = await self.db.fetchrow(
            """SELECT t.* FROM site_tallies t JOIN sites s ON s.id = t.site_id
                WHERE t.conference_id = $1 AND s.code = $2""",
            self.conference["id"],
            site,
        )
        return dict(row) if row else {}


def scan(qr: str | None = None, *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A scan object as a kiosk sends it (a new scan_id, scanned now unless told)."""
    out: dict[str, Any] = {
        "scan_id": fields.pop("scan_id", str(uuid.uuid4())),
        "scanned_at": (at or datetime.now(UTC)).isoformat(),
    }
    if qr is not None:
        out["qr"] = qr
    out.update(fields)
    return out


async def build_world(
    factory: Factory,
    db: asyncpg.Connection,
    *,
    sites: tuple[str, ...] = ("LC-01", "LC-02"),
    per_site: int = 3,
    kiosks_per_site: int = 2,
    starts_in: timedelta = timedelta(minutes=30),
    policy: str = "accept",
    units: tuple[tuple[str, str, str], ...] = (),
    site_units: dict[str, str] | None = None,
) -> World:
    """Units VN > LC (and `units`: (code, parent, level) each); sites under LC (or the
    unit `site_units` names); a conference whose check-in is open now."""
    await factory.unit("VN", level="national", name="Việt Nam")
    await factory.unit("LC", parent="VN", name="Lai Châu")
    for code, parent, level in units:
        await factory.unit(code, parent=parent, level=level)
    for code in sites:
        await factory.site(code, unit=(site_units or {}).get(code, "LC"), capacity=200)
    conference = await factory.conference(
        "HN1", sites=list(sites), starts_in=starts_in, policy_other_site=policy
    )
    delegates = {}
    names = ["Nguyễn Văn An", "Trần Thị Bình", "Lò Văn Cường", "Đặng Thu Hà", "Phạm Minh Đức"]
    categories = ["member", "non_member", "member", "guest", "member"]
    for s, site in enumerate(sites):
        for i in range(per_site):
            ext = f"{site}-{i}"
            delegates[ext] = await factory.delegate(
                conference["id"],
                site=site,
                unit="LC",
                external_id=ext,
                full_name=names[(s + i) % len(names)],
                category=categories[i % len(categories)],
            )
    kiosks = {
        site: [
            bearer(await factory.token("kiosk", conference="HN1", site=site, label=f"{site}#{k}"))
            for k in range(kiosks_per_site)
        ]
        for site in sites
    }
    return World(conference, delegates, kiosks, db)
