"""`seq` follows commit order (DESIGN, Live websocket: "a change committed later never
carries a smaller seq").

Two check-in transactions of one conference: the first to start is held up inside its
transaction (its scan id meets another transaction's uncommitted row), the second starts
later and commits first. A reader of "changed since N", which takes the largest `seq` it
saw as its next N, must still see both sites: with numbers handed out when a transaction
writes rather than when it commits, the first one's smaller number, committed last, was
behind the reader's N for good.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau import auth
from diemcau.appkeys import LIVE_SETTINGS
from diemcau.checkin.ingest import ingest
from diemcau.checkin.model import scans_from
from diemcau.checkin.records import Job, Kiosk
from diemcau.db import connect
from tests.checkin_world import World, build_world
from tests.factory import Factory, bearer
from tests.live_world import FAST, live_url, next_message, until


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db, per_site=1, kiosks_per_site=1)


async def kiosk(db: asyncpg.Connection, world: World, site: str) -> Kiosk:
    token_id = await db.fetchval("SELECT id FROM tokens WHERE label = $1", f"{site}#0")
    site_id = await db.fetchval("SELECT id FROM sites WHERE code = $1", site)
    return Kiosk(token_id, world.conference["id"], site_id)


def walk_in(scan_id: uuid.UUID, name: str) -> list:
    scan = {
        "scan_id": str(scan_id),
        "scanned_at": datetime.now(UTC).isoformat(),
        "method": "walk_in",
        "full_name": name,
        "category": "guest",
    }
    return scans_from({"scans": [scan]})


async def changed_since(db: asyncpg.Connection, conference_id: int, after: int) -> dict:
    """What a reader of "changed since N" gets: site code -> seq."""
    rows = await db.fetch(
        """SELECT s.code, t.seq FROM site_tallies t JOIN sites s ON s.id = t.site_id
            WHERE t.conference_id = $1 AND t.seq > $2""",
        conference_id,
        after,
    )
    return {r["code"]: r["seq"] for r in rows}


async def waiting_on_a_lock(db: asyncpg.Connection) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock')"
    )


async def test_a_reader_of_changes_since_misses_no_commit(
    world: World, db: asyncpg.Connection, database_url: str
) -> None:
    cid = world.conference["id"]
    first, second = await kiosk(db, world, "LC-01"), await kiosk(db, world, "LC-02")
    held = uuid.uuid4()
    blocker, one, two = [await connect(database_url) for _ in range(3)]
    try:
        # Another transaction holds an uncommitted scan with the id the first one uses.
        blocker_tx = blocker.transaction()
        await blocker_tx.start()
        await blocker.execute(
            """INSERT INTO checkins (conference_id, scan_id, site_id, method, direction,
                                     scanned_at, judged_at, received_at, result,
                                     content_digest)
               VALUES ($1, $2, $3, 'walk_in', 'in', now(), now(), now(), 'invalid', '\\x00')""",
            cid,
            held,
            first.site_id,
        )
        slow = asyncio.create_task(ingest(one, cid, [Job(first, walk_in(held, "Khách một"))]))
        for _ in range(200):
            if await waiting_on_a_lock(db):
                break
            await asyncio.sleep(0.02)
        assert not slow.done()
        # The second transaction starts later and commits first.
        await ingest(two, cid, [Job(second, walk_in(uuid.uuid4(), "Khách hai"))])
        seen = await changed_since(db, cid, 0)
        assert set(seen) == {"LC-02"}
        cursor = max(seen.values())
        await blocker_tx.rollback()
        await slow
        later = await changed_since(db, cid, cursor)
        assert set(later) == {"LC-01"}, "a change committed later carried a smaller seq"
        assert later["LC-01"] > cursor
    finally:
        for conn in (blocker, one, two):
            await conn.close()


async def test_seq_is_per_conference_and_never_goes_back(
    world: World, db: asyncpg.Connection
) -> None:
    cid = world.conference["id"]
    before = await db.fetchval("SELECT seq FROM live_counters WHERE conference_id = $1", cid)
    assert before is None  # nothing changed yet
    for n in range(3):
        await ingest(
            db, cid, [Job(await kiosk(db, world, "LC-01"), walk_in(uuid.uuid4(), f"K{n}"))]
        )
    assert await db.fetchval("SELECT seq FROM live_counters WHERE conference_id = $1", cid) == 3
    assert await db.fetchval("SELECT max(seq) FROM site_tallies WHERE conference_id = $1", cid) == 3


@pytest.fixture
def app(app: web.Application) -> web.Application:
    app[LIVE_SETTINGS] = FAST
    return app


async def test_a_resuming_dashboard_misses_no_commit(
    client: TestClient, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """The same race seen by a dashboard: it gets the second transaction's site, goes
    away, and comes back with `since` after the first one committed."""
    cid = world.conference["id"]
    org = bearer((await auth.create_token(db, "organiser"))[0])
    first, second = await kiosk(db, world, "LC-01"), await kiosk(db, world, "LC-02")
    held = uuid.uuid4()
    blocker, one, two = [await connect(database_url) for _ in range(3)]
    try:
        blocker_tx = blocker.transaction()
        await blocker_tx.start()
        await blocker.execute(
            """INSERT INTO checkins (conference_id, scan_id, site_id, method, direction,
                                     scanned_at, judged_at, received_at, result,
                                     content_digest)
               VALUES ($1, $2, $3, 'walk_in', 'in', now(), now(), now(), 'invalid', '\\x00')""",
            cid,
            held,
            first.site_id,
        )
        async with client.ws_connect(live_url(), headers=org) as ws:
            await next_message(ws)
            slow = asyncio.create_task(ingest(one, cid, [Job(first, walk_in(held, "Một"))]))
            for _ in range(200):
                if await waiting_on_a_lock(db):
                    break
                await asyncio.sleep(0.02)
            await ingest(two, cid, [Job(second, walk_in(uuid.uuid4(), "Hai"))])
            seen = await until(ws, lambda d: "LC-02" in d["sites"])
        assert "LC-01" not in seen["sites"]
        await blocker_tx.rollback()
        await slow
        async with client.ws_connect(live_url(since=seen["seq"]), headers=org) as ws:
            back = await next_message(ws)
        assert back["type"] == "delta"
        assert back["sites"]["LC-01"]["walk_ins"] == 1, "the dashboard missed a commit"
    finally:
        for conn in (blocker, one, two):
            await conn.close()
