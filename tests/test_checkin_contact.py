"""An earlier time is believed only when it could be late (DESIGN, Rules; issue 20,
point 2).

The service records each kiosk's contact (batches answered, heartbeats, its socket
opening) as spells. A scan arriving more than LATE_AFTER after the moment it claims is
judged at its arrival, and marked `skewed`, when its kiosk was in contact then (and long
enough after to have sent it); a kiosk that was offline still back-dates. The live tests
shorten LATE_AFTER to one second so that a real kiosk's contact can be waited for.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.app import create_app
from diemcau.appkeys import CONFIG, INGESTOR
from diemcau.checkin import contact, rules
from diemcau.checkin.contact import GAP, Contacts, in_contact, joined
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory

URL = "/api/v1/checkins"
NOW = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> timedelta:
    """LATE_AFTER of one second, for the live tests."""
    late = timedelta(seconds=1)
    monkeypatch.setattr(rules, "LATE_AFTER", late, raising=False)
    monkeypatch.setattr(contact, "LATE_AFTER", late, raising=False)
    return late


async def post(client: TestClient, world: World, site: str, *scans: dict) -> list[dict]:
    resp = await client.post(URL, json={"scans": list(scans)}, headers=world.kiosk(site))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


async def heartbeat(client: TestClient, world: World, site: str) -> None:
    resp = await client.post("/api/v1/kiosk/heartbeat", json={}, headers=world.kiosk(site))
    assert resp.status == 200, await resp.text()


# --- spells, called directly ---------------------------------------------------------------


def test_contacts_within_the_gap_make_one_spell() -> None:
    spans = [(at(0), at(10)), (at(10) + GAP, at(80)), (at(200), at(200)), (at(5), at(6))]
    assert joined(spans) == [(at(0), at(80)), (at(200), at(200))]


def test_in_contact_means_heard_then_and_long_enough_after() -> None:
    spells = [(at(0), at(100))]
    assert in_contact(spells, at(0)) and in_contact(spells, at(70))
    assert not in_contact(spells, at(71))  # the link may have dropped before it was sent
    assert not in_contact(spells, at(-1))  # before the kiosk came back: offline
    assert not in_contact([], at(0))


def test_a_worker_keeps_one_spell_a_kiosk_and_writes_what_grew() -> None:
    mine = Contacts()
    mine.heard(7, at(0))
    mine.heard(7, at(20))
    mine.heard(7, at(5))  # a batch committed late: inside the spell already
    assert mine.due(at(21)) == [(7, at(0), at(20))]
    assert mine.due(at(22)) == []  # nothing grew
    mine.heard(7, at(20) + GAP + SECOND)  # silent too long: a new spell
    mine.heard(8, at(70))
    assert mine.known(7) == [(at(20) + GAP + SECOND, at(20) + GAP + SECOND)]
    rows = mine.due(at(71))
    assert rows == [(7, at(20) + GAP + SECOND, at(20) + GAP + SECOND), (8, at(70), at(70))]
    mine.unwritten(rows)  # the write failed: the rows go again
    assert mine.due(at(72)) == rows
    mine.due(at(200))  # idle and written: forgotten
    assert mine.known(7) == [] and mine.known(8) == []


# --- live ----------------------------------------------------------------------------------


async def test_a_kiosk_in_contact_cannot_back_date_a_scan(
    client: TestClient, world: World, quick: timedelta
) -> None:
    """The issue's case: LC-01's kiosk is online and heartbeating; LC-02 really scans the
    person; then LC-01's kiosk sends a scan claiming a moment before that, while it was
    in contact. It was believed and took the count; now it is judged at its arrival."""
    qr = await world.qr("LC-01-0")
    await heartbeat(client, world, "LC-01")
    start = datetime.now(UTC)  # in contact from before now
    await asyncio.sleep(0.3)
    (real,) = await post(client, world, "LC-02", scan(qr))
    assert real["result"] == "accepted" and real["moved"] is True
    await asyncio.sleep(1.5)
    claimed = scan(qr, at=start + timedelta(seconds=0.1))
    (late,) = await post(client, world, "LC-01", claimed)
    assert late["result"] == "duplicate" and late["first"]["site_code"] == "LC-02"
    assert late["skewed"] is True
    assert (await world.tally("LC-02"))["checked_in_member"] == 1
    row = await world.db.fetchrow("SELECT judged_at, received_at FROM checkins ORDER BY id DESC")
    assert row["judged_at"] == row["received_at"]  # judged at its arrival


async def test_a_kiosk_offline_for_an_hour_still_back_dates(
    client: TestClient, world: World
) -> None:
    """Its contact ended 70 minutes ago (as recorded); its queue of 30 minutes ago comes
    in now, earlier than LC-02's scan, and takes the count as DESIGN says."""
    kiosk = await world.db.fetchval("SELECT token_id FROM kiosks WHERE device_name = 'LC-01#0'")
    now = datetime.now(UTC)
    await world.db.execute(
        "INSERT INTO kiosk_contacts VALUES ($1, $2, $3)",
        kiosk,
        now - timedelta(hours=2),
        now - timedelta(minutes=70),
    )
    qr = await world.qr("LC-01-0")
    await post(client, world, "LC-02", scan(qr, at=now - timedelta(minutes=20)))
    (queued,) = await post(client, world, "LC-01", scan(qr, at=now - timedelta(minutes=30)))
    assert queued["result"] == "accepted" and queued["skewed"] is False
    assert (await world.tally("LC-01"))["checked_in_member"] == 1
    assert (await world.tally("LC-02"))["checked_in_member"] == 0


async def test_contact_is_recorded_and_every_worker_reads_it(
    aiohttp_client: Any,
    client: TestClient,
    app: web.Application,
    world: World,
    quick: timedelta,
) -> None:
    """A kiosk talks to one worker (heartbeat, socket, batch); its contact is written;
    another worker (another app on the same database) judges its late scan by it."""
    kiosk = await world.db.fetchval("SELECT token_id FROM kiosks WHERE device_name = 'LC-01#0'")
    start = datetime.now(UTC)
    await heartbeat(client, world, "LC-01")
    async with client.ws_connect("/ws/kiosk", headers=world.kiosk("LC-01")) as ws:
        await ws.send_json({"type": "scans", "id": 1, "scans": [scan("X")]})
        assert (await ws.receive_json())["type"] == "results"
    await app[INGESTOR].write_contacts()
    spells = await world.db.fetch("SELECT * FROM kiosk_contacts WHERE token_id = $1", kiosk)
    assert len(spells) == 1 and spells[0]["contact_from"] >= start
    other = await aiohttp_client(create_app(app[CONFIG]))
    await asyncio.sleep(1.2)
    qr = await world.qr("LC-01-0")
    claimed = scan(qr, at=spells[0]["contact_from"] + timedelta(seconds=0.05))
    resp = await other.post(URL, json={"scans": [claimed]}, headers=world.kiosk("LC-01"))
    (late,) = (await resp.json())["results"]
    assert late["result"] == "accepted" and late["skewed"] is True
