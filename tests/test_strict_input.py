"""JSON bodies take each value in its own JSON type only (issue 20, point 6).

Before, pydantic's lax mode read `scanned_at: 1733390000` as epoch seconds,
`delegate_id: "12"` as 12 and `true` as delegate 1, a manual scan carrying a `qr` was
taken, `targets: {"guest": false}` became 0.0 and `capacity: false` 0. Each answers 422
naming the field now, and the right type still passes.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.checkin_world import World, build_world, scan
from tests.factory import Factory, bearer
from tests.problems import assert_problem


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db, sites=("LC-01",), kiosks_per_site=1)


async def refused(resp: Any, field: str) -> None:
    body = await assert_problem(resp, 422, "validation_failed")
    assert field in [e["field"] for e in body["errors"]], body


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scanned_at": 1733390000}, "scans.0.scanned_at"),
        ({"scanned_at": "1733390000"}, "scans.0.scanned_at"),
        ({"scanned_at": 1733390000.5}, "scans.0.scanned_at"),
        ({"scanned_at": "2026-12-15"}, "scans.0.scanned_at"),
        ({"method": "manual", "delegate_id": "12"}, "scans.0.delegate_id"),
        ({"method": "manual", "delegate_id": True}, "scans.0.delegate_id"),
        ({"method": "manual", "delegate_id": 12.0}, "scans.0.delegate_id"),
        ({"method": "manual", "delegate_id": 12, "qr": "DC1.X.Y"}, "scans.0"),
        ({"method": "walk_in", "full_name": "An", "category": "guest", "qr": "x"}, "scans.0"),
        ({"qr": "DC1.X.Y", "delegate_id": 12}, "scans.0"),
        ({"qr": 12}, "scans.0.qr"),
        ({"qr": "x", "scan_id": 5}, "scans.0.scan_id"),
    ],
)
async def test_a_scan_takes_its_own_types_only(
    client: TestClient, world: World, fields: dict[str, Any], field: str
) -> None:
    body = scan(**fields) if "qr" in fields or "method" in fields else scan("x", **fields)
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [body]}, headers=world.kiosk("LC-01")
    )
    await refused(resp, field)


async def test_a_manual_scan_refusal_names_the_foreign_field(
    client: TestClient, world: World
) -> None:
    delegate = world.delegates["LC-01-0"]["id"]
    body = scan(method="manual", delegate_id=delegate, qr=await world.qr("LC-01-0"))
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [body]}, headers=world.kiosk("LC-01")
    )
    problem = await assert_problem(resp, 422, "validation_failed")
    assert "qr" in problem["errors"][0]["message"]
    # The same scan without the code is a manual check-in as before.
    body.pop("qr")
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [body]}, headers=world.kiosk("LC-01")
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["results"][0]["result"] == "accepted"


async def test_the_websocket_reads_scans_as_strictly(client: TestClient, world: World) -> None:
    ws = await client.ws_connect("/ws/kiosk", headers=world.kiosk("LC-01"))
    bad = scan(method="manual", delegate_id=True)
    await ws.send_json({"type": "scans", "id": 1, "scans": [bad]})
    answer = await ws.receive_json(timeout=10)
    await ws.close()
    assert answer["type"] == "error", answer
    assert answer["problem"]["code"] == "validation_failed"
    assert answer["problem"]["errors"][0]["field"] == "scans.0.delegate_id"


async def test_heartbeat_counts_are_numbers(client: TestClient, world: World) -> None:
    for value in (True, "3", 3.0):
        resp = await client.post(
            "/api/v1/kiosk/heartbeat", json={"queue_length": value}, headers=world.kiosk("LC-01")
        )
        await refused(resp, "queue_length")
    resp = await client.post(
        "/api/v1/kiosk/heartbeat", json={"queue_length": 3}, headers=world.kiosk("LC-01")
    )
    assert resp.status == 200, await resp.text()


CONFERENCE = {
    "code": "HN-STRICT",
    "title": "Hội nghị",
    "starts_at": "2030-01-10T08:00:00+07:00",
    "ends_at": "2030-01-10T11:00:00+07:00",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": {"guest": False}}, "targets.guest"),
        ({"targets": {"member": "0.98"}}, "targets.member"),
        ({"starts_at": 1893992400}, "starts_at"),
        ({"starts_at": "1893992400"}, "starts_at"),
        ({"title": 12}, "title"),
        ({"sites": "LC-01"}, "sites"),
    ],
)
async def test_a_conference_takes_its_own_types_only(
    client: TestClient, tree: None, organiser: dict[str, str], change: dict[str, Any], field: str
) -> None:
    resp = await client.post("/api/v1/conferences", json=CONFERENCE | change, headers=organiser)
    await refused(resp, field)


async def test_a_target_of_one_and_a_time_without_offset_still_pass(
    client: TestClient, tree: None, organiser: dict[str, str]
) -> None:
    body = CONFERENCE | {"targets": {"member": 1, "guest": 0.5}, "ends_at": "2030-01-10T11:00"}
    resp = await client.post("/api/v1/conferences", json=body, headers=organiser)
    assert resp.status == 201, await resp.text()
    resp = await client.patch(
        "/api/v1/conferences/HN-STRICT", json={"targets": {"guest": True}}, headers=organiser
    )
    await refused(resp, "targets.guest")


SITE = {"code": "S-STRICT", "name": "Điểm cầu", "unit_code": "LC", "level": "commune"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": False}, "capacity"),
        ({"capacity": "120"}, "capacity"),
        ({"capacity": 120.0}, "capacity"),
        ({"technician": {"phone": 912345678}}, "technician.phone"),
    ],
)
async def test_a_site_takes_its_own_types_only(
    client: TestClient, tree: None, organiser: dict[str, str], change: dict[str, Any], field: str
) -> None:
    resp = await client.post("/api/v1/sites", json=SITE | change, headers=organiser)
    await refused(resp, field)


async def test_a_site_patch_and_a_link_test_take_their_own_types_only(
    client: TestClient, factory: Factory, tree: None, organiser: dict[str, str]
) -> None:
    resp = await client.post("/api/v1/sites", json=SITE | {"capacity": 120}, headers=organiser)
    assert resp.status == 201, await resp.text()
    resp = await client.patch("/api/v1/sites/S-STRICT", json={"capacity": True}, headers=organiser)
    await refused(resp, "capacity")
    tech = bearer(await factory.token("technician", unit="LC"))
    test = {"rtt_ms": 40, "jitter_ms": 3.5, "loss_pct": 0, "audio_ok": True, "video_ok": True}
    for change, field in (
        ({"audio_ok": 1}, "audio_ok"),
        ({"video_ok": "true"}, "video_ok"),
        ({"rtt_ms": False}, "rtt_ms"),
        ({"loss_pct": "0"}, "loss_pct"),
    ):
        resp = await client.post(
            "/api/v1/sites/S-STRICT/link-tests", json=test | change, headers=tech
        )
        await refused(resp, field)
    resp = await client.post("/api/v1/sites/S-STRICT/link-tests", json=test, headers=tech)
    assert resp.status == 201, await resp.text()


# Point 7: a number past Python's 4,300 digits is told in our words, not Python's.
LONG = "1" * 5001


@pytest.mark.parametrize("path", ["/api/v1/units", "/api/v1/checkins"])
async def test_a_five_thousand_digit_number_answers_our_own_invalid_json(
    client: TestClient, world: World, organiser: dict[str, str], path: str
) -> None:
    headers = world.kiosk("LC-01") if "checkins" in path else organiser
    raw = '{"code": ' + LONG + "}" if "units" in path else '{"scans": [' + LONG + "]}"
    for lang, words in (("en", "a number is too long (at most 4,300 digits)"), ("vi", "4.300")):
        resp = await client.post(
            f"{path}?lang={lang}",
            data=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        body = await assert_problem(resp, 400, "invalid_json")
        text = await resp.text()
        assert "set_int_max_str_digits" not in text and "Exceeds the limit" not in text, text
        assert words in body["detail"], body


async def test_the_kiosk_websocket_tells_a_long_number_in_our_words(
    client: TestClient, world: World
) -> None:
    ws = await client.ws_connect("/ws/kiosk?lang=en", headers=world.kiosk("LC-01"))
    await ws.send_str('{"type": "heartbeat", "queue_length": ' + LONG + "}")
    answer = await ws.receive_json(timeout=10)
    await ws.close()
    assert answer["problem"]["code"] == "invalid_json", answer
    assert "digits" not in answer["problem"]["detail"], answer
