"""Scans in any order leave the same state (DESIGN, Rules).

Offline kiosks upload late and in bursts, so the same set of scans may arrive in any
order and any grouping into batches. Whatever the order: each delegate is attributed to
the site of their earliest valid entry (ties to the first to arrive), presence follows
their latest valid scan, exits and re-entries are the same, and the site tallies equal
what those attributions add up to.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau import reconcile
from diemcau.checkin.timeline import TALLY_FIELDS
from diemcau.config import Config
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory

SITES = ("LC-01", "LC-02", "LC-03")


@pytest.fixture
def config(config: Config) -> Config:
    # Replays send hundreds of batches a second from one kiosk: not what the limit guards.
    return replace(config, kiosk_rate=100_000)


# What a scan leaves counted (not how it was answered: that depends on arrival).
STATE_COLUMNS = tuple(f for f in TALLY_FIELDS if not f.endswith("_scans"))


async def scenario(world: World) -> list[tuple[str, dict[str, Any]]]:
    """(site, scan) pairs: entries, exits and re-entries at several sites, and walk-ins."""
    rng = random.Random(7)
    base = datetime.now(UTC) - timedelta(minutes=25)  # check-in opened 30 minutes ago
    out = []
    for ext in sorted(world.delegates):
        qr = await world.qr(ext)
        for _ in range(rng.randint(1, 4)):
            site = rng.choice(SITES)
            at = base + timedelta(seconds=rng.randint(0, 1200))
            direction = "out" if rng.random() < 0.3 else "in"
            out.append((site, scan(qr, at=at, direction=direction)))
    for n in range(3):
        out.append((SITES[n], scan(full_name=f"Khách {n}", category="guest", at=base)))
    # Two scans of one badge at the very same moment at two sites: the first to arrive
    # counts, so this pair is kept in this order in every run.
    qr = await world.qr("LC-01-0")
    tie = base + timedelta(minutes=1)
    out.append(("LC-02", scan(qr, at=tie)))
    out.append(("LC-03", scan(qr, at=tie)))
    return out


async def final_state(db: asyncpg.Connection) -> dict[str, Any]:
    attendances = await db.fetch(
        "SELECT delegate_id, site_id, first_scan_id, present, last_at FROM attendances"
        " ORDER BY delegate_id"
    )
    tallies = await db.fetch(
        f"SELECT site_id, {', '.join(STATE_COLUMNS)} FROM site_tallies ORDER BY site_id"
    )
    return {
        "attendances": [dict(r) for r in attendances],
        "tallies": [dict(r) for r in tallies if any(r[c] for c in STATE_COLUMNS)],
    }


async def replay(
    client: TestClient, world: World, scans: list[tuple[str, dict[str, Any]]], seed: int
) -> None:
    """Send the scans shuffled (the tie pair kept in order), in random batch sizes."""
    rng = random.Random(seed)
    head, tie = scans[:-2], scans[-2:]
    order = head[:]
    rng.shuffle(order)
    at = rng.randint(0, len(order))
    order[at:at] = tie
    while order:
        # A batch: the next scans of one site, in arrival order.
        size, site = rng.randint(1, 6), order[0][0]
        taken = 0
        while taken < min(size, len(order)) and order[taken][0] == site:
            taken += 1
        batch = [s for _, s in order[:taken]]
        order = order[taken:]
        resp = await client.post(
            "/api/v1/checkins", json={"scans": batch}, headers=world.kiosk(site)
        )
        assert resp.status == 200, await resp.text()


async def clear(db: asyncpg.Connection) -> None:
    await db.execute("TRUNCATE checkins, attendances, site_tallies")


async def test_any_order_leaves_the_same_state(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    world = await build_world(factory, db, sites=SITES, per_site=4)
    scans = await scenario(world)
    states = []
    for seed in range(5):
        await replay(client, world, scans, seed)
        states.append(await final_state(db))
        # The running counters agree with a recount from the stored scans, every time.
        assert await reconcile.verify(db, world.conference["id"]) == []
        await clear(db)
    assert all(s == states[0] for s in states[1:])
    # And the state is the one the rule describes, computed here from the scans alone.
    assert states[0]["attendances"] == await expected_attendances(db, world, scans)


async def expected_attendances(
    db: asyncpg.Connection, world: World, scans: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    site_ids = {r["code"]: r["id"] for r in await db.fetch("SELECT id, code FROM sites")}
    by_code = {}
    for ext, row in world.delegates.items():
        by_code[await world.qr(ext)] = row["id"]
    timelines: dict[int, list[tuple[datetime, int, str, str, str]]] = {}
    for arrival, (site, s) in enumerate(scans):
        if "qr" not in s:
            continue
        at = datetime.fromisoformat(s["scanned_at"])
        entry = (at, arrival, s.get("direction", "in"), site, s["scan_id"])
        timelines.setdefault(by_code[s["qr"]], []).append(entry)
    out = []
    for delegate_id in sorted(timelines):
        line = sorted(timelines[delegate_id])
        ins = [e for e in line if e[2] == "in"]
        if not ins:
            first = None
        else:
            first = ins[0]
        out.append(
            {
                "delegate_id": delegate_id,
                "site_id": site_ids[first[3]] if first else None,
                "first_scan_id": _uuid(first[4]) if first else None,
                "present": first is not None and line[-1][2] == "in",
                "last_at": line[-1][0],
            }
        )
    return out


def _uuid(text: str) -> Any:
    import uuid

    return uuid.UUID(text)


async def test_a_late_earlier_scan_takes_the_attribution(
    factory: Factory, db: asyncpg.Connection, client: TestClient
) -> None:
    world = await build_world(factory, db)
    qr = await world.qr("LC-01-0")
    now = datetime.now(UTC)
    at_02 = scan(qr, at=now - timedelta(minutes=10))
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [at_02]}, headers=world.kiosk("LC-02")
    )
    (counted,) = (await resp.json())["results"]
    assert counted["result"] == "accepted" and counted["moved"] is True
    # An offline kiosk at the delegate's own site uploads an earlier scan.
    earlier = scan(qr, at=now - timedelta(minutes=20))
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [earlier]}, headers=world.kiosk("LC-01")
    )
    (taken,) = (await resp.json())["results"]
    assert taken["result"] == "accepted" and taken["moved"] is False
    assert (await world.tally("LC-01"))["checked_in_member"] == 1
    moved_away = await world.tally("LC-02")
    assert moved_away["checked_in_member"] == 0 and moved_away["moved_in"] == 0
    assert (await world.tally("LC-01"))["moved_out"] == 0
    # Later scans name the new first site; the replaced scan keeps the answer it had.
    resp = await client.post(
        "/api/v1/checkins", json={"scans": [scan(qr), at_02]}, headers=world.kiosk("LC-02")
    )
    later, retried = (await resp.json())["results"]
    assert later["result"] == "duplicate" and later["first"]["site_code"] == "LC-01"
    assert retried == counted
