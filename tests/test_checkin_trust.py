"""A kiosk counts only what it saw (DESIGN, Rules; issue 20, points 1 and 5).

- A manual check-in names a delegate the kiosk may see: its site's roster, or its unit's
  once it took `scope=unit`. Any other id answers `invalid` with no personal data,
  exactly like an unknown id, and moves nothing.
- A scan id belongs to the kiosk that first sent it: the same id from another kiosk,
  with the same content too, answers 409 `scan_conflict`, never the first answer.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.checkin_world import World, build_world, scan
from tests.factory import Factory
from tests.problems import assert_problem

URL = "/api/v1/checkins"
# VN > LC > LC-TD (district): LC-01, LC-02; VN > HG: HG-01. A kiosk of LC-01 that took
# its unit's roster sees LC-TD's parent's subtree (LC: LC-01, LC-02), not HG-01.
UNITS = (("LC-TD", "LC", "district"), ("HG", "VN", "province"))
SITE_UNITS = {"LC-01": "LC-TD", "LC-02": "LC-TD", "HG-01": "HG"}


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(
        factory, db, sites=("LC-01", "LC-02", "HG-01"), units=UNITS, site_units=SITE_UNITS
    )


async def post(client: TestClient, headers: dict[str, str], *scans: dict) -> list[dict]:
    resp = await client.post(URL, json={"scans": list(scans)}, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


async def test_a_manual_scan_cannot_take_another_site_s_delegate(
    client: TestClient, world: World
) -> None:
    # The case: B's delegate checked in at B; A's kiosk names them by id.
    qr = await world.qr("LC-02-0")
    (counted,) = await post(client, world.kiosk("LC-02"), scan(qr))
    assert counted["result"] == "accepted"
    delegate_id = world.delegates["LC-02-0"]["id"]
    (taken,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=delegate_id))
    (unknown,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=10**12))
    assert taken["result"] == "invalid" and taken["delegate"] is None
    # Exactly like an unknown id: nothing tells them apart but the scan id.
    assert {**taken, "scan_id": ""} == {**unknown, "scan_id": ""}
    assert (await world.tally("LC-02"))["checked_in_member"] == 1
    assert (await world.tally("LC-01")).get("checked_in_member", 0) == 0
    stored = await world.db.fetchval(
        "SELECT delegate_id FROM checkins WHERE scan_id = $1::uuid", taken["scan_id"]
    )
    assert stored is None  # the refusal names nobody, a retry neither
    (again,) = await post(client, world.kiosk("LC-02"), scan(qr))
    assert again["result"] == "duplicate" and again["first"]["site_code"] == "LC-02"


async def test_a_manual_scan_names_the_kiosk_s_own_site_s_delegate(
    client: TestClient, world: World
) -> None:
    delegate = world.delegates["LC-01-1"]
    (result,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=delegate["id"]))
    assert result["result"] == "accepted" and result["delegate"]["id"] == delegate["id"]


async def test_a_kiosk_that_took_its_unit_s_roster_names_its_unit_s_delegates(
    client: TestClient, world: World
) -> None:
    neighbour = world.delegates["LC-02-1"]["id"]
    stranger = world.delegates["HG-01-1"]["id"]
    (before,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=neighbour))
    assert before["result"] == "invalid"
    resp = await client.get("/api/v1/kiosk/roster?scope=unit", headers=world.kiosk("LC-01"))
    roster = await resp.json()
    assert resp.status == 200 and neighbour in {d["id"] for d in roster["delegates"]}
    assert stranger not in {d["id"] for d in roster["delegates"]}
    near, far = await post(
        client, world.kiosk("LC-01"), scan(delegate_id=neighbour), scan(delegate_id=stranger)
    )
    assert near["result"] == "accepted" and near["moved"] is True
    assert near["delegate"]["site_code"] == "LC-02"
    assert far["result"] == "invalid" and far["delegate"] is None
    # Back to its site's roster (a scope too large, say): its reach narrows again.
    await client.get("/api/v1/kiosk/roster?scope=site", headers=world.kiosk("LC-01"))
    other = world.delegates["LC-02-2"]["id"]
    (narrow,) = await post(client, world.kiosk("LC-01"), scan(delegate_id=other))
    assert narrow["result"] == "invalid"


async def test_a_scan_id_belongs_to_its_kiosk(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    first = scan(qr)
    (answer,) = await post(client, world.kiosk("LC-01"), first)
    before = await world.tally("LC-01")
    # The same scan, same content, from another kiosk of the site and from another site.
    for other in (world.kiosk("LC-01", 1), world.kiosk("LC-02")):
        resp = await client.post(URL, json={"scans": [scan(qr), first]}, headers=other)
        body = await assert_problem(resp, 409, "scan_conflict")
        assert body["errors"] == [
            {"field": "scans.1.scan_id", "message": "Mã lượt quét này do một máy khác gửi"}
        ]
        assert "Nguyễn" not in await resp.text()  # never the first kiosk's answer
    assert await world.tally("LC-01") == before
    assert await world.db.fetchval("SELECT count(*) FROM checkins") == 1
    # Its own kiosk's retry is answered as before.
    assert await post(client, world.kiosk("LC-01"), first) == [answer]


async def test_one_new_scan_id_from_two_kiosks_at_once_is_one_kiosk_s(
    client: TestClient, world: World
) -> None:
    one = scan(await world.qr("LC-01-0"))
    sends = [
        client.post(URL, json={"scans": [one]}, headers=world.kiosk("LC-01", n % 2))
        for n in range(10)
    ]
    statuses = [r.status for r in await asyncio.gather(*sends)]
    owner = await world.db.fetchval("SELECT kiosk_id FROM checkins")
    kiosks = await world.db.fetch(
        "SELECT token_id FROM kiosks WHERE device_name IN ('LC-01#0', 'LC-01#1') "
        "ORDER BY device_name"
    )
    owned = [k["token_id"] for k in kiosks].index(owner)
    assert statuses == [200 if n % 2 == owned else 409 for n in range(10)]
