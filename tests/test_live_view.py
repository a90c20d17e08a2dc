"""The live view's content agrees with the database: the tallies and their recount from
`attendances`, the roster (expected), the participating sites, the kiosks and links, the
arrivals per minute (DESIGN, Contract: live view; README, "The live board")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.appkeys import LIVE_SETTINGS
from diemcau.checkin.timeline import TALLY_FIELDS
from diemcau.queries.live import verify_tallies
from tests.checkin_world import World, scan
from tests.factory import Factory, bearer
from tests.live_world import (
    CHECKINS,
    FAST,
    SITES,
    build_board,
    check_in,
    eventually_true,
    live_url,
    next_message,
    until,
    walk_in,
)

URL = "/api/v1/conferences/HN1/live"


@pytest.fixture
def app(app: web.Application) -> web.Application:
    app[LIVE_SETTINGS] = FAST
    return app


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_board(factory, db)


@pytest.fixture
async def org(factory: Factory) -> dict[str, str]:
    return bearer(await factory.token("organiser"))


async def board(client: TestClient, org: dict, **params: str) -> dict[str, Any]:
    resp = await client.get(URL, params=params, headers=org)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_counts_agree_with_the_tallies_and_their_recount(
    client: TestClient, world: World, org: dict, db: asyncpg.Connection
) -> None:
    base = datetime.now(UTC) - timedelta(minutes=10)
    await check_in(client, world, "LC-01", "LC-01-0")
    await check_in(client, world, "LC-02", "LC-01-1")  # moved: counted at LC-02
    await check_in(client, world, "TD-01", "TD-01-2")
    out = scan(await world.qr("TD-01-2"), direction="out")
    await client.post(CHECKINS, json={"scans": [out]}, headers=world.kiosk("TD-01"))
    early = scan(await world.qr("HG-01-0"), at=base)  # an offline kiosk's late upload
    await client.post(CHECKINS, json={"scans": [early]}, headers=world.kiosk("HG-01"))
    await walk_in(client, world, "HG-01")
    view = await board(client, org)
    rows = {
        r["code"]: r
        for r in await db.fetch(
            "SELECT s.code, t.* FROM site_tallies t JOIN sites s ON s.id = t.site_id"
        )
    }
    for code, entry in view["sites"].items():
        t = rows.get(code) or dict.fromkeys(TALLY_FIELDS, 0)
        for c in ("member", "non_member", "guest"):
            assert entry["checked_in"][c] == t[f"checked_in_{c}"], (code, c)
        walks = sum(t[f"walk_ins_{c}"] for c in ("member", "non_member", "guest"))
        assert entry["walk_ins"] == walks
        for name in ("moved_in", "moved_out", "present"):
            assert entry[name] == t[name], (code, name)
    assert view["sites"]["LC-02"]["moved_in"] == 1 and view["sites"]["LC-01"]["moved_out"] == 1
    assert view["sites"]["TD-01"]["present"] == 0
    assert await verify_tallies(db, world.conference["id"]) == []
    totals = view["totals"]
    assert totals["checked_in"]["member"] + totals["checked_in"]["non_member"] == 4
    assert view["units"]["VN"]["present"] == totals["present"] == 4  # 3 in, 1 walk-in
    arrivals = totals["arrivals"]
    assert sum(arrivals["per_minute"]) == 5  # four entries and a walk-in, no exit
    assert arrivals["per_minute"][0] == 1  # the late upload, in its own minute
    assert len(arrivals["per_minute"]) >= 10


async def test_the_recount_finds_a_tally_that_drifted(
    client: TestClient, world: World, db: asyncpg.Connection
) -> None:
    await check_in(client, world, "LC-01", "LC-01-0")
    assert await verify_tallies(db, world.conference["id"]) == []
    await db.execute("UPDATE site_tallies SET present = present + 2")
    found = await verify_tallies(db, world.conference["id"])
    assert found == [{"site_code": "LC-01", "field": "present", "tallied": 3, "recounted": 1}]


async def test_the_roster_and_the_sites_reach_the_board_by_the_sweep(
    client: TestClient, world: World, org: dict, factory: Factory
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        await next_message(ws)
        resp = await client.post(
            "/api/v1/conferences/HN1/delegates",
            json={
                "external_id": "NEW-1",
                "full_name": "Lò Thị Mai",
                "category": "guest",
                "site_code": "HG-01",
            },
            headers=org,
        )
        assert resp.status == 201, await resp.text()
        delta = await until(ws, lambda d: "HG-01" in d["sites"])
        assert delta["sites"]["HG-01"]["expected"]["guest"] == 1
        assert delta["units"]["HG"]["expected"]["guest"] == 1
        await factory.site("HG-02", unit="HG", status="ready", capacity=5)
        resp = await client.put(
            "/api/v1/conferences/HN1/sites",
            json={"sites": [*SITES, "HG-02"]},
            headers=org,
        )
        assert resp.status == 200, await resp.text()
        added = await until(ws, lambda d: "HG-02" in d["sites"])
        assert added["sites"]["HG-02"]["status"] == "ready"
        assert added["units"]["HG"]["sites"] == 2
        resp = await client.put("/api/v1/conferences/HN1/sites", json={"sites": SITES}, headers=org)
        assert resp.status == 200, await resp.text()
        gone = await until(ws, lambda d: "HG-02" in d["sites"])
    assert gone["sites"]["HG-02"] is None
    assert set((await board(client, org))["sites"]) == set(SITES)


async def test_over_capacity_is_checked_in_and_walk_ins_above_capacity(
    client: TestClient, world: World, org: dict, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE sites SET capacity = 1 WHERE code = 'LC-01'")
    await check_in(client, world, "LC-01", "LC-01-0")
    await walk_in(client, world, "LC-01")

    async def over() -> bool:
        return (await board(client, org))["sites"]["LC-01"]["over_capacity"]

    assert await eventually_true(over)


KIOSK_OF = """UPDATE kiosks SET last_seen_at = now() - $2::interval, queue_length = $3
               WHERE device_name = $1"""


@pytest.mark.parametrize(
    "seen,queue,test_passed,online,link",
    [
        (None, None, None, False, "unknown"),  # no kiosk ever seen, no test
        (None, None, False, False, "degraded"),  # the latest link test failed
        ("5 seconds", 0, True, True, "connected"),
        ("5 seconds", 12, True, True, "degraded"),  # the kiosk holds unsent scans
        ("5 seconds", 0, False, True, "degraded"),
        ("60 seconds", 0, True, False, "degraded"),  # missed a heartbeat or two
        ("10 minutes", 0, True, False, "lost"),
    ],
)
async def test_kiosk_online_and_link(
    client: TestClient,
    world: World,
    org: dict,
    db: asyncpg.Connection,
    seen: str | None,
    queue: int | None,
    test_passed: bool | None,
    online: bool,
    link: str,
) -> None:
    await db.execute(
        "UPDATE conferences SET checkin_opens_at = now() - interval '1 hour' WHERE code = 'HN1'"
    )
    if seen is not None:
        await db.execute(KIOSK_OF, "LC-01#0", timedelta(seconds=_seconds(seen)), queue)
    if test_passed is not None:
        await db.execute(
            """INSERT INTO link_tests (site_id, rtt_ms, jitter_ms, loss_pct, audio_ok,
                                       video_ok, passed)
               SELECT id, 40, 5, $1, $2, true, $2 FROM sites WHERE code = 'LC-01'""",
            0 if test_passed else 20,
            test_passed,
        )

    async def shown() -> bool:
        site = (await board(client, org))["sites"]["LC-01"]
        return (site["kiosk_online"], site["link"]) == (online, link)

    assert await eventually_true(shown)


def _seconds(text: str) -> int:
    n, unit = text.split()
    return int(n) * (60 if unit.startswith("minute") else 1)


async def test_two_views_of_one_seq_are_the_same(
    client: TestClient, world: World, org: dict
) -> None:
    await check_in(client, world, "LC-01", "LC-01-0")
    first = await board(client, org)
    second = await board(client, org)
    assert first["seq"] == second["seq"] and first == second
