"""A kiosk's roster `?since=` misses no change, whatever order roster writes commit in.

Every change to a delegate a kiosk holds takes a new `roster_seq`, and a kiosk asks for
the changes after the version it last got. Writers of one conference's roster take the
conference row's lock before writing, so the numbers are handed out in commit order. A
revocation (or reissue) that took its number without that lock and committed after a
later-numbered write was behind the kiosk's version for good: the kiosk kept honouring
a revoked badge.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from diemcau import issuance, kiosk_roster
from diemcau.auth import CLI
from diemcau.db import connect
from diemcau.queries.conferences import fetch_conference
from tests.checkin_world import World, build_world
from tests.factory import Factory


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db, per_site=2, kiosks_per_site=1)


async def changes(db: asyncpg.Connection, world: World, since: int) -> tuple[set[int], int]:
    """What a kiosk of LC-01 with the unit's roster (both sites) gets for `?since=`: the
    changed ids, and the new version."""
    conference = await fetch_conference(db, world.code)
    here = world.delegates["LC-01-0"]["site_id"]
    sites = await kiosk_roster.scope_sites(db, conference["id"], here, "unit")
    _, version = await kiosk_roster.etag(db, conference, sites, "unit")
    body = await kiosk_roster.snapshot(db, conference, sites, "unit", version, since)
    return {d["id"] for d in body["delegates"]}, version


async def test_a_revocation_committed_last_is_never_behind_the_kiosks_version(
    world: World, db: asyncpg.Connection, database_url: str
) -> None:
    conference = await fetch_conference(db, world.code)
    first, second = world.delegates["LC-01-0"]["id"], world.delegates["LC-02-0"]["id"]
    _, start = await changes(db, world, 0)
    slow, other = await connect(database_url), await connect(database_url)
    try:
        # The first revocation is done but not yet committed (its transaction goes on).
        held = slow.transaction()
        await held.start()
        await issuance.revoke(slow, conference, first, CLI)
        # A second roster write, at the other site, starts later and must not become
        # visible under a version the first one's number is behind.
        late = asyncio.create_task(issuance.revoke(other, conference, second, CLI))
        await asyncio.sleep(0.3)
        seen, version = await changes(db, world, start)
        await held.commit()
        await late
        after, _ = await changes(db, world, version)
        assert {first, second} <= seen | after, "a roster change was behind the kiosk's version"
    finally:
        await slow.close()
        await other.close()
