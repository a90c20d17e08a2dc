"""Annulling a mistaken check-in: the counts follow, the scans stay (stamped), the person
can check in again, the audit log says who and why; and a site's scans for the technician."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.checkin.timeline import TALLY_FIELDS
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory, bearer
from tests.problems import assert_problem


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


async def send(client: TestClient, world: World, site: str, *scans: dict) -> list[dict]:
    resp = await client.post(
        "/api/v1/checkins", json={"scans": list(scans)}, headers=world.kiosk(site)
    )
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


def counts(tally: dict) -> dict:
    return {f: tally[f] for f in TALLY_FIELDS}


def annul_url(scan_id: str) -> str:
    return f"/api/v1/conferences/HN1/checkins/{scan_id}/annul"


async def test_an_annulled_check_in_leaves_the_counts_and_can_be_made_again(
    client: TestClient, world: World, factory: Factory
) -> None:
    tech = bearer(await factory.token("technician", unit="LC", label="KT"))
    qr = await world.qr("LC-01-0")
    first = scan(qr)
    await send(client, world, "LC-02", first)  # scanned at the wrong hall by mistake
    assert (await world.tally("LC-02"))["checked_in_member"] == 1
    resp = await client.post(
        annul_url(first["scan_id"]), json={"reason": "quét nhầm điểm cầu"}, headers=tech
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["voided"] == [first["scan_id"]]
    after = await world.tally("LC-02")
    assert after["checked_in_member"] == 0 and after["moved_in"] == 0 and after["present"] == 0
    assert (await world.tally("LC-01"))["moved_out"] == 0
    stamped = await world.db.fetchval(
        "SELECT annulment_id IS NOT NULL FROM checkins WHERE scan_id = $1::uuid", first["scan_id"]
    )
    assert stamped
    audit = await world.db.fetchrow("SELECT actor, after FROM audit_log WHERE action = 'annul'")
    assert "KT" in audit["actor"] and audit["after"]["reason"] == "quét nhầm điểm cầu"
    # The person checks in again, where they really are.
    (again,) = await send(client, world, "LC-01", scan(qr))
    assert again["result"] == "accepted"
    assert (await world.tally("LC-01"))["checked_in_member"] == 1
    # A retry of the annulled scan answers as it was answered, and counts nothing.
    (retried,) = await send(client, world, "LC-02", first)
    assert retried["result"] == "accepted"
    assert (await world.tally("LC-02"))["checked_in_member"] == 0


async def test_a_walk_in_entered_twice_is_annulled(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    one, two = (
        scan(full_name="Khách A", category="guest"),
        scan(full_name="Khách A", category="guest"),
    )
    await send(client, world, "LC-01", one, two)
    resp = await client.post(
        annul_url(two["scan_id"]), json={"reason": "nhập trùng"}, headers=organiser
    )
    assert resp.status == 200
    tally = await world.tally("LC-01")
    assert tally["walk_ins_guest"] == 1 and tally["present"] == 1
    resp = await client.post(
        annul_url(two["scan_id"]), json={"reason": "lần nữa"}, headers=organiser
    )
    await assert_problem(resp, 409, "conflict")


async def test_what_cannot_be_annulled(
    client: TestClient, world: World, organiser: dict[str, str], factory: Factory
) -> None:
    refused = scan("junk")
    await send(client, world, "LC-01", refused)
    # A refused scan is voided alone (it counted for nothing), and only once.
    resp = await client.post(annul_url(refused["scan_id"]), json={"reason": "x"}, headers=organiser)
    assert resp.status == 200 and (await resp.json())["voided"] == [refused["scan_id"]]
    resp = await client.post(annul_url(refused["scan_id"]), json={"reason": "x"}, headers=organiser)
    await assert_problem(resp, 409, "conflict")
    resp = await client.post(annul_url("not-a-uuid"), json={"reason": "x"}, headers=organiser)
    await assert_problem(resp, 404, "not_found")
    resp = await client.post(
        annul_url("00000000-0000-4000-8000-000000000000"), json={"reason": "x"}, headers=organiser
    )
    await assert_problem(resp, 404, "not_found")
    resp = await client.post(annul_url(refused["scan_id"]), json={}, headers=organiser)
    await assert_problem(resp, 422, "validation_failed")
    # A technician of another unit cannot tell the scan exists.
    await factory.unit("HG", parent="VN")
    outsider = bearer(await factory.token("technician", unit="HG"))
    qr = await world.qr("LC-01-1")
    counted = scan(qr)
    await send(client, world, "LC-01", counted)
    resp = await client.post(annul_url(counted["scan_id"]), json={"reason": "x"}, headers=outsider)
    await assert_problem(resp, 404, "not_found")


async def test_a_signed_off_conference_annuls_nothing(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    qr = await world.qr("LC-01-0")
    counted = scan(qr)
    await send(client, world, "LC-01", counted)
    await world.db.execute("UPDATE conferences SET signed_off_at = now()")
    resp = await client.post(annul_url(counted["scan_id"]), json={"reason": "x"}, headers=organiser)
    await assert_problem(resp, 409, "locked")


async def test_a_site_s_scans_newest_first(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    qr = await world.qr("LC-01-0")
    await send(client, world, "LC-01", scan(qr), scan(qr), scan("junk"))
    url = "/api/v1/conferences/HN1/sites/LC-01/checkins"
    resp = await client.get(url, params={"limit": "2"}, headers=organiser)
    page = await resp.json()
    assert [i["result"] for i in page["items"]] == ["invalid", "duplicate"]
    assert page["items"][1]["full_name"] == "Nguyễn Văn An"
    resp = await client.get(url, params={"cursor": page["next"]}, headers=organiser)
    rest = await resp.json()
    assert [i["result"] for i in rest["items"]] == ["accepted"] and rest["next"] is None
    resp = await client.get(url, params={"result": "duplicate"}, headers=organiser)
    assert len((await resp.json())["items"]) == 1
    resp = await client.get(url, params={"result": "acepted"}, headers=organiser)
    await assert_problem(resp, 422, "validation_failed")


async def test_a_checked_in_delegate_is_deleted_only_after_the_annulment(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    qr = await world.qr("LC-01-0")
    counted = scan(qr)
    await send(client, world, "LC-01", counted)
    url = f"/api/v1/conferences/HN1/delegates/{world.delegates['LC-01-0']['id']}"
    await assert_problem(await client.delete(url, headers=organiser), 409, "conflict")
    resp = await client.post(annul_url(counted["scan_id"]), json={"reason": "x"}, headers=organiser)
    assert resp.status == 200
    assert (await client.delete(url, headers=organiser)).status == 204


async def test_annulment_stays_in_scope_and_a_duplicate_is_voided_alone(
    client: TestClient, factory: Factory, db: asyncpg.Connection, organiser: dict[str, str]
) -> None:
    """The issue's case: an LC delegate counted at an HG site, then scanned at an LC site
    (duplicate). The LC technician annulling that duplicate voided the HG check-in too."""
    world = await build_world(
        factory, db, sites=("LC-01", "HG-01"), units=(("HG", "VN", "province"),),
        site_units={"HG-01": "HG"},
    )  # fmt: skip
    tech_lc = bearer(await factory.token("technician", unit="LC", label="KT LC"))
    tech_hg = bearer(await factory.token("technician", unit="HG", label="KT HG"))
    qr = await world.qr("LC-01-0")
    counted = scan(qr, at=datetime.now(UTC) - timedelta(minutes=5))
    (moved,) = await send(client, world, "HG-01", counted)
    duplicate = scan(qr)
    (again,) = await send(client, world, "LC-01", duplicate)
    assert moved["result"] == "accepted" and again["result"] == "duplicate"
    before = {site: counts(await world.tally(site)) for site in ("LC-01", "HG-01")}

    async def annul(scan_id: str, headers: dict[str, str]) -> object:
        return await client.post(annul_url(scan_id), json={"reason": "nhầm"}, headers=headers)

    # The LC technician sees the LC scan, but the delegate is counted in HG: refused.
    await assert_problem(await annul(duplicate["scan_id"], tech_lc), 403, "forbidden")
    # The HG technician does not see the LC scan at all.
    await assert_problem(await annul(duplicate["scan_id"], tech_hg), 404, "not_found")
    assert await db.fetchval("SELECT count(*) FROM checkins WHERE annulment_id IS NOT NULL") == 0
    # Annulled by whom may: that scan alone; the HG check-in stands.
    resp = await annul(duplicate["scan_id"], organiser)
    assert resp.status == 200 and (await resp.json())["voided"] == [duplicate["scan_id"]]
    after = {site: counts(await world.tally(site)) for site in ("LC-01", "HG-01")}
    assert after == before and after["HG-01"]["checked_in_member"] == 1
    held = await db.fetchrow("SELECT site_id, first_scan_id FROM attendances")
    assert str(held["first_scan_id"]) == counted["scan_id"]
    # The HG technician annuls the check-in itself: counted in HG, so in their scope.
    resp = await annul(counted["scan_id"], tech_hg)
    assert resp.status == 200 and (await resp.json())["voided"] == [counted["scan_id"]]
    assert (await world.tally("HG-01"))["checked_in_member"] == 0
    assert (await world.tally("LC-01"))["moved_out"] == 0


async def test_annulling_a_duplicate_exit_takes_it_out_of_the_timeline(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    entry, leave = (
        scan(qr, at=now - timedelta(minutes=9)),
        scan(qr, at=now - timedelta(minutes=6), direction="out"),
    )
    twice = scan(qr, at=now - timedelta(minutes=3), direction="out")
    results = await send(client, world, "LC-01", entry, leave, twice)
    assert [r["result"] for r in results] == ["accepted", "accepted", "duplicate"]
    resp = await client.post(annul_url(twice["scan_id"]), json={"reason": "x"}, headers=organiser)
    assert resp.status == 200 and (await resp.json())["voided"] == [twice["scan_id"]]
    last = await world.db.fetchval("SELECT last_at FROM attendances")
    assert last == datetime.fromisoformat(leave["scanned_at"])  # the voided exit is gone
    tally = await world.tally("LC-01")
    assert tally["checked_in_member"] == 1 and tally["exits"] == 1 and tally["present"] == 0
