"""A client that stops reading never delays another, and is dropped (DESIGN, Live
websocket: "a slow client is sent fewer, larger deltas from a bounded buffer, never an
unbounded queue, and one that stops reading for 30 s is dropped; no client ever delays
another").

The slow client here is a raw socket with a 4 KiB receive buffer that completes the
handshake and never reads again, on a board of 600 sites (a snapshot of about 200 KB):
the service's send to it stalls at once. `slow_after` is 3 s here (30 s by default).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from diemcau.appkeys import LIVE, LIVE_SETTINGS
from diemcau.live.watcher import Watcher
from tests.checkin_world import scan
from tests.factory import Factory, bearer
from tests.live_world import FAST, eventually, live_url, next_message, until

SLOW_AFTER = 3.0


def WALK_IN() -> dict[str, Any]:
    return {"scans": [scan(method="walk_in", full_name="Khách", category="guest")]}


@pytest.fixture
def app(app: web.Application) -> web.Application:
    app[LIVE_SETTINGS] = replace(FAST, slow_after=SLOW_AFTER, send_buffer=4096)
    return app


@pytest.fixture
async def big(factory: Factory, db: asyncpg.Connection) -> dict[str, str]:
    """Conference BIG over 600 sites; answers an organiser's and a kiosk's headers."""
    unit = await factory.unit("BIG", level="province", name="Tỉnh lớn")
    await db.execute(
        """INSERT INTO sites (code, name, unit_id, level, capacity)
           SELECT 'B' || lpad(i::text, 4, '0'), 'Hội trường xã số ' || i, $1, 'commune', 150
             FROM generate_series(1, 600) i""",
        unit["id"],
    )
    conference = await factory.conference("BIG", starts_in=timedelta(0))
    await db.execute(
        "INSERT INTO conference_sites SELECT $1, id FROM sites WHERE code LIKE 'B%'",
        conference["id"],
    )
    return {
        "org": await factory.token("organiser"),
        "kiosk": await factory.token("kiosk", conference="BIG", site="B0001"),
    }


def never_reading(client: TestClient, token: str) -> socket.socket:
    """A websocket client that sends its handshake and then reads nothing, ever."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((client.host, client.port))
    sock.sendall(
        (
            f"GET {live_url('BIG')} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


def watchers(client: TestClient) -> int:
    hub = client.app[LIVE]  # type: ignore[index]
    return sum(len(live.all_watchers()) for live in hub.lives.values())


async def test_a_client_that_never_reads_delays_no_one_and_is_dropped(
    client: TestClient, big: dict[str, str]
) -> None:
    slow = never_reading(client, big["org"])
    try:
        started = time.monotonic()
        assert await eventually(lambda: watchers(client) == 1)
        async with client.ws_connect(live_url("BIG"), headers=bearer(big["org"])) as ws:
            snap = await next_message(ws)
            assert len(snap["sites"]) == 600
            assert watchers(client) == 2  # the slow one is still there, stuck
            sent = time.monotonic()
            resp = await client.post(
                "/api/v1/checkins", json=WALK_IN(), headers=bearer(big["kiosk"])
            )
            assert resp.status == 200
            delta = await until(ws, lambda d: "B0001" in d["sites"], within=SLOW_AFTER)
            waited = time.monotonic() - sent
            assert delta["sites"]["B0001"]["walk_ins"] == 1
            assert waited < 1.5, f"the good client waited {waited:.2f} s"
            assert time.monotonic() - started < SLOW_AFTER  # while the slow one was there
            dropped = await eventually(lambda: watchers(client) == 1, within=SLOW_AFTER + 5)
            assert dropped, "the client that never read was not dropped"
            assert time.monotonic() - started >= SLOW_AFTER * 0.9
            # the good one goes on
            resp = await client.post(
                "/api/v1/checkins", json=WALK_IN(), headers=bearer(big["kiosk"])
            )
            assert resp.status == 200
            later = await until(ws, lambda d: d["sites"].get("B0001", {}).get("walk_ins") == 2)
            assert later["seq"] > delta["seq"]
    finally:
        slow.close()


class StuckSink:
    """A client whose connection takes nothing until `gate` opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def send(self, message: bytes) -> None:
        if self.sent:  # the snapshot goes through, then the line stalls
            await self.gate.wait()
        self.sent.append(json.loads(message))

    def backlog(self) -> int:
        return 0

    async def close(self, code: int, reason: str) -> None:
        self.gate.set()


async def test_a_slow_client_gets_one_delta_for_all_it_missed(
    client: TestClient, big: dict[str, str], db: asyncpg.Connection
) -> None:
    """While a client's send is stuck, what changes is owed as a set of sites (bounded
    by the board), not queued as messages: when the line moves again, one delta holds
    every site that changed."""
    hub = client.app[LIVE]  # type: ignore[index]
    live = await hub.live(await db.fetchval("SELECT id FROM conferences WHERE code = 'BIG'"))
    sink = StuckSink()
    # Patient with it here (the other test drops a client that takes nothing).
    watcher = Watcher(live, live.scope(None), sink, None, replace(hub.settings, slow_after=120))
    live.watchers.setdefault(None, set()).add(watcher)
    sender = asyncio.create_task(watcher.run(await live.first_message(watcher, None)))
    kiosks = [await _kiosk(db, f"B{n:04d}") for n in range(1, 21)]
    for token in kiosks[:1]:
        await client.post("/api/v1/checkins", json=WALK_IN(), headers=bearer(token))
    assert await eventually(lambda: watcher.sending)  # the first delta is stuck on the line
    for token in kiosks[1:]:  # 19 more sites change, over several intervals
        resp = await client.post("/api/v1/checkins", json=WALK_IN(), headers=bearer(token))
        assert resp.status == 200
        await asyncio.sleep(0.05)
    # Stuck on its first delta: the rest is owed as sites, not queued as messages.
    wanted = {f"B{n:04d}" for n in range(2, 21)}
    assert await eventually(
        lambda: {live.view.sites[i].code for i in watcher.owed.sites} >= wanted, within=10
    )
    assert len(sink.sent) == 1 and watcher.sending
    sink.gate.set()
    assert await eventually(lambda: len(sink.sent) >= 3)
    watcher.closed = True
    watcher.wake.set()
    sender.cancel()
    live.unwatch(watcher)
    snapshot, stuck, caught_up = sink.sent[0], sink.sent[1], sink.sent[2]
    assert snapshot["type"] == "snapshot" and stuck["type"] == "delta"
    assert set(caught_up["sites"]) >= {f"B{n:04d}" for n in range(2, 21)}
    assert caught_up["totals"]["walk_ins"] == 20  # one delta for all it missed


async def _kiosk(db: asyncpg.Connection, site: str) -> str:
    from diemcau import auth

    secret, _ = await auth.create_token(db, "kiosk", conference="BIG", site=site)
    return secret
