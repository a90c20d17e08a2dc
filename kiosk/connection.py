"""`KioskConnection`: the kiosk websocket (`WS /ws/kiosk`) as an async API.

    async with KioskConnection(url, token) as link:
        results = await link.submit([scan_json, ...])           # one batch, its results
        futures = [await link.send_batch(b) for b in batches]   # pipelined
        answers = await asyncio.gather(*futures)

Scans go as JSON text already serialised (the kiosk stores them that way), so a batch
is one string join; the service answers batches in order, each naming the batch's `id`.
Every batch and heartbeat carries `sent_at`, this device's clock as it leaves: the
service measures the device's clock by it and corrects the scans' times.
A batch refused whole (422, 409, 413, 429 over the socket) fails its future with
`BatchRefused`; a socket that closes fails every unanswered batch with `LinkClosed`, or
`KioskRevoked` when the service closed it with 4401. The token goes only in the
`Authorization` header and appears in no message or repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

REVOKED_CLOSE = 4401
MAX_BATCH = 500
Push = Callable[[dict[str, Any]], None]


class LinkClosed(Exception):
    """The socket closed (or never opened) with batches unanswered: send them again later."""


class KioskRevoked(Exception):
    """The service refuses this kiosk's token (401, or the socket closed with 4401)."""


class BatchRefused(Exception):
    """The service refused a whole batch; `problem` is its problem document."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(f"{problem.get('status')} {problem.get('code')}")
        self.problem = problem
        self.status = int(problem.get("status") or 0)
        self.code = str(problem.get("code") or "")
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])

    @property
    def retry_after(self) -> float:
        """Seconds to wait on a 429 (the problem's `retry_after`, else 1 s)."""
        try:
            return max(0.0, float(self.problem.get("retry_after", 1)))
        except (TypeError, ValueError):
            return 1.0

    def scan_indexes(self) -> list[int]:
        """The positions in the batch that the problem names (`scans.N.field`)."""
        found = []
        for err in self.errors:
            parts = str(err.get("field") or "").split(".")
            if len(parts) >= 2 and parts[0] == "scans" and parts[1].isdigit():
                found.append(int(parts[1]))
        return sorted(set(found))


def device_clock() -> datetime:
    return datetime.now(UTC)


def sent_at(clock: Callable[[], datetime] = device_clock) -> str:
    """This device's clock now, as `sent_at` (RFC 3339, microseconds)."""
    return clock().isoformat()


def ws_url(base_url: str) -> str:
    """The kiosk websocket's URL for the service at `base_url` (http → ws, https → wss)."""
    base = base_url.rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws/kiosk"


class KioskConnection:
    """One open kiosk websocket, with application heartbeats every `heartbeat_every` s."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        on_push: Push | None = None,
        queue_length: Callable[[], int] | None = None,
        heartbeat_every: float | None = 20.0,
        compression: str | None = "deflate",
        open_timeout: float = 10.0,
        language: str = "vi",
        clock: Callable[[], datetime] = device_clock,
    ) -> None:
        self.url = ws_url(base_url)
        # The device's clock (the demo gives one kiosk a wrong one): stamps `sent_at`.
        self._clock = clock
        # The language asks for the problems' titles (a batch refused whole) in it.
        self._headers = {"Authorization": f"Bearer {token}", "Accept-Language": language}
        self._on_push = on_push
        self._queue_length = queue_length
        self._heartbeat_every = heartbeat_every
        self._compression = compression
        self._open_timeout = open_timeout
        self._ids = itertools.count(1)
        self._waiting: OrderedDict[int, asyncio.Future[list[dict[str, Any]]]] = OrderedDict()
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self.close_code: int | None = None

    def __repr__(self) -> str:  # never the token
        return f"KioskConnection({self.url!r})"

    async def __aenter__(self) -> KioskConnection:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect; KioskRevoked on 401/403, LinkClosed on anything else that fails."""
        try:
            self._ws = await connect(
                self.url,
                additional_headers=self._headers,
                compression=self._compression,
                open_timeout=self._open_timeout,
                max_size=16 * 1024 * 1024,
                proxy=None,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise KioskRevoked(f"HTTP {exc.response.status_code}") from None
            raise LinkClosed(f"HTTP {exc.response.status_code}") from None
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            raise LinkClosed(type(exc).__name__) from None
        self._tasks.append(asyncio.create_task(self._read()))
        if self._heartbeat_every:
            self._tasks.append(asyncio.create_task(self._beat(self._heartbeat_every)))

    @property
    def in_flight(self) -> int:
        """Batches sent and not answered yet."""
        return len(self._waiting)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def send_batch(self, scans: Sequence[str]) -> asyncio.Future[list[dict[str, Any]]]:
        """Send scans (each one JSON text) as one batch; the future resolves to its results."""
        if self._ws is None or self.closed:
            raise LinkClosed("not connected")
        batch_id = next(self._ids)
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._waiting[batch_id] = future
        # `sent_at`: the service measures this device's clock by it (and corrects every
        # scan's time by the offset), so it is stamped as the batch leaves.
        frame = (
            f'{{"type":"scans","id":{batch_id},"sent_at":"{sent_at(self._clock)}",'
            f'"scans":[{",".join(scans)}]}}'
        )
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            self._waiting.pop(batch_id, None)
            raise self._lost(exc) from None
        return future

    async def submit(self, scans: Sequence[str]) -> list[dict[str, Any]]:
        """Send one batch and wait for its results."""
        return await (await self.send_batch(scans))

    async def heartbeat(self) -> None:
        assert self._ws is not None
        message: dict[str, Any] = {"type": "heartbeat", "sent_at": sent_at(self._clock)}
        if self._queue_length is not None:
            message["queue_length"] = self._queue_length()
        await self._ws.send(json.dumps(message))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_waiting(LinkClosed("closed by the kiosk"))
        self._closed.set()

    async def _beat(self, every: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.heartbeat()
                await asyncio.sleep(every)

    async def _read(self) -> None:
        assert self._ws is not None
        error: Exception = LinkClosed("closed")
        try:
            async for raw in self._ws:
                try:
                    message = orjson.loads(raw)  # the results of 500 scans: a hot path
                except ValueError:
                    continue  # a frame that is not JSON answers no batch
                if isinstance(message, dict):
                    self._dispatch(message)
        except ConnectionClosed as exc:
            error = self._lost(exc)
        else:
            error = self._lost(None)
        finally:
            self._fail_waiting(error)
            self._closed.set()

    def _lost(self, exc: ConnectionClosed | None) -> Exception:
        close = self._ws.close_code if self._ws is not None else None
        if exc is not None and exc.rcvd is not None:
            close = exc.rcvd.code
        self.close_code = close
        if close == REVOKED_CLOSE:
            return KioskRevoked(f"closed {close}")
        return LinkClosed(f"closed {close}")

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "results":
            future = self._answered(message.get("id"))
            if future is not None and not future.done():
                future.set_result(message.get("results") or [])
        elif kind == "error" and message.get("id") is not None:
            future = self._waiting.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_exception(BatchRefused(message.get("problem") or {}))
        elif self._on_push is not None:
            # Anything else, including an error about no batch (a heartbeat's: the service
            # found this kiosk revoked and closes with 4401 next), is not a batch's answer.
            self._on_push(message)

    def _answered(self, batch_id: Any) -> asyncio.Future[list[dict[str, Any]]] | None:
        # Batches are answered in order: results that name no id are the oldest batch's.
        if batch_id is None and self._waiting:
            return self._waiting.popitem(last=False)[1]
        return self._waiting.pop(batch_id, None) if isinstance(batch_id, int) else None

    def _fail_waiting(self, error: Exception) -> None:
        while self._waiting:
            _, future = self._waiting.popitem(last=False)
            if not future.done():
                future.set_exception(error)
