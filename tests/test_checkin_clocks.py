"""Kiosk clocks are measured, not believed (DESIGN, Rules; issue 20, point 3).

Each batch and heartbeat carries the kiosk's clock at sending (`sent_at`); the service
keeps each kiosk's offset (arrival - sent, the fastest recent sample) and corrects
`scanned_at` by it, either way, before judging: a kiosk 10 minutes slow can no longer
take the attribution from the site where the person really was, and a kiosk 10
minutes fast that was offline is placed at its real time. A correction over 30 s is
marked `skewed`. A client without `sent_at` keeps the 5-minute rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.checkin.clocks import Clocks
from diemcau.checkin.rules import judged_time
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory
from tests.problems import assert_problem

URL = "/api/v1/checkins"
NOW = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
SLOW, FAST = timedelta(minutes=-10), timedelta(minutes=10)  # kiosk clock - real time


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


def kiosk_time(real: datetime, skew: timedelta) -> str:
    return (real + skew).isoformat()


async def send(
    client: TestClient, world: World, site: str, scans: list[dict], skew: timedelta | None
) -> list[dict]:
    """A batch from a kiosk whose clock is `skew` off (None: an old client, no sent_at)."""
    body: dict[str, Any] = {"scans": scans}
    if skew is not None:
        body["sent_at"] = kiosk_time(datetime.now(UTC), skew)
    resp = await client.post(URL, json=body, headers=world.kiosk(site))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


# --- the rule and the estimate, called directly -------------------------------------------


def test_scanned_at_is_corrected_either_way_and_marked_past_30_s() -> None:
    at = NOW - timedelta(minutes=20)
    assert judged_time(at, NOW, timedelta(minutes=10)) == (at + timedelta(minutes=10), True)
    assert judged_time(at, NOW, timedelta(minutes=-10)) == (at - timedelta(minutes=10), True)
    assert judged_time(at, NOW, timedelta(seconds=30)) == (at + timedelta(seconds=30), False)
    assert judged_time(at, NOW, timedelta(0)) == (at, False)
    # Corrected and still more than 5 minutes ahead: judged at arrival.
    assert judged_time(NOW + timedelta(hours=1), NOW, timedelta(minutes=-10)) == (NOW, True)
    # A correction off the calendar is no crash.
    assert judged_time(datetime(9999, 12, 30, tzinfo=UTC), NOW, timedelta(days=3)) == (NOW, True)
    assert judged_time(datetime(1, 1, 2, tzinfo=UTC), NOW, timedelta(days=-1)) == (NOW, True)
    # Not measured: the 5-minute rule alone.
    assert judged_time(at, NOW) == (at, False)


def test_the_offset_is_the_fastest_recent_sample() -> None:
    clocks = Clocks()
    assert clocks.offset(1, NOW) is None  # never measured: the 5-minute rule
    slow = timedelta(minutes=10)  # service - kiosk: the kiosk is 10 minutes slow
    for n, transit in enumerate([3.0, 0.4, 25.0, 1.5, 0.2]):  # one message held up 25 s
        received = NOW + timedelta(seconds=20 * n)
        clocks.measure(1, received, received - slow - timedelta(seconds=transit))
    offset = clocks.offset(1, NOW + timedelta(seconds=80))
    assert offset is not None and abs(offset - slow) <= timedelta(seconds=3)
    # Unused two minutes after the last sample.
    assert clocks.offset(1, NOW + timedelta(seconds=80 + 121)) is None


def test_the_applied_offset_holds_still_and_follows_the_clock() -> None:
    clocks = Clocks()
    clocks.measure(1, NOW, NOW - timedelta(seconds=0.3))  # a good clock: 0.3 s of transit
    assert clocks.offset(1, NOW) == timedelta(0)  # never corrected
    later = NOW + timedelta(seconds=20)
    clocks.measure(1, later, later - timedelta(seconds=1.5))  # slower transit: no change
    assert clocks.offset(1, later) == timedelta(0)
    # The kiosk's clock is set 10 minutes forward: its next sample shows it.
    ahead = NOW + timedelta(seconds=40)
    clocks.measure(1, ahead, ahead + timedelta(minutes=10))
    assert clocks.offset(1, ahead) == timedelta(minutes=-10)
    # Then 10 minutes back: once the samples of the forward clock leave the window.
    back = ahead + timedelta(seconds=20)
    clocks.measure(1, back, back)
    assert clocks.offset(1, back) == timedelta(minutes=-10)
    for n in range(1, 8):
        then = back + timedelta(seconds=20 * n)
        clocks.measure(1, then, then - timedelta(seconds=0.2))
    assert clocks.offset(1, then) == timedelta(0)


def test_many_samples_a_second_keep_little() -> None:
    clocks = Clocks()
    for n in range(10_000):
        received = NOW + timedelta(milliseconds=10 * n)
        clocks.measure(1, received, received - timedelta(minutes=5, milliseconds=n % 300))
    assert clocks.offset(1, received) == timedelta(minutes=5)
    assert len(clocks._kiosks[1].buckets) <= 13


# --- over HTTP and the websocket ----------------------------------------------------------


async def test_a_slow_clock_online_cannot_take_the_count(client: TestClient, world: World) -> None:
    """The issue's case: one second after LC-02's real first scan, a kiosk of LC-01 whose
    clock is 10 minutes slow scans the same person; it took the count from LC-02."""
    qr = await world.qr("LC-02-0")
    now = datetime.now(UTC)
    (real,) = await send(client, world, "LC-02", [scan(qr, at=now)], timedelta(0))
    assert real["result"] == "accepted"
    late = scan(qr, at=now + timedelta(seconds=1) + SLOW)
    (slow,) = await send(client, world, "LC-01", [late], SLOW)
    assert slow["result"] == "duplicate" and slow["first"]["site_code"] == "LC-02"
    assert slow["skewed"] is True
    assert (await world.tally("LC-02"))["checked_in_member"] == 1
    row = await world.db.fetchrow(
        "SELECT scanned_at, judged_at FROM checkins WHERE scan_id = $1::uuid", late["scan_id"]
    )
    assert abs(row["judged_at"] - (row["scanned_at"] - SLOW)) < timedelta(seconds=3)


async def test_a_fast_clock_online_is_corrected_too(client: TestClient, world: World) -> None:
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    (fast,) = await send(client, world, "LC-01", [scan(qr, at=now + FAST)], FAST)
    assert fast["result"] == "accepted" and fast["skewed"] is True
    judged = await world.db.fetchval("SELECT judged_at FROM checkins")
    assert abs(judged - now) < timedelta(seconds=3)  # its real time, not its arrival's


async def test_a_slow_clock_after_an_offline_spell_is_placed_at_its_real_time(
    client: TestClient, world: World
) -> None:
    """LC-01's kiosk (10 minutes slow) scanned 20 minutes ago, offline; LC-02 really
    scanned the person first, 25 minutes ago. Uncorrected, LC-01 claimed 30 minutes ago."""
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    await send(client, world, "LC-02", [scan(qr, at=now - timedelta(minutes=25))], None)
    offline = scan(qr, at=now - timedelta(minutes=20) + SLOW)
    (late,) = await send(client, world, "LC-01", [offline], SLOW)
    assert late["result"] == "duplicate" and late["first"]["site_code"] == "LC-02"
    assert (await world.tally("LC-02"))["checked_in_member"] == 1


async def test_a_fast_clock_after_an_offline_spell_takes_its_real_place(
    client: TestClient, world: World
) -> None:
    """LC-01's kiosk (10 minutes fast) really scanned first, 30 minutes ago, offline;
    LC-02 scanned 25 minutes ago. Uncorrected, LC-01 claimed 20 minutes ago and lost."""
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    await send(client, world, "LC-02", [scan(qr, at=now - timedelta(minutes=25))], None)
    offline = scan(qr, at=now - timedelta(minutes=30) + FAST)
    (first,) = await send(client, world, "LC-01", [offline], FAST)
    assert first["result"] == "accepted" and first["moved"] is False and first["skewed"]
    assert (await world.tally("LC-01"))["checked_in_member"] == 1
    assert (await world.tally("LC-02"))["checked_in_member"] == 0


async def test_a_client_without_sent_at_keeps_the_five_minute_rule(
    client: TestClient, world: World
) -> None:
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    behind, ahead = scan(qr, at=now + SLOW), scan(await world.qr("LC-01-1"), at=now + FAST)
    results = await send(client, world, "LC-01", [behind, ahead], None)
    assert [(r["result"], r["skewed"]) for r in results] == [("accepted", False)] * 1 + [
        ("accepted", True)
    ]
    rows = await world.db.fetch("SELECT scanned_at, judged_at FROM checkins ORDER BY id")
    assert rows[0]["judged_at"] == rows[0]["scanned_at"]  # believed as it came


async def test_a_heartbeat_measures_the_clock_for_the_batches_after_it(
    client: TestClient, world: World
) -> None:
    """Over the websocket: the heartbeat carries `sent_at`, a batch without one is
    corrected by what the heartbeat measured; a batch with one, by its own."""
    now = datetime.now(UTC)
    async with client.ws_connect("/ws/kiosk", headers=world.kiosk("LC-01")) as ws:
        beat = {"type": "heartbeat", "sent_at": kiosk_time(now, SLOW)}
        await ws.send_json(beat)
        assert (await ws.receive_json())["type"] == "heartbeat"
        one = scan(await world.qr("LC-01-0"), at=now + SLOW)
        await ws.send_json({"type": "scans", "id": 1, "scans": [one]})
        (a,) = (await ws.receive_json())["results"]
        two = scan(await world.qr("LC-01-1"), at=now + FAST)
        sent = {"type": "scans", "id": 2, "sent_at": kiosk_time(datetime.now(UTC), FAST)}
        await ws.send_json({**sent, "scans": [two]})
        (b,) = (await ws.receive_json())["results"]
    assert a["skewed"] and b["skewed"] and {a["result"], b["result"]} == {"accepted"}
    for row in await world.db.fetch("SELECT judged_at FROM checkins"):
        assert abs(row["judged_at"] - now) < timedelta(seconds=5)


@pytest.mark.parametrize("sent_at", ["yesterday", 1733390000, "2026-12-01T08:00:00"])
async def test_a_sent_at_that_is_not_a_time_refuses_the_batch(
    client: TestClient, world: World, sent_at: Any
) -> None:
    body = {"sent_at": sent_at, "scans": [scan("X")]}
    resp = await client.post(URL, json=body, headers=world.kiosk("LC-01"))
    problem = await assert_problem(resp, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "sent_at"
    resp = await client.post(
        "/api/v1/kiosk/heartbeat", json={"sent_at": "soon"}, headers=world.kiosk("LC-01")
    )
    await assert_problem(resp, 422, "validation_failed")
    assert await world.db.fetchval("SELECT count(*) FROM checkins") == 0
