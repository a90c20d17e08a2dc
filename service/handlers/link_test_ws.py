"""`GET /ws/link-test?site=CODE`: an echo a technician pings to measure the line.

Messages (JSON text frames):
- server, on connect: `{"type": "hello", "site": CODE, "max_pings": N, "max_seconds": S}`
- client: `{"type": "ping", "seq": n, "t": <a number>}` (`seq` and `t` finite numbers
  within ±2^53, as a browser's JSON reads them exactly; either may be left out)
- server, at once: `{"type": "pong", "seq": n, "t": <echoed>, "server_t": <unix seconds>}`
- server, on a malformed message: `{"type": "error", "detail": "..."}` (the socket stays open)

Refused before the upgrade, as problem+json: a foreign `Origin` (403), no or bad
credentials (401; `Authorization: Bearer` or a single-use `?ticket=`), a role other than
organiser/technician (403), a site unknown or outside the caller's subtree (404).
A session ends after MAX_PINGS pings or MAX_SECONDS, so a forgotten client cannot hold
a connection.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, Field

from diemcau import registry
from diemcau.appkeys import POOL
from diemcau.errors import Msg
from diemcau.handlers.common import language, open_websocket, read_query, websocket_caller
from diemcau.handlers.units import STAFF
from diemcau.routing import Route

MAX_PINGS = 5000
MAX_SECONDS = 600
EXACT = 2**53  # the largest whole number a browser's JSON reads exactly


def _number(value: Any) -> bool:
    """A finite number a browser reads back as sent (or nothing): what is echoed."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and abs(value) <= EXACT


class LinkTestWsQuery(BaseModel):
    site: str = Field(description="the site whose line is tested")
    ticket: str | None = Field(None, description="single-use ticket from POST /api/v1/ws-tickets")


def answer(message: str, lang: str) -> dict[str, Any]:
    """The reply to one client message: a pong, or an error naming what was wrong."""
    try:
        data = json.loads(message)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "ping":
        text = Msg("Chỉ nhận {type: ping, seq, t}", "only {type: ping, seq, t} is understood")
        return {"type": "error", "detail": text.text(lang)}
    for field in ("seq", "t"):
        if not _number(data.get(field)):
            # 1e400 reads as inf, and echoed it would be `Infinity`: not JSON.
            text = Msg(
                f"{field} phải là một số hữu hạn (không quá ±2^53)",
                f"{field} must be a finite number (within ±2^53)",
            )
            return {"type": "error", "field": field, "detail": text.text(lang)}
    return {"type": "pong", "seq": data.get("seq"), "t": data.get("t"), "server_t": time.time()}


async def ws_link_test(request: web.Request) -> web.StreamResponse:
    caller = await websocket_caller(request, *STAFF)
    query = read_query(request, LinkTestWsQuery)
    async with request.app[POOL].acquire() as conn:
        site = await registry.visible_site(conn, caller, query.site)
    ws = await open_websocket(request, max_msg_size=4096)
    lang = language(request)
    hello = {"site": site["code"], "max_pings": MAX_PINGS, "max_seconds": MAX_SECONDS}
    await ws.send_json({"type": "hello", **hello})
    try:
        async with asyncio.timeout(MAX_SECONDS):
            await _echo(ws, lang)
    except TimeoutError:
        pass
    await ws.close()
    return ws


async def _echo(ws: web.WebSocketResponse, lang: str) -> None:
    pings = 0
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        await ws.send_json(answer(msg.data, lang))
        pings += 1
        if pings >= MAX_PINGS:
            return


routes = [
    Route(
        "GET",
        "/ws/link-test",
        ws_link_test,
        "Websocket echo for measuring a site's line (ping -> pong)",
        "sites",
        roles=STAFF,
        query=LinkTestWsQuery,
        websocket=True,
        errors=("origin_not_allowed", "not_found", "validation_failed", "bad_request"),
    ),
]
