"""One kiosk's scans are judged and committed in the order it sent them (DESIGN, Rules;
issue 21, point 3).

A kiosk may pipeline its websocket batches, and a worker commits several batches at
once. A later batch of a kiosk committed before an earlier one answered a repeat scan
`accepted`; the earlier scan, committed after it, then took the attribution and was
`accepted` too. So a kiosk's later `in` of a delegate must never be `accepted` when
the same kiosk sent an earlier one.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.config import Config
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory

WS = "/ws/kiosk"


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, kiosk_rate=100_000)  # pipelined bursts, not what the limit guards


async def send_pipelined(client: TestClient, headers: dict[str, str], batches: list) -> list:
    """Send every batch at once on one socket; the answers, in order."""
    async with client.ws_connect(WS, headers=headers) as ws:
        for n, batch in enumerate(batches):
            await ws.send_json({"type": "scans", "id": n, "scans": batch})
        answers = [await asyncio.wait_for(ws.receive_json(), 60) for _ in batches]
    assert [a.get("id") for a in answers] == list(range(len(batches))), answers
    return answers


async def waiting_on_a_lock(db: asyncpg.Connection) -> bool:
    return bool(
        await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


async def test_a_later_batch_waits_for_the_earlier_one(
    factory: Factory, db: asyncpg.Connection, client: TestClient, database_url: str
) -> None:
    """The earlier batch is held up (a lock, as a busy database holds it) before the later
    one is sent; the later one repeats its scan, with enough others to start a
    transaction of its own."""
    world = await build_world(factory, db, sites=("LC-01",), per_site=45)
    codes = [await world.qr(f"LC-01-{i}") for i in range(45)]
    now = datetime.now(UTC)
    (first,) = await post(client, world, [scan(codes[0], at=now - timedelta(seconds=9))])
    assert first["result"] == "accepted"
    earlier = [scan(codes[0], at=now - timedelta(seconds=3)), scan(codes[1], at=now)]
    later = [scan(code, at=now + timedelta(seconds=1)) for code in codes[1:]]
    holder = await asyncpg.connect(database_url)
    try:
        async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
            tx = holder.transaction()
            await tx.start()
            await holder.execute(
                "SELECT 1 FROM attendances WHERE first_scan_id = $1::uuid FOR UPDATE",
                first["scan_id"],
            )
            await ws.send_json({"type": "scans", "id": 1, "scans": earlier})
            await until(lambda: waiting_on_a_lock(db))  # the earlier batch is held up
            await ws.send_json({"type": "scans", "id": 2, "scans": later})
            # The later batch's chance to commit first (none, when it waits its turn).
            await until(lambda: stored_more_than(db, 2), seconds=1.0, strict=False)
            await tx.rollback()
            one, two = [await asyncio.wait_for(ws.receive_json(), 30) for _ in range(2)]
    finally:
        await holder.close()
    assert [r["result"] for r in one["results"]] == ["duplicate", "accepted"]
    assert two["results"][0]["result"] == "duplicate", two["results"][0]
    assert two["results"][0]["first"]["scanned_at"] == _local(earlier[1]["scanned_at"])
    assert {r["result"] for r in two["results"][1:]} == {"accepted"}


async def until(check: Any, seconds: float = 10.0, strict: bool = True) -> None:
    """Poll an async check until it is true; past `seconds`, fail (or go on)."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    assert not strict, "not true in time"


async def stored_more_than(db: asyncpg.Connection, n: int) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM checkins") > n)


async def test_many_pipelined_batches_with_repeats_keep_each_kiosk_s_order(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    """Two kiosks each pipeline 30 batches: every batch repeats the delegates of the
    kiosk's batch before, and both kiosks scan the same people (so batches collide and
    run again). Whatever commits when, a kiosk's repeat is never `accepted`."""
    world = await build_world(factory, db, sites=("LC-01", "LC-02"), per_site=120)
    people = [await world.qr(f"LC-0{s}-{i}") for i in range(120) for s in (1, 2)]
    start = datetime.now(UTC) - timedelta(minutes=5)
    plans = [plan(people, start, seed) for seed in (1, 2)]
    headers = [world.kiosk("LC-01"), world.kiosk("LC-02")]
    sends = [
        send_pipelined(client, h, [[s for _, s in batch] for batch in p])
        for h, p in zip(headers, plans, strict=True)
    ]
    sent = await asyncio.gather(*sends)
    for kiosk_plan, answers in zip(plans, sent, strict=True):
        seen: set[str] = set()
        for batch, answer in zip(kiosk_plan, answers, strict=True):
            for (person, _), result in zip(batch, answer["results"], strict=True):
                if person in seen:
                    assert result["result"] == "duplicate", (person, result)
                seen.add(person)
    counted = await db.fetchval("SELECT sum(checked_in_member + checked_in_non_member"
                                " + checked_in_guest) FROM site_tallies")  # fmt: skip
    assert counted == await db.fetchval("SELECT count(*) FROM attendances")


def plan(people: list[str], start: datetime, seed: int) -> list[list[tuple[str, Any]]]:
    """30 batches of 16 scans: 8 people new to this kiosk and the 8 of the batch before,
    scanned again; times rise with the order of sending."""
    rng = random.Random(seed)
    order = people[:]
    rng.shuffle(order)
    batches, at = [], start
    for n in range(30):
        fresh = order[8 * n : 8 * n + 8]
        again = [p for p, _ in batches[-1][:8]] if batches else []
        batch = []
        for person in fresh + again:
            at += timedelta(milliseconds=50)
            batch.append((person, scan(person, at=at)))
        batches.append(batch)
    return batches


async def post(client: TestClient, world: World, scans: list[dict]) -> list[dict]:
    resp = await client.post(
        "/api/v1/checkins", json={"scans": scans}, headers=world.kiosk("LC-01")
    )
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"]


def _local(text: str) -> str:
    """A time as the answers give it: in the conference's zone."""
    return datetime.fromisoformat(text).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).isoformat()
