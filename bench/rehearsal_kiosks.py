"""The rehearsal's kiosks: the check-in bench's many-kiosk client
(bench/checkin_kiosk_client.py: its load, its schedule of scans and heartbeats, its way
of opening thousands of sockets from one process) with what a real kiosk adds, so faults
cost nothing: an offline queue, resending, reconnecting.

A kiosk stamps each scan when it is due (`scanned_at`, its own clock) and puts it in its
queue; while connected it sends the queue as one batch (at most 500), with `sent_at`.
A batch answered `results` is acknowledged; one answered `error` (the database away, the
kiosk's allowance spent) goes back to the front of the queue and is sent again a moment
later; a socket that drops puts every unanswered batch back, in order, and the kiosk
reconnects with backoff. Each scan keeps its scan_id, so a resend is harmless. Some
kiosks go offline for a period (socket closed, scans queued) and send their queue when
they come back; one kiosk's clock is wrong by `skew` seconds (its scanned_at and sent_at
both). Times are `time.monotonic()`, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.checkin_kiosk_client import OPENING, KioskLoad, raise_open_files, schedule

BATCH = 500
RETRY_SECONDS = 0.5
PATIENCE = 120.0  # after the last scan is due, how long the queues may take to empty

# A scan as the kiosk saw it: (kiosk, n, due, first sent, last sent, answered, result, tries)
Acked = tuple[int, int, float, float, float, float, str, int]


@dataclass
class FaultyLoad(KioskLoad):
    """KioskLoad's kiosks (token, scan prefixes) with their faults, by kiosk index."""

    offline: set[int] = field(default_factory=set)
    offline_from: float = 0.0  # seconds after the start
    offline_until: float = 0.0
    skew: dict[int, float] = field(default_factory=dict)  # kiosk -> clock error, seconds


@dataclass
class Report:
    opened: int = 0
    scanned: list[tuple[int, int]] = field(default_factory=list)  # (kiosk, n) stamped
    acked: list[Acked] = field(default_factory=list)
    unacked: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # batch refusals, by code
    drops: list[float] = field(default_factory=list)  # when a socket dropped unasked
    reconnects: int = 0
    heartbeats: int = 0


class Kiosk:
    """One kiosk's socket, queue and batches in flight."""

    def __init__(self, k: int, token: str, skew: float) -> None:
        self.k, self.token, self.skew = k, token, timedelta(seconds=skew)
        self.ws: ClientConnection | None = None
        self.queue: deque[tuple[int, str]] = deque()  # (n, scan JSON)
        self.flight: dict[int, list[tuple[int, str]]] = {}  # batch id -> its scans
        self.offline = False
        self.batch = 0
        self.connecting = False

    def clock(self) -> str:
        return (datetime.now(UTC) + self.skew).isoformat()


class Fleet:
    def __init__(self, load: FaultyLoad) -> None:
        self.load = load
        self.kiosks = [Kiosk(k, t, load.skew.get(k, 0.0)) for k, (t, _) in enumerate(load.kiosks)]
        self.report = Report()
        self.due: dict[tuple[int, int], float] = {}
        self.sent: dict[tuple[int, int], tuple[float, float, int]] = {}  # first, last, tries
        self.owed = 0  # scans stamped and not yet acknowledged
        self.closing = False
        self.gate = asyncio.Semaphore(OPENING)
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, kiosk: Kiosk, first: bool = False) -> None:
        """Open the kiosk's socket, again and again until it opens; then send its queue."""
        if kiosk.connecting or kiosk.ws is not None:
            return
        kiosk.connecting, delay = True, 0.2
        while not self.closing and not kiosk.offline:
            try:
                async with self.gate:
                    ws = await connect(
                        self.load.url,
                        additional_headers={"Authorization": f"Bearer {kiosk.token}"},
                        open_timeout=30,
                        ping_interval=None,
                        proxy=None,
                        max_size=None,
                    )
            except Exception:
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)
                continue
            kiosk.ws = ws
            self.report.opened += first
            self.report.reconnects += not first
            self.spawn(self.read(kiosk, ws))
            break
        kiosk.connecting = False
        await self.flush(kiosk)

    async def flush(self, kiosk: Kiosk) -> None:
        """Send the kiosk's queue, if it is connected and online, as batches."""
        while kiosk.ws is not None and kiosk.queue and not kiosk.offline:
            chunk = [kiosk.queue.popleft() for _ in range(min(BATCH, len(kiosk.queue)))]
            kiosk.batch += 1
            kiosk.flight[kiosk.batch] = chunk
            now = time.monotonic()
            for n, _ in chunk:
                first, _, tries = self.sent.get((kiosk.k, n), (now, now, 0))
                self.sent[(kiosk.k, n)] = (first, now, tries + 1)
            scans = ",".join(text for _, text in chunk)
            msg = f'{{"type":"scans","id":{kiosk.batch},"sent_at":"{kiosk.clock()}","scans":[{scans}]}}'
            try:
                await kiosk.ws.send(msg)
            except ConnectionClosed:
                return  # the reader puts the batches back

    def requeue(self, kiosk: Kiosk, ids: list[int]) -> None:
        """Batches back to the front of the queue, in the order they were sent."""
        back = [scan for i in sorted(ids) for scan in kiosk.flight.pop(i)]
        kiosk.queue.extendleft(reversed(back))

    async def read(self, kiosk: Kiosk, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.answered(kiosk, orjson.loads(raw), time.monotonic())
        except ConnectionClosed:
            pass
        kiosk.ws = None
        self.requeue(kiosk, list(kiosk.flight))
        if not self.closing and not kiosk.offline:
            self.report.drops.append(time.monotonic())
            await self.connect(kiosk)

    def answered(self, kiosk: Kiosk, message: dict[str, object], now: float) -> None:
        kind, ident = message.get("type"), message.get("id")
        if kind == "heartbeat":
            self.report.heartbeats += 1
        elif kind == "results" and isinstance(ident, int) and ident in kiosk.flight:
            results = message["results"]
            assert isinstance(results, list)
            for (n, _), result in zip(kiosk.flight.pop(ident), results, strict=True):
                first, last, tries = self.sent[(kiosk.k, n)]
                due = self.due[(kiosk.k, n)]
                self.report.acked.append(
                    (kiosk.k, n, due, first, last, now, result["result"], tries)
                )
                self.owed -= 1
        elif kind == "error" and isinstance(ident, int) and ident in kiosk.flight:
            problem = message.get("problem")
            code = str(problem.get("code")) if isinstance(problem, dict) else "error"
            self.report.errors[code] = self.report.errors.get(code, 0) + 1
            self.requeue(kiosk, [ident])
            self.spawn(self.later(kiosk))

    async def later(self, kiosk: Kiosk) -> None:
        await asyncio.sleep(RETRY_SECONDS)
        await self.flush(kiosk)

    async def scan(self, kiosk: Kiosk, n: int) -> None:
        prefix = self.load.kiosks[kiosk.k][1][n]
        self.due[(kiosk.k, n)] = time.monotonic()
        self.report.scanned.append((kiosk.k, n))
        self.owed += 1
        kiosk.queue.append((n, f'{prefix},"scanned_at":"{kiosk.clock()}"}}'))
        await self.flush(kiosk)

    async def heartbeat(self, kiosk: Kiosk) -> None:
        if kiosk.ws is None or kiosk.offline:
            return
        beat = {"type": "heartbeat", "sent_at": kiosk.clock(), "queue_length": len(kiosk.queue)}
        with contextlib.suppress(ConnectionClosed):
            await kiosk.ws.send(orjson.dumps(beat).decode())

    async def go_offline(self, start: float) -> None:
        await asyncio.sleep(max(0.0, start + self.load.offline_from - time.monotonic()))
        for k in self.load.offline:
            kiosk = self.kiosks[k]
            kiosk.offline = True
            if kiosk.ws is not None:
                self.spawn(kiosk.ws.close())
        await asyncio.sleep(max(0.0, start + self.load.offline_until - time.monotonic()))
        for k in self.load.offline:
            self.kiosks[k].offline = False
            self.spawn(self.connect(self.kiosks[k]))

    async def run(self, start: float) -> None:
        self.spawn(self.go_offline(start))
        for due, k, n in schedule(self.load, start):
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kiosk = self.kiosks[k]
            await (self.heartbeat(kiosk) if n < 0 else self.scan(kiosk, n))
        for _ in range(int(PATIENCE * 10)):
            if self.owed <= 0:
                break
            await asyncio.sleep(0.1)
        self.report.unacked = self.owed


async def drive(load: FaultyLoad, pipe: Connection) -> None:
    raise_open_files(len(load.kiosks) + 256)
    fleet = Fleet(load)
    await asyncio.gather(*(fleet.connect(k, first=True) for k in fleet.kiosks))
    pipe.send(("ready", fleet.report.opened, {}))
    start = pipe.recv()
    await fleet.run(start)
    pipe.send(fleet.report)
    pipe.recv()
    fleet.closing = True
    await asyncio.gather(
        *(k.ws.close() for k in fleet.kiosks if k.ws is not None), return_exceptions=True
    )
    for task in list(fleet.tasks):
        task.cancel()


def run_fleet(load: FaultyLoad, pipe: Connection) -> None:
    """A kiosk client process's body."""
    asyncio.run(drive(load, pipe))
    pipe.close()
