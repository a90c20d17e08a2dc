"""Link tests, confirmation, readiness per unit, and the link-test websocket.

registered -> tested on a passing test (audio and video fine, loss under 5%);
tested -> ready on confirmation, only while the latest test passed.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.factory import bearer
from tests.problems import assert_problem

PASS = {"rtt_ms": 48.5, "jitter_ms": 3.2, "loss_pct": 0.0, "audio_ok": True, "video_ok": True}


@pytest.fixture
async def tree(factory: Any) -> None:
    await factory.unit("VN", level="national")
    await factory.unit("LC", parent="VN", name="Lai Châu")
    await factory.unit("LC-TD", parent="LC", level="district", name="Tam Đường")
    await factory.unit("LC-SH", parent="LC", level="district", name="Sìn Hồ")
    await factory.unit("HG", parent="VN")
    await factory.site("S1", unit="LC-TD")


@pytest.fixture
async def tech(factory: Any, tree: None) -> dict[str, str]:
    return bearer(await factory.token("technician", unit="LC-TD", label="KT Tam Đường"))


async def record(client: Any, headers: dict, code: str = "S1", **over: Any) -> Any:
    return await client.post(
        f"/api/v1/sites/{code}/link-tests", json={**PASS, **over}, headers=headers
    )


async def test_a_passing_test_moves_registered_to_tested(client: Any, db: Any, tech: dict) -> None:
    resp = await record(client, tech, note="Đường truyền tốt")
    assert resp.status == 201, await resp.text()
    test = await resp.json()
    assert test["passed"] is True and test["site_status"] == "tested"
    assert test["kind"] == "link_test" and test["note"] == "Đường truyền tốt"
    assert test["tested_by"].startswith("technician#") and "KT Tam Đường" in test["tested_by"]
    site = await (await client.get("/api/v1/sites/S1", headers=tech)).json()
    assert site["status"] == "tested" and site["last_test"]["passed"] is True
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'link_test'")
    assert entry["before"] == {"status": "registered"} and entry["after"]["site_status"] == "tested"


@pytest.mark.parametrize(
    "failing",
    [{"audio_ok": False}, {"video_ok": False}, {"loss_pct": 5.0}, {"loss_pct": 40}],
)
async def test_a_failing_test_moves_nothing(client: Any, tech: dict, failing: dict) -> None:
    test = await (await record(client, tech, **failing)).json()
    assert test["passed"] is False and test["site_status"] == "registered"


async def test_bad_link_test_bodies(client: Any, tech: dict) -> None:
    for body, fields in [
        ({"rtt_ms": 10}, {"jitter_ms", "loss_pct", "audio_ok", "video_ok"}),
        ({**PASS, "loss_pct": 120}, {"loss_pct"}),
        ({**PASS, "rtt_ms": -1}, {"rtt_ms"}),
        ({**PASS, "audio_ok": "maybe"}, {"audio_ok"}),
        ({**PASS, "kind": "drill"}, {"kind"}),
    ]:
        resp = await client.post("/api/v1/sites/S1/link-tests", json=body, headers=tech)
        problem = await assert_problem(resp, 422, "validation_failed")
        assert {e["field"] for e in problem["errors"]} == fields


async def test_link_tests_are_listed_newest_first_in_pages(client: Any, tech: dict) -> None:
    for i in range(5):
        await record(client, tech, rtt_ms=float(i), kind="rehearsal" if i == 4 else "link_test")
    first = await (await client.get("/api/v1/sites/S1/link-tests?limit=3", headers=tech)).json()
    assert [t["rtt_ms"] for t in first["items"]] == [4.0, 3.0, 2.0]
    assert first["items"][0]["kind"] == "rehearsal"
    rest = await client.get(
        "/api/v1/sites/S1/link-tests", params={"limit": "3", "cursor": first["next"]}, headers=tech
    )
    rest_body = await rest.json()
    assert [t["rtt_ms"] for t in rest_body["items"]] == [1.0, 0.0] and rest_body["next"] is None


async def test_confirm_needs_a_tested_site_whose_latest_test_passed(
    client: Any, tech: dict
) -> None:
    resp = await client.post("/api/v1/sites/S1/confirm", headers=tech)
    await assert_problem(resp, 409, "invalid_transition")
    await record(client, tech)
    await record(client, tech, kind="rehearsal", video_ok=False)
    resp = await client.post("/api/v1/sites/S1/confirm", headers=tech)
    await assert_problem(resp, 409, "invalid_transition")
    await record(client, tech, kind="rehearsal")
    resp = await client.post("/api/v1/sites/S1/confirm", headers=tech)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "ready"
    again = await client.post("/api/v1/sites/S1/confirm", headers=tech)
    await assert_problem(again, 409, "invalid_transition")


async def test_other_units_technician_cannot_test_or_confirm(
    client: Any, factory: Any, tree: None
) -> None:
    other = bearer(await factory.token("technician", unit="LC-SH"))
    await assert_problem(await record(client, other), 404, "not_found")
    await assert_problem(
        await client.post("/api/v1/sites/S1/confirm", headers=other), 404, "not_found"
    )
    resp = await client.get("/api/v1/sites/S1/link-tests", headers=other)
    await assert_problem(resp, 404, "not_found")


async def test_readiness_counts_and_missing_list(client: Any, factory: Any, tree: None) -> None:
    await factory.site("S2", unit="LC-TD", status="tested")
    await factory.site("S3", unit="LC-SH", status="ready")
    await factory.site("S4", unit="LC-SH", status="connected")
    await factory.site("S5", unit="LC")
    await factory.site("S6", unit="HG", status="ready")
    organiser = bearer(await factory.token("organiser"))
    await record(client, organiser, code="S2", video_ok=False)
    resp = await client.get("/api/v1/units/LC/readiness", headers=organiser)
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert view["unit"] == {"code": "LC", "name": "Lai Châu", "level": "province"}
    assert (view["total"], view["registered"], view["tested"], view["ready"]) == (5, 2, 1, 2)
    assert view["statuses"]["connected"] == 1
    assert [(m["code"], m["status"]) for m in view["missing"]] == [
        ("S1", "registered"),
        ("S2", "tested"),
        ("S5", "registered"),
    ]
    assert view["missing"][1]["last_test"]["passed"] is False
    assert view["missing_truncated"] is False
    per_unit = {u["code"]: (u["total"], u["ready"]) for u in view["units"]}
    assert per_unit == {"LC-SH": (2, 2), "LC-TD": (2, 0)}
    short = await (await client.get("/api/v1/units/LC/readiness?limit=1", headers=organiser)).json()
    assert len(short["missing"]) == 1 and short["missing_truncated"] is True
    tech = bearer(await factory.token("technician", unit="LC-TD"))
    await assert_problem(
        await client.get("/api/v1/units/LC/readiness", headers=tech), 404, "not_found"
    )
    mine = await (await client.get("/api/v1/units/LC-TD/readiness", headers=tech)).json()
    assert (mine["total"], mine["units"]) == (2, [])


async def test_websocket_answers_every_ping(client: Any, tech: dict) -> None:
    async with client.ws_connect("/ws/link-test?site=S1", headers=tech) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello" and hello["site"] == "S1"
        for seq in range(1, 21):
            await ws.send_json({"type": "ping", "seq": seq, "t": seq * 1.5})
        pongs = [await ws.receive_json() for _ in range(20)]
        assert [(p["type"], p["seq"], p["t"]) for p in pongs] == [
            ("pong", s, s * 1.5) for s in range(1, 21)
        ]
        await ws.send_str("not json")
        error = await ws.receive_json()
        assert error["type"] == "error" and error["detail"]
        await ws.send_json({"type": "ping", "seq": 99, "t": 0})
        assert (await ws.receive_json())["seq"] == 99


@pytest.mark.parametrize(
    "ping",
    [
        '{"type": "ping", "seq": 1, "t": 1e400}',  # read as inf: echoed, it was `Infinity`
        '{"type": "ping", "seq": -1e400, "t": 1}',
        '{"type": "ping", "seq": 1, "t": NaN}',
        '{"type": "ping", "seq": 1, "t": 123456789012345678901234567890}',
        '{"type": "ping", "seq": 1, "t": "soon"}',
        '{"type": "ping", "seq": true, "t": 1}',
    ],
)
async def test_websocket_echoes_only_numbers_a_browser_reads_back(
    client: Any, tech: dict, ping: str
) -> None:
    async with client.ws_connect("/ws/link-test?site=S1", headers=tech) as ws:
        await ws.receive_json()
        await ws.send_str(ping)
        raw = (await ws.receive()).data
        # Strict JSON, as a browser's JSON.parse reads it: no Infinity or NaN.
        error = json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} in {raw}"))
        assert error["type"] == "error" and error["field"] in ("seq", "t"), raw
        await ws.send_json({"type": "ping", "seq": 2, "t": 2.5})  # the socket stays open
        assert (await ws.receive_json())["t"] == 2.5


async def test_websocket_with_a_single_use_ticket(client: Any, tech: dict) -> None:
    ticket = (await (await client.post("/api/v1/ws-tickets", headers=tech)).json())["ticket"]
    async with client.ws_connect(f"/ws/link-test?site=S1&ticket={ticket}") as ws:
        assert (await ws.receive_json())["type"] == "hello"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(f"/ws/link-test?site=S1&ticket={ticket}")
    assert err.value.status == 401


async def _refusal(client: Any, url: str, headers: dict | None = None) -> Any:
    """The problem answered instead of the upgrade."""
    resp = await client.get(
        url,
        headers={
            **(headers or {}),
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    return resp


async def test_websocket_refusals_come_before_the_upgrade(
    client: Any, factory: Any, tech: dict
) -> None:
    await factory.conference("C1", sites=["S1"])
    kiosk = bearer(await factory.token("kiosk", conference="C1", site="S1"))
    viewer = bearer(await factory.token("viewer", conference="C1"))
    other = bearer(await factory.token("technician", unit="HG"))
    url = "/ws/link-test?site=S1"
    await assert_problem(await _refusal(client, url), 401, "authentication_required")
    await assert_problem(
        await _refusal(client, url + "&ticket=nope"), 401, "authentication_required"
    )
    await assert_problem(await _refusal(client, url, kiosk), 403, "forbidden")
    await assert_problem(await _refusal(client, url, viewer), 403, "forbidden")
    await assert_problem(await _refusal(client, url, other), 404, "not_found")
    evil = {**tech, "Origin": "https://evil.example"}
    await assert_problem(await _refusal(client, url, evil), 403, "origin_not_allowed")
    own = {**tech, "Origin": f"http://{client.host}:{client.port}"}
    resp = await _refusal(client, url, own)
    assert resp.status == 101
    resp.close()
    await assert_problem(await client.get(url, headers=tech), 400, "bad_request")


def test_message_shapes_are_json_documented() -> None:
    from diemcau.handlers.link_test_ws import answer

    pong = answer(json.dumps({"type": "ping", "seq": 3, "t": 1.0}), "en")
    assert set(pong) == {"type", "seq", "t", "server_t"} and pong["type"] == "pong"
    assert answer("[]", "en")["type"] == "error"


async def test_shutdown_closes_websockets_with_going_away(client: Any, tech: dict) -> None:
    ws = await client.ws_connect("/ws/link-test?site=S1", headers=tech)
    assert (await ws.receive_json())["type"] == "hello"
    await client.server.app.shutdown()
    msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
    await ws.close()
