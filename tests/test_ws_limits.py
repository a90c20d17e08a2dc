"""Websockets spend bounded work on a client (issue 20, point 9).

Every message on `/ws/kiosk` spends the kiosk's allowance (DIEMCAU_KIOSK_RATE, the same
bucket as its HTTP batches), heartbeats, unknown types and junk included: before, only
scan batches did, and 20,000 heartbeats were all answered. The link-test socket has
limits of its own (pings per session, seconds per session, message size), checked here.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.config import Config
from diemcau.handlers import link_test_ws
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory, bearer

RATE = 1  # a message a second, bursts of two


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, kiosk_rate=RATE)


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db, sites=("LC-01",), kiosks_per_site=1)


async def _answers(ws: Any, messages: list[str]) -> tuple[list[dict[str, Any]], float]:
    started = time.monotonic()
    for message in messages:
        await ws.send_str(message)
    answers = [await ws.receive_json(timeout=10) for _ in messages]
    return answers, time.monotonic() - started


def _limited(answer: dict[str, Any]) -> bool:
    return answer["type"] == "error" and answer["problem"]["code"] == "rate_limited"


@pytest.mark.parametrize(
    "message",
    [
        '{"type": "heartbeat", "queue_length": 0}',
        '{"type": "nonsense", "id": 7}',
        "not json at all",
    ],
)
async def test_every_kiosk_message_spends_the_allowance(
    client: TestClient, world: World, message: str
) -> None:
    ws = await client.ws_connect("/ws/kiosk", headers=world.kiosk("LC-01"))
    answers, seconds = await _answers(ws, [message] * 12)
    await ws.close()
    limited = [a for a in answers if _limited(a)]
    # Two at once, then one a second: whatever the machine's pace, most are refused.
    assert len(answers) - len(limited) <= 2 * RATE + RATE * seconds + 1, answers
    assert limited and all(a["problem"]["retry_after"] >= 1 for a in limited)
    if '"id"' in message:
        assert {a["id"] for a in limited} == {7}  # a client can tell which one to resend


async def test_http_batches_and_websocket_messages_share_one_allowance(
    client: TestClient, world: World
) -> None:
    kiosk = world.kiosk("LC-01")
    ws = await client.ws_connect("/ws/kiosk", headers=kiosk)
    answers, _ = await _answers(ws, ['{"type": "heartbeat"}'] * 3)
    assert _limited(answers[-1]), answers
    resp = await client.post("/api/v1/checkins", json={"scans": [scan("x")]}, headers=kiosk)
    assert resp.status == 429, await resp.text()
    assert int(resp.headers["Retry-After"]) >= 1
    await ws.close()


@pytest.fixture
async def technician(factory: Factory) -> dict[str, str]:
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN")
    await factory.site("S1", unit="LC")
    return bearer(await factory.token("technician", unit="LC"))


async def test_a_link_test_session_ends_after_its_pings(
    client: TestClient, technician: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link_test_ws, "MAX_PINGS", 5)
    async with client.ws_connect("/ws/link-test?site=S1", headers=technician) as ws:
        assert (await ws.receive_json())["max_pings"] == 5
        for seq in range(8):
            await ws.send_json({"type": "ping", "seq": seq, "t": 0})
        pongs = []
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                pongs.append(msg.json())
        assert [p["seq"] for p in pongs] == [0, 1, 2, 3, 4]
        assert ws.closed


async def test_a_link_test_session_ends_after_its_time(
    client: TestClient, technician: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link_test_ws, "MAX_SECONDS", 0.3)
    async with client.ws_connect("/ws/link-test?site=S1", headers=technician) as ws:
        await ws.receive_json()
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg


async def test_a_link_test_message_over_four_kilobytes_ends_the_session(
    client: TestClient, technician: dict[str, str]
) -> None:
    async with client.ws_connect("/ws/link-test?site=S1", headers=technician) as ws:
        await ws.receive_json()
        await ws.send_str('{"type": "ping", "seq": 1, "t": "' + "x" * 5000 + '"}')
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
