"""Load generator for `WS /ws/kiosk`: many kiosks sending batches of scans, in processes.

Built on the `websockets` library directly: the Python kiosk client's connection
(`diemcau.kiosk`) had not landed on main when this was written. Each kiosk here is what
that client does online: one socket, a batch sent as `{"type": "scans", "id": n,
"scans": [...]}` with the scans already JSON text, the next batch once the answer is in
(one batch in flight per kiosk). The answers are parsed as a kiosk would (json.loads)
and their `accepted` results counted.

A `Load` is one client process's share: its kiosks' tokens per group and its batches, in
order. `run_load` opens every socket first (not timed), tells the parent it is ready,
waits for the start time the parent gives, then sends until its batches run out or the
time is up, and answers one record per batch: (sent, answered, scans, accepted, error).
Times are `time.monotonic()`, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Record = tuple[float, float, int, int, str | None]


@dataclass
class Load:
    url: str  # ws://host:port/ws/kiosk
    kiosks: list[list[str]]  # per group: the tokens of this process's kiosks
    batches: list[tuple[int, int, str]]  # (group, scans, the scans joined as JSON text)
    seconds: float
    compression: str | None = "deflate"  # as the Python kiosk client sends


async def _open(load: Load) -> list[list[ClientConnection]]:
    """Every kiosk's socket, a few at a time (the service authenticates each)."""
    gate = asyncio.Semaphore(16)

    async def one(token: str) -> ClientConnection:
        async with gate:
            return await connect(
                load.url,
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=load.compression,
                max_size=64 * 1024 * 1024,
                ping_interval=None,
                proxy=None,
            )

    return [list(await asyncio.gather(*(one(t) for t in group))) for group in load.kiosks]


async def _kiosk(
    k: int,
    sockets: list[list[ClientConnection]],
    batches: Iterator[tuple[int, tuple[int, int, str]]],
    deadline: float,
    out: list[Record],
) -> None:
    """Kiosk k: the next batch on its socket of that batch's group, one at a time."""
    for n, (group, count, scans) in batches:
        if time.monotonic() >= deadline:
            return
        ws = sockets[group][k]
        sent = time.monotonic()
        await ws.send(f'{{"type":"scans","id":{n},"scans":[{scans}]}}')
        reply = await _results(ws)
        answered = time.monotonic()
        if reply.get("type") == "results":
            accepted = sum(r.get("result") == "accepted" for r in reply["results"])
            out.append((sent, answered, count, accepted, None))
        else:
            problem = reply.get("problem") or {}
            out.append((sent, answered, count, 0, str(problem.get("code", reply.get("type")))))


async def _results(ws: ClientConnection) -> dict[str, Any]:
    """The next answer to a batch (a roster nudge or heartbeat is not one)."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("type") in ("results", "error"):
            return dict(message)


async def drive(load: Load, pipe: Connection) -> list[Record]:
    sockets = await _open(load)
    pipe.send("ready")
    start = pipe.recv()  # the monotonic time to start at, the same for every process
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    out: list[Record] = []
    batches = iter(enumerate(load.batches))
    width = len(load.kiosks[0])
    await asyncio.gather(
        *(_kiosk(k, sockets, batches, start + load.seconds, out) for k in range(width))
    )
    for group in sockets:
        for ws in group:
            await ws.close()
    return out


def run_load(load: Load, pipe: Connection) -> None:
    """A client process's body: drive the load, send the records back."""
    pipe.send(asyncio.run(drive(load, pipe)))
    pipe.close()
