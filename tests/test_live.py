"""WS /ws/conferences/{code}/live and GET .../live: the protocol of docs/live.md.

A snapshot first (the live view with `type: snapshot`), then deltas with whole entries
of what changed only, at most one every `min_interval` per client however fast scans
come; `?since=N` resumes with the deltas after N, or a snapshot for a `since` that is
stale, ahead or not a number; `?unit=` limits everything to a subtree; the handshake is
refused before the upgrade for bad credentials, a foreign Origin, the wrong role or a
scope that does not cover the conference.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.app import create_app
from diemcau.appkeys import LIVE, LIVE_SETTINGS
from diemcau.config import Config
from diemcau.queries import live as live_queries
from tests.checkin_world import World
from tests.factory import Factory, bearer
from tests.live_world import (
    FAST,
    SITES,
    build_board,
    check_in,
    eventually,
    live_url,
    next_message,
    quiet,
    until,
    upgrade_headers,
    walk_in,
)
from tests.problems import assert_problem


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


async def test_the_first_message_is_the_snapshot_of_the_live_view(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
    assert snap["type"] == "snapshot"
    assert set(snap["sites"]) == set(SITES)  # exactly the participating sites
    assert set(snap["units"]) == {"VN", "LC", "LC-TD", "HG"}
    site = snap["sites"]["TD-01"]
    assert site["expected"] == {"member": 2, "non_member": 1, "guest": 0}
    assert site["checked_in"] == {"member": 0, "non_member": 0, "guest": 0}
    assert site["headcount"] is None and site["last_scan_at"] is None
    assert site["link"] == "unknown" and site["kiosk_online"] is False
    assert snap["units"]["LC"]["expected"]["member"] == 6  # LC-01, LC-02 and TD-01
    assert snap["units"]["LC"]["parent_code"] == "VN"
    totals = snap["totals"]
    assert totals["expected"] == {"member": 8, "non_member": 4, "guest": 0}
    assert totals["rates"] == {"member": 0.0, "non_member": 0.0}
    assert totals["targets"] == {"member": 0.98, "non_member": 0.9}
    assert totals["arrivals"] == {"from": None, "per_minute": []}
    http = await (await client.get("/api/v1/conferences/HN1/live", headers=org)).json()
    assert "type" not in http
    assert {k: v for k, v in snap.items() if k != "type"} == http


async def test_a_scan_brings_a_delta_with_what_changed_only(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
        await check_in(client, world, "TD-01", "TD-01-0")
        delta = await until(ws, lambda d: "TD-01" in d["sites"])
    assert delta["seq"] > snap["seq"]
    assert set(delta["sites"]) == {"TD-01"}
    assert set(delta["units"]) <= {"VN", "LC", "LC-TD"} and "LC-TD" in delta["units"]
    site = delta["sites"]["TD-01"]
    assert site["checked_in"]["member"] == 1 and site["present"] == 1
    assert site["last_scan_at"] is not None
    assert delta["units"]["LC-TD"]["checked_in"]["member"] == 1
    assert delta["totals"]["checked_in"]["member"] == 1
    assert delta["totals"]["rates"]["member"] == 1 / 8
    assert sum(delta["totals"]["arrivals"]["per_minute"]) == 1


async def test_deltas_come_at_most_once_per_interval_however_fast_scans_come(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        await next_message(ws)
        started = time.monotonic()
        for n in range(40):  # a walk-in every 25 ms for a second
            await walk_in(client, world, SITES[n % 4], f"Khách {n}")
            await asyncio.sleep(0.025)
        spent = time.monotonic() - started
        got = [m for m in await quiet(ws, 1.0) if m["type"] == "delta"]
    assert got, "no delta at all"
    # 40 commits in `spent` seconds: at most one delta per 0.2 s, plus the one after.
    assert len(got) <= spent / FAST.min_interval + 2, (len(got), spent)
    assert got[-1]["totals"]["walk_ins"] == 40
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)


async def test_deltas_are_spaced_by_the_interval(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        await next_message(ws)
        arrived: list[float] = []

        async def read() -> None:
            while True:
                await next_message(ws, "delta", within=3)
                arrived.append(time.monotonic())

        reader = asyncio.create_task(read())
        for n in range(30):
            await walk_in(client, world, SITES[n % 4], f"Khách {n}")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)
        reader.cancel()
    gaps = [b - a for a, b in itertools.pairwise(arrived)]
    assert len(arrived) >= 2
    assert min(gaps) >= FAST.min_interval * 0.9, gaps


async def test_resume_with_since_gets_the_missed_changes_only(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
    await check_in(client, world, "LC-02", "LC-02-1")
    async with client.ws_connect(live_url(since=snap["seq"]), headers=org) as ws:
        first = await next_message(ws)
        assert first["type"] == "delta"
        assert set(first["sites"]) == {"LC-02"}
        assert first["sites"]["LC-02"]["checked_in"]["non_member"] == 1
        assert first["seq"] > snap["seq"]
        # and nothing is missed after it
        await check_in(client, world, "HG-01", "HG-01-0")
        later = await until(ws, lambda d: "HG-01" in d["sites"])
    assert later["seq"] > first["seq"]
    async with client.ws_connect(live_url(since=later["seq"]), headers=org) as ws:
        again = await next_message(ws)
    # Nothing but what the sweep may have published since (the scanning kiosks are online)
    assert again["type"] == "delta" and set(again["sites"]) <= {"LC-02", "HG-01"}


@pytest.mark.parametrize("since", ["abc", "-1", "1e3", "٣", "9" * 30, "", "99999999"])
async def test_a_since_that_is_garbage_or_ahead_gets_a_snapshot(
    client: TestClient, world: World, org: dict, since: str
) -> None:
    async with client.ws_connect(live_url(since=since), headers=org) as ws:
        first = await next_message(ws)
    assert first["type"] == "snapshot"
    assert set(first["sites"]) == set(SITES)


async def test_a_stale_since_gets_a_snapshot(client: TestClient, world: World, org: dict) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
    for site in SITES[:3]:  # most of the board changed since
        await walk_in(client, world, site)
    async with client.ws_connect(live_url(since=snap["seq"]), headers=org) as ws:
        first = await next_message(ws)
    assert first["type"] == "snapshot"
    assert first["totals"]["walk_ins"] == 3


async def test_unit_limits_sites_units_and_totals_to_the_subtree(
    client: TestClient, world: World, org: dict
) -> None:
    async with client.ws_connect(live_url(unit="LC"), headers=org) as ws:
        snap = await next_message(ws)
        assert snap["scope"] == {"unit": "LC"}
        assert set(snap["sites"]) == {"LC-01", "LC-02", "TD-01"}
        assert set(snap["units"]) == {"LC", "LC-TD"}
        assert snap["totals"]["expected"]["member"] == 6
        await check_in(client, world, "HG-01", "HG-01-0")  # outside: nothing comes
        assert [m for m in await quiet(ws, 0.8) if m["type"] == "delta"] == []
        await check_in(client, world, "LC-01", "LC-01-0")
        delta = await until(ws, lambda d: "LC-01" in d["sites"])
    assert set(delta["units"]) <= {"LC"} and "VN" not in delta["units"]
    assert delta["totals"]["checked_in"]["member"] == 1  # HG-01's is not in this subtree
    http = await client.get("/api/v1/conferences/HN1/live?unit=LC-TD", headers=org)
    body = await http.json()
    assert set(body["sites"]) == {"TD-01"} and set(body["units"]) == {"LC-TD"}


async def test_a_unit_with_no_site_of_the_board_is_an_empty_board(
    client: TestClient, world: World, org: dict, factory: Factory
) -> None:
    await factory.unit("QN", parent="VN", name="Quảng Ninh")
    body = await (await client.get("/api/v1/conferences/HN1/live?unit=QN", headers=org)).json()
    assert body["sites"] == {} and body["units"] == {}
    assert body["totals"]["sites"] == 0 and body["totals"]["expected"]["member"] == 0
    assert body["totals"]["rates"] == {"member": None, "non_member": None}


async def test_an_unknown_unit_is_a_404(client: TestClient, world: World, org: dict) -> None:
    resp = await client.get("/api/v1/conferences/HN1/live?unit=NOPE", headers=org)
    await assert_problem(resp, 404, "not_found")
    resp = await client.get(live_url(unit="NOPE"), headers=upgrade_headers(org))
    await assert_problem(resp, 404, "not_found")


async def test_heartbeats_when_idle(
    world: World, org: dict, aiohttp_client: Any, config: Config
) -> None:
    app = create_app(config)
    app[LIVE_SETTINGS] = replace(FAST, heartbeat_every=0.3)
    client = await aiohttp_client(app)
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
        beat = await next_message(ws, "heartbeat", within=3)
    assert beat["seq"] == snap["seq"] and beat["behind"] is False and "server_time" in beat


async def test_a_ticket_opens_one_socket_within_30_s(
    client: TestClient, world: World, org: dict, db: asyncpg.Connection
) -> None:
    ticket = (await (await client.post("/api/v1/ws-tickets", headers=org)).json())["ticket"]
    async with client.ws_connect(live_url(ticket=ticket)) as ws:
        assert (await next_message(ws))["type"] == "snapshot"
    resp = await client.get(live_url(ticket=ticket), headers=upgrade_headers())
    await assert_problem(resp, 401, "authentication_required")  # used once already
    late = (await (await client.post("/api/v1/ws-tickets", headers=org)).json())["ticket"]
    await db.execute(
        "UPDATE ws_tickets SET expires_at = now() - interval '1 s' WHERE used_at IS NULL"
    )
    resp = await client.get(live_url(ticket=late), headers=upgrade_headers())
    await assert_problem(resp, 401, "authentication_required")


async def test_a_foreign_origin_is_refused_before_the_upgrade(
    client: TestClient, world: World, org: dict
) -> None:
    resp = await client.get(
        live_url(), headers=upgrade_headers({**org, "Origin": "https://evil.example"})
    )
    await assert_problem(resp, 403, "origin_not_allowed")
    own = f"http://{client.host}:{client.port}"
    async with client.ws_connect(live_url(), headers={**org, "Origin": own}) as ws:
        assert (await next_message(ws))["type"] == "snapshot"


async def test_without_credentials_it_is_a_401(client: TestClient, world: World) -> None:
    resp = await client.get(live_url(), headers=upgrade_headers())
    await assert_problem(resp, 401, "authentication_required")
    resp = await client.get("/api/v1/conferences/HN1/live")
    await assert_problem(resp, 401, "authentication_required")


@pytest.mark.parametrize("role", ["technician", "kiosk"])
async def test_technicians_and_kiosks_are_refused(
    client: TestClient, world: World, factory: Factory, role: str
) -> None:
    token = await factory.token(
        role, **({"unit": "LC"} if role == "technician" else {"conference": "HN1", "site": "LC-01"})
    )
    resp = await client.get(live_url(), headers=upgrade_headers(bearer(token)))
    await assert_problem(resp, 403, "forbidden")
    resp = await client.get("/api/v1/conferences/HN1/live", headers=bearer(token))
    await assert_problem(resp, 403, "forbidden")


async def test_viewers_see_their_conference_only(
    client: TestClient, world: World, factory: Factory
) -> None:
    mine = bearer(await factory.token("viewer", conference="HN1"))
    async with client.ws_connect(live_url(), headers=mine) as ws:
        assert set((await next_message(ws))["sites"]) == set(SITES)
    await factory.conference("HN2", sites=["LC-01"])
    other = bearer(await factory.token("viewer", conference="HN2"))
    resp = await client.get(live_url(), headers=upgrade_headers(other))
    await assert_problem(resp, 404, "not_found")


async def test_an_organiser_of_another_subtree_gets_a_404(
    client: TestClient, world: World, factory: Factory, db: asyncpg.Connection
) -> None:
    await factory.unit("QN", parent="VN", name="Quảng Ninh")  # no site of HN1 below it
    await db.execute("UPDATE conferences SET unit_id = (SELECT id FROM units WHERE code = 'LC')")
    outsider = bearer(await factory.token("organiser", unit="QN"))
    resp = await client.get(live_url(), headers=upgrade_headers(outsider))
    await assert_problem(resp, 404, "not_found")
    resp = await client.get("/api/v1/conferences/HN1/live", headers=outsider)
    await assert_problem(resp, 404, "not_found")


async def test_an_organiser_holding_some_sites_watches_their_subtree_only(
    client: TestClient, world: World, factory: Factory, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE conferences SET unit_id = (SELECT id FROM units WHERE code = 'VN')")
    district = bearer(await factory.token("organiser", unit="LC-TD"))
    async with client.ws_connect(live_url(), headers=district) as ws:
        snap = await next_message(ws)
    assert snap["scope"] == {"unit": "LC-TD"} and set(snap["sites"]) == {"TD-01"}
    resp = await client.get(live_url(unit="LC"), headers=upgrade_headers(district))
    await assert_problem(resp, 404, "not_found")  # a wider subtree than theirs
    owner = bearer(await factory.token("organiser", unit="LC"))
    await db.execute("UPDATE conferences SET unit_id = (SELECT id FROM units WHERE code = 'LC')")
    body = await (await client.get("/api/v1/conferences/HN1/live", headers=owner)).json()
    assert set(body["sites"]) == set(SITES)  # the owning subtree sees the whole board


async def test_a_revoked_token_closes_the_socket(
    client: TestClient, world: World, factory: Factory, db: asyncpg.Connection
) -> None:
    viewer = await factory.token("viewer", conference="HN1", label="projector")
    async with client.ws_connect(live_url(), headers=bearer(viewer)) as ws:
        await next_message(ws)
        await db.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'projector'")
        msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401


async def test_the_http_view_is_gzipped_when_asked(
    client: TestClient, world: World, org: dict
) -> None:
    plain = await client.get(
        "/api/v1/conferences/HN1/live", headers={**org, "Accept-Encoding": "identity"}
    )
    assert "Content-Encoding" not in plain.headers
    packed = await client.get(
        "/api/v1/conferences/HN1/live", headers={**org, "Accept-Encoding": "gzip"}
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert await packed.json() == await plain.json()


async def test_a_resume_whose_database_read_fails_closes_as_an_error_and_leaves_no_watcher(
    client: TestClient, world: World, org: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client.ws_connect(live_url(), headers=org) as ws:
        snap = await next_message(ws)
    await check_in(client, world, "LC-02", "LC-02-1")

    async def lost(*_: Any) -> list[int]:
        raise ConnectionResetError("the database went away")

    # The database drops in the middle of the resume's read (after the upgrade).
    monkeypatch.setattr(live_queries, "fetch_changed_site_ids", lost)
    async with client.ws_connect(live_url(since=snap["seq"]), headers=org) as ws:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == aiohttp.WSCloseCode.INTERNAL_ERROR
    hub = client.app[LIVE]
    assert await eventually(lambda: sum(len(b.all_watchers()) for b in hub.lives.values()) == 0)
    monkeypatch.undo()
    async with client.ws_connect(live_url(since=snap["seq"]), headers=org) as ws:
        back = await next_message(ws)
    assert back["type"] == "delta" and "LC-02" in back["sites"]
