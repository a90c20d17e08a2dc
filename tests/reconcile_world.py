"""A small conference whose every figure is worked out by hand (docs/reconciliation.md
walks through it), made through the real API: scans from kiosks, an annulment,
headcounts, absences.

    VN (national)
    ├── LC (province)
    │   ├── TD (district): LC-01 (capacity 7), LC-02 (capacity 100)
    │   └── LC-03 (capacity 50)
    └── HG (province): HG-01 (no capacity)

Roster (external id: category), each at their own site:
    LC-01: A1-A6 members, A7 A8 non-members, A9 guest
    LC-02: B1-B4 members, B5 non-member
    LC-03: C1-C3 members
    HG-01: H1 H2 members

What happened (minutes after `base`, check-in opened 10 minutes before it):
    LC-01: A1 A2 A3 in; A4 in, out at 40, back at 50; A5 in, out at 41; A8 in, then
           annulled; A9 in, scanned again at 8 (a duplicate); 2 walk-ins (a non-member,
           a guest); A6 absent (sick, owes a make-up session); A7 went to LC-02.
    LC-02: B1-B5 in; A7 in (moved in); C1 in at 10, uploaded late by an offline kiosk
           after C1 was scanned at LC-03 at 20 (the earlier scan takes over: moved in);
           a kiosk silent for 7 minutes.
    LC-03: nobody counted (C1's scan there no longer counts); C2 absent (on duty), C3
           absent (travel, owes a make-up session); no headcount.
    HG-01: H1 H2 in; a kiosk silent for 4 min 59 s (under 5 minutes).
Headcounts: LC-01 start 12 then corrected to 8 (m5 n1 g2), after break 6, end 7;
LC-02 20 at each moment; HG-01 2 at each moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from diemcau import issuance
from diemcau.auth import CLI
from diemcau.keystore import Keystore
from tests.checkin_world import SECRET, scan
from tests.factory import Factory, bearer

ROSTER = {
    "LC-01": ["member"] * 6 + ["non_member"] * 2 + ["guest"],
    "LC-02": ["member"] * 4 + ["non_member"],
    "LC-03": ["member"] * 3,
    "HG-01": ["member"] * 2,
}
PREFIX = {"LC-01": "A", "LC-02": "B", "LC-03": "C", "HG-01": "H"}


@dataclass
class Hand:
    """The conference and what the test needs to go on with it."""

    client: TestClient
    db: asyncpg.Connection
    conference: asyncpg.Record
    base: datetime
    organiser: dict[str, str]
    kiosks: dict[str, list[dict[str, str]]]
    delegates: dict[str, asyncpg.Record] = field(default_factory=dict)
    scans: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.conference["code"]

    def at(self, minutes: float) -> datetime:
        return self.base + timedelta(minutes=minutes)

    async def qr(self, external_id: str) -> str:
        row = await self.db.fetchrow(
            "SELECT * FROM delegates WHERE conference_id = $1 AND external_id = $2",
            self.conference["id"],
            external_id,
        )
        return await issuance.delegate_code(self.db, Keystore(SECRET), row, CLI)

    async def send(self, site: str, *scans: dict[str, Any], kiosk: int = 0) -> list[dict]:
        resp = await self.client.post(
            "/api/v1/checkins", json={"scans": list(scans)}, headers=self.kiosks[site][kiosk]
        )
        assert resp.status == 200, await resp.text()
        return (await resp.json())["results"]

    async def enter(
        self, site: str, who: str, minutes: float, direction: str = "in", kiosk: int = 0
    ) -> dict:
        """`who`'s badge scanned at `site` (an exit with direction="out")."""
        body = scan(await self.qr(who), at=self.at(minutes), direction=direction)
        self.scans[f"{who}@{minutes}"] = body
        (result,) = await self.send(site, body, kiosk=kiosk)
        return result

    async def headcount(
        self, site: str, moment: str, m: int, n: int, g: int, minutes: float
    ) -> dict:
        resp = await self.client.post(
            f"/api/v1/conferences/{self.code}/sites/{site}/headcounts",
            json={
                "moment": moment,
                "counted_at": self.at(minutes).isoformat(),
                "members": m,
                "non_members": n,
                "guests": g,
            },
            headers=self.organiser,
        )
        assert resp.status == 201, await resp.text()
        return await resp.json()

    async def absent(self, who: str, reason: str, makeup: bool) -> None:
        body = {"delegate_id": self.delegates[who]["id"], "reason": reason, "makeup_owed": makeup}
        resp = await self.client.post(
            f"/api/v1/conferences/{self.code}/absences", json=body, headers=self.organiser
        )
        assert resp.status == 201, await resp.text()

    async def silence(self, site: str, start: float, seconds: float) -> None:
        """A gap in a kiosk's signs of life, as check-in records it when it comes back."""
        token = await self.db.fetchval(
            """SELECT k.token_id FROM kiosks k JOIN sites s ON s.id = k.site_id
                WHERE k.conference_id = $1 AND s.code = $2 ORDER BY k.token_id LIMIT 1""",
            self.conference["id"],
            site,
        )
        await self.db.execute(
            "INSERT INTO kiosk_silences (token_id, silent_from, silent_until) VALUES ($1, $2, $3)",
            token,
            self.at(start),
            self.at(start) + timedelta(seconds=seconds),
        )

    async def reconciliation(self, **params: str) -> dict[str, Any]:
        resp = await self.client.get(
            f"/api/v1/conferences/{self.code}/reconciliation", params=params, headers=self.organiser
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def close(self) -> None:
        resp = await self.client.post(
            f"/api/v1/conferences/{self.code}/status",
            json={"status": "closed"},
            headers=self.organiser,
        )
        assert resp.status == 200, await resp.text()


async def build_tree(factory: Factory) -> None:
    await factory.unit("VN", level="national", name="Việt Nam")
    await factory.unit("LC", parent="VN", name="Lai Châu")
    await factory.unit("TD", parent="LC", level="district", name="Tam Đường")
    await factory.unit("HG", parent="VN", name="Hà Giang")
    await factory.site("LC-01", unit="TD", capacity=7)
    await factory.site("LC-02", unit="TD", capacity=100)
    await factory.site("LC-03", unit="LC", capacity=50)
    await factory.site("HG-01", unit="HG", capacity=None)


async def make_conference(factory: Factory, db: asyncpg.Connection, client: TestClient) -> Hand:
    """The conference, roster and kiosks; nothing scanned yet. Check-in opened 90 minutes
    ago; `base` is 80 minutes ago."""
    await build_tree(factory)
    conference = await factory.conference(
        "HN1", sites=list(ROSTER), starts_in=timedelta(minutes=-30), unit="VN"
    )
    kiosks = {
        site: [
            bearer(await factory.token("kiosk", conference="HN1", site=site, label=f"{site}#{k}"))
            for k in range(2)
        ]
        for site in ROSTER
    }
    organiser = bearer(await factory.token("organiser", label="Ban tổ chức"))
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=80)
    hand = Hand(client, db, conference, base, organiser, kiosks)
    for site, categories in ROSTER.items():
        unit = await db.fetchval(
            "SELECT u.code FROM sites s JOIN units u ON u.id = s.unit_id WHERE s.code = $1", site
        )
        for i, category in enumerate(categories, start=1):
            ext = f"{PREFIX[site]}{i}"
            hand.delegates[ext] = await factory.delegate(
                conference["id"], site=site, unit=unit, external_id=ext,
                full_name=f"Đại biểu {ext}", category=category,
            )  # fmt: skip
    return hand


async def happen(hand: Hand) -> None:
    """Everything the session did (module docstring)."""
    for i, who in enumerate(("A1", "A2", "A3", "A4", "A5"), start=1):
        await hand.enter("LC-01", who, i)
    await hand.enter("LC-01", "A4", 40, direction="out")
    await hand.enter("LC-01", "A4", 50)
    await hand.enter("LC-01", "A5", 41, direction="out")
    mistaken = await hand.enter("LC-01", "A8", 6)
    resp = await hand.client.post(
        f"/api/v1/conferences/{hand.code}/checkins/{mistaken['scan_id']}/annul",
        json={"reason": "quét nhầm thẻ"},
        headers=hand.organiser,
    )
    assert resp.status == 200, await resp.text()
    await hand.enter("LC-01", "A9", 7)
    assert (await hand.enter("LC-01", "A9", 8))["result"] == "duplicate"
    walk_ins = [
        scan(full_name="Khách Một", category="non_member", method="walk_in", at=hand.at(9)),
        scan(full_name="Khách Hai", category="guest", method="walk_in", at=hand.at(9.5)),
    ]
    await hand.send("LC-01", *walk_ins)
    for i, who in enumerate(("B1", "B2", "B3", "B4", "B5"), start=1):
        await hand.enter("LC-02", who, i)
    assert (await hand.enter("LC-02", "A7", 6))["moved"] is True
    assert (await hand.enter("LC-03", "C1", 20))["result"] == "accepted"
    for who in ("H1", "H2"):
        await hand.enter("HG-01", who, 3)
    await headcounts_and_absences(hand)
    await hand.silence("LC-02", 30, 7 * 60)
    await hand.silence("HG-01", 30, 4 * 60 + 59)


async def headcounts_and_absences(hand: Hand) -> None:
    await hand.headcount("LC-01", "start", 9, 1, 2, 35)  # counted wrong ...
    await hand.headcount("LC-01", "start", 5, 1, 2, 35)  # ... corrected: same moment, later record
    await hand.headcount("LC-01", "after_break", 4, 1, 1, 55)
    await hand.headcount("LC-01", "end", 5, 1, 1, 70)
    for moment, minutes in (("start", 35), ("after_break", 55), ("end", 70)):
        await hand.headcount("LC-02", moment, 15, 5, 0, minutes)
        await hand.headcount("HG-01", moment, 2, 0, 0, minutes)
    await hand.absent("A6", "sick", True)
    await hand.absent("C2", "on_duty", False)
    await hand.absent("C3", "travel", True)


async def late_upload(hand: Hand) -> dict:
    """An offline kiosk of LC-02 comes back and uploads C1's scan made at 10."""
    body = scan(await hand.qr("C1"), at=hand.at(10))
    (result,) = await hand.send("LC-02", body, kiosk=1)
    return result


async def session(
    factory: Factory, db: asyncpg.Connection, client: TestClient, *, late: bool = False
) -> Hand:
    """The conference after everything happened (and the late upload, with `late`)."""
    hand = await make_conference(factory, db, client)
    await happen(hand)
    if late:
        await late_upload(hand)
    return hand
