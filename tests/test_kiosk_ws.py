"""WS /ws/kiosk: batches answered in order, heartbeats, refusals as messages, the
handshake's checks, revocation and roster nudges. Every message type of docs/checkin.md
is exercised here."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from diemcau.handlers import kiosk_ws
from tests.checkin_world import World, build_world, scan
from tests.factory import Factory
from tests.problems import assert_problem

WS = "/ws/kiosk"


@pytest.fixture
async def world(factory: Factory, db: asyncpg.Connection) -> World:
    return await build_world(factory, db)


async def test_batches_are_answered_in_order(client: TestClient, world: World) -> None:
    codes = [await world.qr(f"LC-01-{i}") for i in range(3)]
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        for n, qr in enumerate(codes):
            await ws.send_json({"type": "scans", "id": n, "scans": [scan(qr), scan(qr)]})
        answers = [await ws.receive_json() for _ in codes]
    assert [a["type"] for a in answers] == ["results"] * 3
    assert [a["id"] for a in answers] == [0, 1, 2]
    assert [[r["result"] for r in a["results"]] for a in answers] == [["accepted", "duplicate"]] * 3
    assert await world.db.fetchval("SELECT count(*) FROM checkins") == 6


async def test_heartbeats_are_answered_and_recorded(client: TestClient, world: World) -> None:
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        await ws.send_json({"type": "heartbeat", "queue_length": 3})
        answer = await ws.receive_json()
    assert answer["type"] == "heartbeat" and "server_time" in answer
    row = await world.db.fetchrow(
        "SELECT last_seen_at, queue_length FROM kiosks WHERE device_name = 'LC-01#0'"
    )
    assert row["last_seen_at"] is not None and row["queue_length"] == 3


@pytest.mark.parametrize(
    "message,code",
    [
        ("not json", "invalid_json"),
        ('{"type": "dance"}', "validation_failed"),
        ('{"type": "scans", "id": 9, "scans": [{"qr": "X"}]}', "validation_failed"),
        ('{"type": "scans", "scans": []}', "validation_failed"),
    ],
)
async def test_a_refused_message_is_answered_and_the_socket_stays(
    client: TestClient, world: World, message: str, code: str
) -> None:
    qr = await world.qr("LC-01-0")
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        await ws.send_str(message)
        error = await ws.receive_json()
        await ws.send_json({"type": "scans", "id": "next", "scans": [scan(qr)]})
        after = await ws.receive_json()
    assert error["type"] == "error" and error["problem"]["code"] == code
    assert after["type"] == "results" and after["results"][0]["result"] == "accepted"
    assert await world.db.fetchval("SELECT count(*) FROM checkins") == 1


async def test_more_than_500_scans_in_a_message_is_refused(
    client: TestClient, world: World
) -> None:
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        await ws.send_json({"type": "scans", "id": 1, "scans": [scan("X")] * 501})
        error = await ws.receive_json()
    assert error["problem"]["code"] == "payload_too_large" and error["id"] == 1


async def test_the_handshake_is_checked_before_the_upgrade(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    resp = await client.get(WS)
    await assert_problem(resp, 401, "authentication_required")
    resp = await client.get(WS, headers=organiser)
    await assert_problem(resp, 403, "forbidden")
    resp = await client.get(WS, headers={**world.kiosk("LC-01"), "Origin": "https://evil.example"})
    await assert_problem(resp, 403, "origin_not_allowed")


async def test_a_browser_kiosk_connects_with_a_ticket(client: TestClient, world: World) -> None:
    resp = await client.post("/api/v1/ws-tickets", headers=world.kiosk("LC-01"))
    ticket = (await resp.json())["ticket"]
    origin = str(client.make_url("")).rstrip("/")
    async with client.ws_connect(f"{WS}?ticket={ticket}", headers={"Origin": origin}) as ws:
        await ws.send_json({"type": "heartbeat"})
        assert (await ws.receive_json())["type"] == "heartbeat"


async def test_revoking_a_kiosk_closes_its_socket(
    client: TestClient, world: World, organiser: dict[str, str]
) -> None:
    kiosk_id = await world.db.fetchval("SELECT token_id FROM kiosks WHERE device_name = 'LC-01#0'")
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        resp = await client.post(
            f"/api/v1/conferences/HN1/sites/LC-01/kiosks/{kiosk_id}/revoke", headers=organiser
        )
        assert resp.status == 200
        msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == kiosk_ws.REVOKED


async def test_a_kiosk_revoked_elsewhere_is_closed_at_its_next_batch(
    client: TestClient, world: World
) -> None:
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        await world.db.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'LC-01#0'")
        await ws.send_json({"type": "scans", "id": 1, "scans": [scan("X")]})
        error = await ws.receive_json()
        closing = await ws.receive()
    assert error["problem"]["code"] == "authentication_required"
    assert closing.type == aiohttp.WSMsgType.CLOSE and ws.close_code == kiosk_ws.REVOKED


async def test_a_kiosk_revoked_elsewhere_is_closed_at_its_next_heartbeat(
    client: TestClient, world: World
) -> None:
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        await world.db.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'LC-01#0'")
        await ws.send_json({"type": "heartbeat", "queue_length": 4})
        error = await ws.receive_json()
        closing = await ws.receive()
    assert error["type"] == "error" and error["id"] is None
    assert error["problem"]["code"] == "authentication_required"
    assert closing.type == aiohttp.WSMsgType.CLOSE and ws.close_code == kiosk_ws.REVOKED
    # A revoked kiosk's beat is not recorded.
    seen = await world.db.fetchval("SELECT last_seen_at FROM kiosks WHERE device_name = 'LC-01#0'")
    assert seen is None


async def test_heartbeats_arriving_together_are_each_recorded(
    client: TestClient, world: World
) -> None:
    """Kiosks beating at once share one write; each keeps its own queue length, and a
    revoked one among them is refused alone."""
    kiosks = [("LC-01", 0), ("LC-01", 1), ("LC-02", 0), ("LC-02", 1)]
    sockets = [await client.ws_connect(WS, headers=world.kiosk(s, n)) for s, n in kiosks]
    await world.db.execute("UPDATE tokens SET revoked_at = now() WHERE label = 'LC-02#1'")
    try:
        for n, ws in enumerate(sockets):
            await ws.send_json({"type": "heartbeat", "queue_length": 10 + n})
        answers = [await ws.receive_json() for ws in sockets]
    finally:
        for ws in sockets:
            await ws.close()
    assert [a["type"] for a in answers] == ["heartbeat"] * 3 + ["error"]
    rows = await world.db.fetch(
        "SELECT device_name, queue_length, last_seen_at IS NOT NULL AS seen FROM kiosks"
    )
    found = {r["device_name"]: (r["queue_length"], r["seen"]) for r in rows}
    assert found["LC-01#0"] == (10, True) and found["LC-01#1"] == (11, True)
    assert found["LC-02#0"] == (12, True) and found["LC-02#1"][1] is False


async def test_a_kiosk_socket_does_not_compress(client: TestClient, world: World) -> None:
    """A compressing socket would hold ~300 KB of zlib state while open: the offer of
    permessage-deflate is answered without it."""
    async with client.ws_connect(WS, headers=world.kiosk("LC-01"), compress=15) as ws:
        assert ws.compress == 0
        await ws.send_json({"type": "heartbeat"})
        assert (await ws.receive_json())["type"] == "heartbeat"


async def test_a_roster_change_nudges_the_site_s_kiosks(
    client: TestClient, world: World, organiser: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_ws, "ROSTER_POLL_SECONDS", 0.05)
    # The watcher started with the app; restart it with the short period.
    app = client.app
    assert app is not None
    task = asyncio.get_running_loop().create_task(kiosk_ws._watch_rosters(app))
    try:
        async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
            await asyncio.sleep(0.2)  # the watcher learns the current version
            delegate = world.delegates["LC-01-0"]["id"]
            resp = await client.patch(
                f"/api/v1/conferences/HN1/delegates/{delegate}",
                json={"full_name": "Nguyễn Văn Ân"},
                headers=organiser,
            )
            assert resp.status == 200
            nudge = await asyncio.wait_for(ws.receive_json(), 5)
    finally:
        task.cancel()
    assert nudge["type"] == "roster_changed" and int(nudge["version"]) > 0


async def test_a_batch_cut_by_a_database_restart_answers_unavailable_not_internal(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restarting ends a transaction as asyncpg's InterfaceError whose cause is
    AdminShutdownError (seen in the rehearsal): 503 service_unavailable, which a kiosk
    resends later, as the HTTP path answers it; it was a logged internal_error."""
    from diemcau.appkeys import INGESTOR

    async def cut(job: object) -> list:
        try:
            raise asyncpg.AdminShutdownError("terminating connection due to administrator command")
        except asyncpg.AdminShutdownError as exc:
            raise asyncpg.InterfaceError(
                "connection was closed in the middle of operation"
            ) from exc

    qr = await world.qr("LC-01-0")
    async with client.ws_connect(WS, headers=world.kiosk("LC-01")) as ws:
        monkeypatch.setattr(client.server.app[INGESTOR], "submit", cut)
        await ws.send_json({"type": "scans", "id": "cut", "scans": [scan(qr)]})
        error = await ws.receive_json()
        monkeypatch.undo()
        await ws.send_json({"type": "scans", "id": "again", "scans": [scan(qr)]})
        after = await ws.receive_json()
    assert error["type"] == "error" and error["id"] == "cut"
    assert error["problem"]["code"] == "service_unavailable", error
    assert after["type"] == "results" and after["results"][0]["result"] == "accepted"
