"""`WS /ws/kiosk`: a kiosk's scans as a stream of batches, answered in order, with
heartbeats, and a nudge when its site's roster changes.

Messages (JSON text frames, docs/checkin.md):
- kiosk: `{"type": "scans", "id": any, "sent_at": t, "scans": [...]}` (the scans of
  POST /api/v1/checkins)
- service: `{"type": "results", "id": same, "results": [...]}`, once committed
- kiosk: `{"type": "heartbeat", "sent_at": t, "queue_length": n}`; service:
  `{"type": "heartbeat", "server_time": ...}`
- service: `{"type": "roster_changed", "version": "V"}`
- service: `{"type": "error", "id": same, "problem": {...}}` for a batch refused whole;
  the socket stays open, except for a revoked kiosk (closed with 4401).

Refused before the upgrade (problem+json): a foreign `Origin`, no or bad credentials, a
role other than kiosk.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from diemcau.appkeys import CONFIG, INGESTOR, KIOSK_LIMITER, KIOSK_SOCKETS, POOL
from diemcau.checkin.model import scans_from, sent_at_from
from diemcau.checkin.records import Job, Kiosk
from diemcau.checkin.sockets import KioskSockets
from diemcau.db import database_lost
from diemcau.errors import Msg, Problem
from diemcau.handlers.common import (
    dumps,
    language,
    open_websocket,
    rate_limit,
    websocket_caller,
)
from diemcau.queries import kiosks as q
from diemcau.routing import Route

log = logging.getLogger("diemcau.kiosk_ws")
REVOKED = 4401  # application close code: this kiosk's token was revoked
ROSTER_POLL_SECONDS = 10.0


# Messages of one kiosk being answered at once: a kiosk may send its next batch before
# the last is answered (an offline queue of thousands); answering them together lets
# their scans share transactions, and the answers still leave in the order they came.
PIPELINE = 8


class Replies:
    """A socket's answers owed, each sent once the one before it has gone.

    No task or queue lives beside an idle socket (10,000 kiosks each hold one): a
    message's own task sends its answer after waiting for its predecessor's."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.owed: deque[asyncio.Task[None]] = deque()
        self.closing = False  # gone or revoked: what is still owed is not sent

    async def room(self) -> None:
        """Wait while PIPELINE answers are owed (back-pressure on a fast kiosk)."""
        while self.owed and self.owed[0].done():
            self.owed.popleft()
        if len(self.owed) >= PIPELINE:
            await asyncio.wait([self.owed[0]])

    def answer(self, reply: Awaitable[tuple[str, bool]]) -> None:
        """Answer a message. Its task starts (and queues its batch for ingestion) before
        any later message's: tasks start in the order they are made."""
        previous = self.owed[-1] if self.owed else None
        self.owed.append(asyncio.get_running_loop().create_task(self._send(reply, previous)))

    async def _send(
        self, reply: Awaitable[tuple[str, bool]], previous: asyncio.Task[None] | None
    ) -> None:
        text, revoked = await reply
        if previous is not None:
            await asyncio.wait([previous])  # not `await previous`: cancelling this, not it
        if self.closing:
            return
        try:
            await self.ws.send_str(text)
        except ConnectionError:
            self.closing = True  # the kiosk went away: its retries are answered from storage
            return
        if revoked:
            self.closing = True
            await self.ws.close(code=REVOKED, message=b"kiosk revoked")

    async def settle(self) -> None:
        if self.owed:
            await asyncio.wait(self.owed)


async def ws_kiosk(request: web.Request) -> web.StreamResponse:
    caller = await websocket_caller(request, "kiosk")
    assert caller.token_id and caller.conference_id and caller.site_id
    kiosk = Kiosk(caller.token_id, caller.conference_id, caller.site_id)
    # No permessage-deflate: a compressing socket holds 100-300 KB of zlib state for as
    # long as it is open (10,000 kiosks: gigabytes), and a scan's message is mostly its
    # code, which does not compress. A kiosk that offers it is answered without it.
    ws = await open_websocket(
        request, max_msg_size=request.app[CONFIG].max_body_kb * 1024, compress=False
    )
    request.app[INGESTOR].contacts.heard(kiosk.token_id, datetime.now(UTC))  # an open socket
    sockets = request.app[KIOSK_SOCKETS]
    sockets.add(kiosk, ws)
    replies = Replies(ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            await replies.room()
            replies.answer(_answer(request, kiosk, msg.data, datetime.now(UTC)))
    finally:
        await replies.settle()
        sockets.remove(kiosk, ws)
    return ws


async def _answer(
    request: web.Request, kiosk: Kiosk, text: str, received_at: datetime
) -> tuple[str, bool]:
    """The reply to one message, and whether the kiosk turned out to be revoked."""
    data: Any = None
    try:
        try:
            data, readable = orjson.loads(text), True
        except orjson.JSONDecodeError:
            readable = False
        # Every message spends the kiosk's allowance, whatever it is (heartbeats, unknown
        # types, junk): each costs an answer. Read first, so a refusal carries its `id`.
        rate_limit(request.app[KIOSK_LIMITER], kiosk.token_id)
        if not readable:
            raise Problem("invalid_json", Msg("Tin nhắn không phải JSON", "not JSON"))
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "scans":
            scans = scans_from(data, allowed=("type", "id", "sent_at", "scans"))
            job = Job(kiosk, scans, received_at, sent_at_from(data))
            results = await request.app[INGESTOR].submit(job)
            answer = {"type": "results", "id": data.get("id"), "results": results}
            return orjson.dumps(answer).decode(), False
        if kind == "heartbeat":
            return await _heartbeat(request, kiosk, data, received_at)
        raise Problem(
            "validation_failed",
            Msg("Chỉ nhận type: scans hoặc heartbeat", "type must be scans or heartbeat"),
            errors=[{"field": "type", "message": Msg("Không hỗ trợ", "not supported")}],
        )
    except Problem as problem:
        return _refusal(request, data, problem)
    except Exception as exc:
        if database_lost(exc):
            # As the HTTP path reads it (the cause chain too: a server restarting ends a
            # transaction as InterfaceError over AdminShutdownError): 503, resend later.
            log.error("database unavailable", extra={"path": "/ws/kiosk", "error": repr(exc)})
            return _refusal(request, data, Problem("service_unavailable"))
        # Answered like the HTTP path's 500: logged with context, a generic problem sent,
        # and the socket goes on (the kiosk resends; stored scans answer from storage).
        log.exception("kiosk message failed", extra={"kiosk": kiosk.token_id})
        return _refusal(request, data, Problem("internal_error"))


def _refusal(request: web.Request, data: Any, problem: Problem) -> tuple[str, bool]:
    """An `error` message for a refused message; True when the kiosk was revoked."""
    ident = data.get("id") if isinstance(data, dict) else None
    body = problem.body(language(request), instance="/ws/kiosk")
    return dumps({"type": "error", "id": ident, "problem": body}), problem.status == 401


async def _heartbeat(
    request: web.Request, kiosk: Kiosk, data: dict[str, Any], received_at: datetime
) -> tuple[str, bool]:
    queue = data.get("queue_length")
    if not (queue is None or (isinstance(queue, int) and 0 <= queue <= 10_000_000)):
        queue = None  # a heartbeat is never refused for what it reports
    ingestor = request.app[INGESTOR]
    if ingestor.liveness.due({kiosk.token_id}):
        if await ingestor.heartbeats.record(kiosk.token_id, queue):
            revoked = Problem("authentication_required", Msg("Máy đã bị thu hồi", "revoked"))
            return _refusal(request, data, revoked)
    sent_at = _sent_at(data)
    if sent_at is not None:
        ingestor.clocks.measure(kiosk.token_id, received_at, sent_at)
    ingestor.contacts.heard(kiosk.token_id, received_at)
    now = datetime.now(UTC).isoformat()
    return dumps({"type": "heartbeat", "server_time": now}), False


def _sent_at(data: dict[str, Any]) -> datetime | None:
    """A heartbeat's `sent_at`, or None when it has none or it is not a time."""
    try:
        return sent_at_from(data)
    except Problem:
        return None


async def close_kiosk_sockets(app: web.Application, token_id: int) -> None:
    """Close a revoked kiosk's sockets on this worker (others close at its next message)."""
    for ws in list(app[KIOSK_SOCKETS].by_token.get(token_id, ())):
        await ws.close(code=REVOKED, message=b"kiosk revoked")


async def kiosk_sockets_ctx(app: web.Application) -> AsyncIterator[None]:
    """The socket registry, and the task that tells kiosks when their roster changed."""
    app[KIOSK_SOCKETS] = KioskSockets()
    task = asyncio.get_running_loop().create_task(_watch_rosters(app))
    yield
    task.cancel()


async def _watch_rosters(app: web.Application) -> None:
    sockets = app[KIOSK_SOCKETS]
    while True:
        await asyncio.sleep(ROSTER_POLL_SECONDS)
        sites = list(sockets.by_site)
        if not sites:
            continue
        try:
            async with app[POOL].acquire() as conn:
                versions = await q.fetch_roster_versions(conn, sites)
        except Exception as exc:  # a database hiccup must not end the watcher
            log.warning("roster versions not read", extra={"error": repr(exc)})
            continue
        for key, version in versions.items():
            known = sockets.versions.get(key)
            sockets.versions[key] = version
            if known is not None and version > known:
                message = dumps({"type": "roster_changed", "version": str(version)})
                for ws in list(sockets.by_site.get(key, ())):
                    await _send_quietly(ws, message)


async def _send_quietly(ws: web.WebSocketResponse, message: str) -> None:
    try:
        async with asyncio.timeout(2):
            await ws.send_str(message)
    except (TimeoutError, ConnectionError, RuntimeError):
        pass  # a kiosk that cannot take a nudge will fetch its roster on reconnect


routes = [
    Route(
        "GET",
        "/ws/kiosk",
        ws_kiosk,
        "Websocket: a kiosk's scans as batches answered in order, heartbeats, roster nudges",
        "checkin",
        roles=("kiosk",),
        websocket=True,
        errors=("origin_not_allowed", "bad_request"),
    ),
]
