"""A scripted stand-in for the check-in service's kiosk endpoints, on a real port.

Only for what the real service cannot be made to do on cue (a 429, a 413, a batch held
back to prove pipelining); everything else is tested against the real service. It
speaks docs/checkin.md: `WS /ws/kiosk` batches with ids, `error` messages carrying a
problem, heartbeats, a close with 4401 on revocation; `GET /api/v1/kiosk` and the roster.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSCloseCode, web

TOKEN = "dc_fake_token"


class FakeService:
    def __init__(self, conference: dict[str, Any], site: dict[str, Any], keys: Any) -> None:
        self.conference, self.site, self.keys = conference, site, keys
        self.results: dict[str, dict[str, Any]] = {}  # scan_id -> first answer
        self.batches: list[list[dict[str, Any]]] = []
        self.sent_at: list[Any] = []  # each batch's `sent_at`, as it came
        self.refusals: list[dict[str, Any]] = []  # problems for the next batches, in turn
        self.hold_until = 0  # answer nothing until this many batches have arrived
        self.heartbeats: list[dict[str, Any]] = []
        self.roster_asks: list[dict[str, str]] = []
        self.revoked = False
        self.sockets: set[web.WebSocketResponse] = set()
        self.verdict = "accepted"
        self.clock_ahead = timedelta(0)  # how far the service's clock is ahead of ours

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/kiosks/enroll", self.enroll)
        app.router.add_get("/api/v1/kiosk", self.kiosk)
        app.router.add_get("/api/v1/kiosk/roster", self.roster)
        app.router.add_get("/ws/kiosk", self.websocket)
        app.on_shutdown.append(self._close_all)
        return app

    def _authorised(self, request: web.Request) -> None:
        if self.revoked or request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(text='{"code": "authentication_required"}')

    async def enroll(self, request: web.Request) -> web.Response:
        body = await request.json()
        kiosk = {"id": 1, "device_name": body["device_name"]}
        answer = {"token": TOKEN, "kiosk": kiosk, "conference": self.conference}
        return web.json_response({**answer, "site": self.site, "keys": self.keys}, status=201)

    async def kiosk(self, request: web.Request) -> web.Response:
        self._authorised(request)
        return web.json_response({"conference": self.conference, "site": self.site})

    async def roster(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.roster_asks.append(dict(request.query))
        body = {"version": "1", "full": True, "delegates": [], "removed": [], "keys": self.keys}
        return web.json_response(body, headers={"ETag": '"1"'})

    async def push(self, message: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            await ws.send_json(message)

    async def revoke(self) -> None:
        self.revoked = True
        for ws in list(self.sockets):
            await ws.close(code=4401, message=b"revoked")

    async def _close_all(self, _app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._authorised(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        held: list[dict[str, Any]] = []
        try:
            async for msg in ws:
                data = json.loads(msg.data)
                if data["type"] == "heartbeat":
                    self.heartbeats.append(data)
                    now = datetime.now(UTC) + self.clock_ahead
                    await ws.send_json({"type": "heartbeat", "server_time": now.isoformat()})
                    continue
                self.batches.append(data["scans"])
                self.sent_at.append(data.get("sent_at"))
                held.append(data)
                if len(self.batches) >= self.hold_until:
                    for batch in held:
                        await ws.send_json(self.answer(batch))
                    held.clear()
        finally:
            self.sockets.discard(ws)
        return ws

    def answer(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.refusals:
            return {"type": "error", "id": batch["id"], "problem": self.refusals.pop(0)}
        results = []
        for scan in batch["scans"]:
            first = {"scan_id": scan["scan_id"], "result": self.verdict, "message": {"vi": "x"}}
            results.append(self.results.setdefault(scan["scan_id"], first))
        return {"type": "results", "id": batch["id"], "results": results}


async def eventually(check: Any, seconds: float = 10.0) -> None:
    """Wait until `check()` is true (polling), or fail."""
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {seconds} s")
