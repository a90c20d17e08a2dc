"""Many kiosks in one client process, each on its own `WS /ws/kiosk`, as the national
morning has them: a scan every few seconds and a heartbeat every 20 s, not a few sockets
sending batches of 500 (bench/checkin_kiosks.py starts several of these processes).

A kiosk sends each scan as a batch of one, `{"type": "scans", "id": n, "scans": [s]}`,
when it is due, whether or not its last scan was answered (a real kiosk scans whoever is
at the door; the service answers a socket's messages in order), and a heartbeat
`{"type": "heartbeat", "sent_at": t, "queue_length": 0}` (both with the kiosk's clock
as they leave, as the kiosk client sends them) every `heartbeat_every` seconds, both at a
phase of their own so the load is smooth. Times are `time.monotonic()`, one clock for
every process of the machine. Every socket is opened before the start (not timed); one
that closes before the end is a dropped socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

OPENING = 64  # handshakes in flight at once per process (each is authenticated)
GRACE_SECONDS = 10.0  # after the last scan, how long answers may still come

# A scan as the client saw it: (due, sent, answered or NaN, accepted, error code or None)
ScanRecord = tuple[float, float, float, bool, str | None]


@dataclass
class KioskLoad:
    url: str  # ws://host:port/ws/kiosk
    kiosks: list[tuple[str, list[str]]]  # (token, the scans it sends, each as JSON text)
    every: float  # seconds between two scans of one kiosk
    heartbeat_every: float
    seconds: float
    compression: str | None
    seed: int


@dataclass
class Tally:
    """What one client process saw, sent back to the parent."""

    opened: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # sockets not opened, by reason
    scans: list[ScanRecord] = field(default_factory=list)
    heartbeats: list[float] = field(default_factory=list)  # seconds to each answer
    beat_errors: dict[str, int] = field(default_factory=dict)
    dropped: list[tuple[float, int | None]] = field(default_factory=list)  # (when, code)
    held: int = 0  # sockets still open when the run ended


class State:
    """The sockets, what each still owes, and the tally."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection | None] = []
        self.pending: dict[tuple[int, int], tuple[float, float]] = {}  # (k, n) -> due, sent
        self.beats: dict[int, float] = {}  # k -> when its heartbeat left
        self.tally = Tally()
        self.closing = False
        self.sent_all = False
        self.drained = asyncio.Event()  # every scan sent and answered

    def answered(self) -> None:
        if self.sent_all and not self.pending:
            self.drained.set()


def raise_open_files(need: int) -> None:
    """The soft limit on open files up to what the sockets need (the hard limit caps it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise RuntimeError(f"{need} open files needed, the hard limit is {hard} (ulimit -Hn)")
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard)
    )


async def _open(load: KioskLoad, state: State) -> None:
    gate = asyncio.Semaphore(OPENING)

    async def one(token: str) -> ClientConnection | None:
        async with gate:
            try:
                return await connect(
                    load.url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    compression=load.compression,
                    open_timeout=60,
                    ping_interval=None,  # the kiosk's own heartbeats, as the kiosk client
                    proxy=None,
                )
            except Exception as exc:  # counted by reason: how many could not be opened
                reason = type(exc).__name__
                state.tally.refused[reason] = state.tally.refused.get(reason, 0) + 1
                return None

    state.sockets = list(await asyncio.gather(*(one(token) for token, _ in load.kiosks)))
    state.tally.opened = sum(ws is not None for ws in state.sockets)


def schedule(load: KioskLoad, start: float) -> list[tuple[float, int, int]]:
    """Every message of the run in time order: (due, kiosk, n), n = -1 for a heartbeat."""
    rnd = random.Random(load.seed)
    events = []
    for k, (_, scans) in enumerate(load.kiosks):
        phase = rnd.random() * load.every
        count = min(len(scans), math.ceil((load.seconds - phase) / load.every))
        events += [(start + phase + n * load.every, k, n) for n in range(count)]
        beat = rnd.random() * load.heartbeat_every
        while beat < load.seconds:
            events.append((start + beat, k, -1))
            beat += load.heartbeat_every
    events.sort()
    return events


async def _send_all(load: KioskLoad, state: State, events: list[tuple[float, int, int]]) -> None:
    for due, k, n in events:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        ws = state.sockets[k]
        if ws is None:
            continue
        now = time.monotonic()
        clock = datetime.now(UTC).isoformat()  # the kiosk's clock as the message leaves
        if n < 0:
            state.beats[k] = now
            text = f'{{"type":"heartbeat","sent_at":"{clock}","queue_length":0}}'
        else:
            state.pending[(k, n)] = (due, now)
            scan = load.kiosks[k][1][n]
            text = f'{{"type":"scans","id":{n},"sent_at":"{clock}","scans":[{scan}]}}'
        try:
            await ws.send(text)
        except ConnectionClosed:
            state.sockets[k] = None  # the reader records the drop
    state.sent_all = True
    state.answered()


def _answered(state: State, k: int, message: dict[str, object], now: float) -> None:
    kind = message.get("type")
    if kind == "heartbeat":
        sent = state.beats.pop(k, None)
        if sent is not None:
            state.tally.heartbeats.append(now - sent)
        return
    ident = message.get("id")
    owed = state.pending.pop((k, ident), None) if isinstance(ident, int) else None
    if kind == "results" and owed is not None:
        results = message.get("results")
        ok = isinstance(results, list) and bool(results) and results[0].get("result") == "accepted"
        state.tally.scans.append((owed[0], owed[1], now, ok, None))
    elif kind == "error":
        problem = message.get("problem")
        code = str(problem.get("code")) if isinstance(problem, dict) else "error"
        if owed is not None:
            state.tally.scans.append((owed[0], owed[1], now, False, code))
        else:  # a heartbeat's refusal (ids are scans' only)
            state.beats.pop(k, None)
            state.tally.beat_errors[code] = state.tally.beat_errors.get(code, 0) + 1
    if owed is not None:
        state.answered()


async def _read(state: State, k: int, ws: ClientConnection) -> None:
    try:
        async for raw in ws:
            _answered(state, k, orjson.loads(raw), time.monotonic())
    except ConnectionClosed:
        pass
    if not state.closing:
        state.tally.dropped.append((time.monotonic(), ws.close_code))
        state.sockets[k] = None


async def _settle(state: State) -> None:
    """Wait for the answers still owed (GRACE_SECONDS at most); the rest are unanswered."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(GRACE_SECONDS):
            await state.drained.wait()
    for due, sent in state.pending.values():
        state.tally.scans.append((due, sent, math.nan, False, "unanswered"))
    state.pending.clear()


async def _close(state: State) -> None:
    state.closing = True
    gate = asyncio.Semaphore(OPENING * 4)

    async def one(ws: ClientConnection) -> None:
        async with gate:
            await ws.close()

    await asyncio.gather(*(one(ws) for ws in state.sockets if ws is not None))


async def drive(load: KioskLoad, pipe: Connection) -> None:
    raise_open_files(len(load.kiosks) + 256)
    state = State()
    await _open(load, state)
    pipe.send(("ready", state.tally.opened, state.tally.refused))
    start = pipe.recv()  # the monotonic time to start at, the same for every process
    readers = [asyncio.create_task(_read(state, k, ws)) for k, ws in enumerate(state.sockets) if ws]
    await _send_all(load, state, schedule(load, start))
    await _settle(state)
    state.tally.held = sum(ws is not None for ws in state.sockets)
    pipe.send(state.tally)  # before closing: the parent counts what the server still holds
    pipe.recv()
    await _close(state)
    await asyncio.gather(*readers)


def run_kiosks(load: KioskLoad, pipe: Connection) -> None:
    """A client process's body."""
    asyncio.run(drive(load, pipe))
    pipe.close()
