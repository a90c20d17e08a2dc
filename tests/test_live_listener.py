"""The worker's LISTEN connection comes back by itself after losing the database, and the
board then reads whatever it missed (a notification sent while nobody listened is lost
for good; the rows are not).

The safety poll is set to a minute here, so only the listener can bring the change.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.appkeys import LIVE_SETTINGS
from tests.checkin_world import World
from tests.factory import Factory, bearer
from tests.live_world import FAST, build_board, live_url, next_message, until, walk_in


@pytest.fixture
def app(app: web.Application) -> web.Application:
    app[LIVE_SETTINGS] = replace(FAST, poll_every=60.0)
    return app


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_board(factory, db)


async def _end_listeners(db: asyncpg.Connection) -> int:
    """End every backend listening on the board's channel, as a restart would."""
    return await db.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE 'LISTEN%'"""
    )


async def test_a_change_made_while_the_listener_was_away_still_arrives(
    client: TestClient, world: World, factory: Factory, db: asyncpg.Connection
) -> None:
    org = bearer(await factory.token("organiser"))
    async with client.ws_connect(live_url(), headers=org) as ws:
        await next_message(ws)
        await walk_in(client, world, "LC-01")
        first = await until(ws, lambda d: "LC-01" in d["sites"])  # the listener works
        assert await _end_listeners(db) == 1
        await walk_in(client, world, "LC-02")  # notified while nobody listens
        later = await until(ws, lambda d: "LC-02" in d["sites"], within=10)
        assert later["seq"] > first["seq"]
        for _ in range(100):  # and it listens again
            if await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
            ):
                break
            await asyncio.sleep(0.05)
        await walk_in(client, world, "HG-01")
        again = await until(ws, lambda d: "HG-01" in d["sites"], within=5)
    assert again["sites"]["HG-01"]["walk_ins"] == 1
