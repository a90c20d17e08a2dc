"""What the live board's tests share: short timings, a board of several units, and ways
to read the websocket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from diemcau.live.watcher import LiveSettings
from tests.checkin_world import World, scan

# The board's timings, shortened so the tests run fast (the defaults are DESIGN's).
FAST = LiveSettings(
    min_interval=0.2,
    heartbeat_every=30.0,
    slow_after=2.0,
    sweep_every=0.2,
    poll_every=0.1,
    revoke_every=0.2,
)
CHECKINS = "/api/v1/checkins"


def live_url(code: str = "HN1", **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/ws/conferences/{code}/live" + (f"?{query}" if query else "")


def upgrade_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """A websocket handshake sent as a plain GET, to read the refusal's problem body."""
    return {
        **(headers or {}),
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }


async def next_message(
    ws: ClientWebSocketResponse, kind: str | None = None, within: float = 5.0
) -> dict[str, Any]:
    """The next message (of `kind`, when given: heartbeats and others are skipped)."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {kind or 'message'} within {within} s")
        msg = await ws.receive(timeout=left)
        if msg.type != WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type} {msg.data!r} {msg.extra!r}")
        data = msg.json()
        if kind is None or data["type"] == kind:
            return data


async def until(ws: ClientWebSocketResponse, check: Any, within: float = 5.0) -> dict[str, Any]:
    """Deltas until one satisfies `check(delta)`; answers it."""
    deadline = time.monotonic() + within
    while True:
        delta = await next_message(ws, "delta", max(0.01, deadline - time.monotonic()))
        if check(delta):
            return delta


async def quiet(ws: ClientWebSocketResponse, seconds: float) -> list[dict[str, Any]]:
    """Every message received within `seconds`."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type == WSMsgType.TEXT:
            out.append(msg.json())
    return out


async def check_in(client: TestClient, world: World, site: str, external_id: str) -> dict:
    """The delegate scanned in at a kiosk of `site`; answers the result."""
    qr = await world.qr(external_id)
    resp = await client.post(CHECKINS, json={"scans": [scan(qr)]}, headers=world.kiosk(site))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["results"][0]


async def walk_in(client: TestClient, world: World, site: str, name: str = "Khách") -> None:
    body = {"scans": [scan(method="walk_in", full_name=name, category="guest")]}
    resp = await client.post(CHECKINS, json=body, headers=world.kiosk(site))
    assert resp.status == 200, await resp.text()


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


SITES = ("LC-01", "LC-02", "TD-01", "HG-01")


async def build_board(factory: Any, db: Any, **options: Any) -> World:
    """VN > LC (LC-01, LC-02) > LC-TD (TD-01); VN > HG (HG-01); conference HN1 over the
    four sites, three delegates a site, two kiosks a site, check-in open."""
    from tests.checkin_world import build_world

    world = await build_world(factory, db, sites=SITES, **options)
    await factory.unit("LC-TD", parent="LC", level="district", name="Tam Đường")
    await factory.unit("HG", parent="VN", name="Hà Giang")
    await db.execute(
        "UPDATE sites SET unit_id = (SELECT id FROM units WHERE code = 'LC-TD') WHERE code = 'TD-01'"
    )
    await db.execute(
        "UPDATE sites SET unit_id = (SELECT id FROM units WHERE code = 'HG') WHERE code = 'HG-01'"
    )
    return world


async def eventually(check: Any, within: float = 5.0, step: float = 0.05) -> bool:
    """Whether `check()` comes true within `within` seconds (looked at every `step`)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return bool(check())


async def eventually_true(check: Any, within: float = 5.0, step: float = 0.1) -> bool:
    """Whether `await check()` comes true within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(step)
    return False
