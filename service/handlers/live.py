"""The live board over HTTP and its websocket (docs/live.md has the protocol):

- `GET /api/v1/conferences/{code}/live[?unit=U]`: the live view now (gzip when asked);
- `WS /ws/conferences/{code}/live[?unit=U][&since=N][&ticket=T]`: a snapshot (or, with
  `since`, the delta that brings the client up to date), then deltas at most every
  250 ms, heartbeats when idle.

Refused before the upgrade, as problem+json: a foreign `Origin` (403), no or bad
credentials (401), a role other than organiser or viewer (403), a conference or unit
the caller may not watch (404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from diemcau.appkeys import CONFIG, LIVE, LIVE_SETTINGS, POOL
from diemcau.handlers.common import open_websocket, principal, read_query, websocket_caller
from diemcau.live import access
from diemcau.live.hub import Hub
from diemcau.live.listener import Listener
from diemcau.routing import Route
from diemcau.text import ascii_number

log = logging.getLogger("diemcau.live")


class LiveQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = Field(
        None, max_length=64, description="limit the board to this unit's subtree"
    )
    lang: Literal["vi", "en"] | None = Field(None, description="language of error messages")


class LiveWsQuery(LiveQuery):
    since: str | None = Field(
        None,
        description="the `seq` last received: resume with the deltas after it (anything "
        "that is not a `seq` this service can resume from gets a fresh snapshot)",
    )
    ticket: str | None = Field(None, description="single-use ticket from POST /api/v1/ws-tickets")


class ByCategory(BaseModel):
    member: int
    non_member: int
    guest: int


class SiteEntry(BaseModel):
    """A participating site on the board (contract fields, then ours)."""

    expected: ByCategory
    checked_in: ByCategory
    walk_ins: int
    moved_in: int
    moved_out: int
    present: int
    headcount: dict[str, Any] | None
    capacity: int | None
    over_capacity: bool
    kiosk_online: bool
    link: Literal["connected", "degraded", "lost", "unknown"]
    last_scan_at: datetime | None
    name: str
    unit_code: str | None
    status: str


class UnitEntry(BaseModel):
    """A unit over its subtree's participating sites."""

    expected: ByCategory
    checked_in: ByCategory
    walk_ins: int
    present: int
    sites: int
    name: str
    level: str
    parent_code: str | None


class Arrivals(BaseModel):
    from_: datetime | None = Field(alias="from", description="the first minute with arrivals")
    per_minute: list[int] = Field(description="accepted entries in each minute from `from` on")


class Totals(BaseModel):
    expected: ByCategory
    checked_in: ByCategory
    walk_ins: int
    present: int
    sites: int
    rates: dict[str, float | None]
    targets: dict[str, float]
    arrivals: Arrivals


class LiveView(BaseModel):
    """The live view (docs/live.md): the websocket's snapshot is this with `type`."""

    seq: int
    conference: dict[str, Any]
    scope: dict[str, str | None]
    totals: Totals
    sites: dict[str, SiteEntry]
    units: dict[str, UnitEntry]


async def get_live(request: web.Request) -> web.Response:
    caller = await principal(request, *access.ROLES)
    query = read_query(request, LiveQuery)
    async with request.app[POOL].acquire() as conn:
        conference, unit_id = await access.board(
            conn, caller, request.match_info["code"], query.unit
        )
    live = await request.app[LIVE].live(conference["id"])
    # 40,000 sites are 13 MB of JSON, about 1 MB gzipped: packed once per seq, not per GET.
    packed = "gzip" in request.headers.get("Accept-Encoding", "")
    response = web.Response(
        body=await live.snapshot(unit_id, packed), content_type="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept-Encoding"
    if packed:
        response.headers["Content-Encoding"] = "gzip"
    return response


def since_of(raw: str | None) -> int | None:
    """A `seq` to resume from; None (a snapshot) for anything else."""
    if raw is None or len(raw) > 19:
        return None
    return ascii_number(raw)


async def ws_live(request: web.Request) -> web.StreamResponse:
    caller = await websocket_caller(request, *access.ROLES)
    query = read_query(request, LiveWsQuery)
    async with request.app[POOL].acquire() as conn:
        conference, unit_id = await access.board(
            conn, caller, request.match_info["code"], query.unit
        )
    live = await request.app[LIVE].live(conference["id"])
    transport = request.transport
    ws = await open_websocket(request, max_msg_size=4096, compress=False)
    sink = _Sink(ws, transport)
    _limit_send_buffer(transport, request.app[LIVE_SETTINGS].send_buffer)
    watcher = live.watch(unit_id, sink, caller.token_id)
    sender: asyncio.Task[None] | None = None
    try:
        first = await live.first_message(watcher, since_of(query.since))
        sender = asyncio.get_running_loop().create_task(watcher.run(first))
        async for msg in ws:  # nothing is asked of the client; its frames keep it alive
            if msg.type == WSMsgType.ERROR:
                break
    except Exception:
        # After the upgrade there is no answer to give: logged, and closed as an error.
        log.exception("live websocket failed", extra={"conference": conference["code"]})
        await sink.close(WSCloseCode.INTERNAL_ERROR, "internal error")
    finally:
        live.unwatch(watcher)
        watcher.closed = True
        watcher.wake.set()
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    return ws


class _Sink:
    """A watcher's messages to the websocket, as text frames of ready-made JSON."""

    def __init__(self, ws: web.WebSocketResponse, transport: Any) -> None:
        self.ws = ws
        self.transport = transport

    async def send(self, message: bytes) -> None:
        await self.ws.send_frame(message, WSMsgType.TEXT)

    def backlog(self) -> int:
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    async def close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(1):
                await self.ws.close(code=code, message=reason.encode())
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        if self.transport is not None:
            # A client that reads nothing would hold a closing socket (and its buffer)
            # forever: close() waits to flush it, abort() does not.
            self.transport.abort()


def _limit_send_buffer(transport: Any, size: int) -> None:
    """A bounded kernel buffer: a client that stops reading is noticed after `size`
    bytes, not after the megabytes Linux grants a socket by itself."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError:
            pass


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker's hub and its listener (a connection of its own, not from the pool)."""
    hub = Hub(app[POOL], app[LIVE_SETTINGS])
    app[LIVE] = hub
    hub.start()
    url = app[CONFIG].database_url
    assert url is not None
    listener = Listener(url, hub.poke, hub.poke_all)
    listener.start()
    yield
    await listener.close()
    await hub.close()


routes = [
    Route(
        "GET",
        "/api/v1/conferences/{code}/live",
        get_live,
        "The live view now: every participating site, every unit over its subtree, totals",
        "live",
        roles=access.ROLES,
        query=LiveQuery,
        response=LiveView,
        errors=("not_found", "validation_failed"),
    ),
    Route(
        "GET",
        "/ws/conferences/{code}/live",
        ws_live,
        "Websocket: the live view's snapshot, then deltas; resumes with since",
        "live",
        roles=access.ROLES,
        query=LiveWsQuery,
        websocket=True,
        errors=("origin_not_allowed", "not_found", "validation_failed", "bad_request"),
    ),
]
