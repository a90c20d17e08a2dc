"""The rehearsal's dashboards: live board websockets that behave as docs/live.md asks a
client to (the live bench's bench/live_clients.py opens and reads them the same way, but
never reconnects): keep the snapshot, apply each delta (replace the named entries,
delete the nulls), and when the socket drops reconnect to any host with `?since=<seq>`
and backoff. Each dashboard keeps its sites' `checked_in`, its totals, its `seq`, when
it last heard anything and whether the last heartbeat said `behind`, and notes when a
site's count first reached each value (scan-to-dashboard). Times are
`time.monotonic()`, one clock for every process of the machine.

The parent asks for the state ("state") as often as it likes while the sockets keep
reading, then says "done" and gets the notes.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import orjson

from bench.live_clients import raise_file_limit

Counts = tuple[int, int, int]  # member, non_member, guest
Seen = tuple[str, int, float]  # (site, checked_in total shown, when)


@dataclass
class Boards:
    urls: list[str]  # http://host:port of every host; dashboard i uses urls[i % len]
    conference: str
    token: str
    scopes: list[str | None]  # a unit code, or None for the whole conference
    record: list[bool]  # whether dashboard i notes its sites' counts over time


@dataclass
class Board:
    scope: str | None
    seq: int = -1
    sites: dict[str, Counts] = field(default_factory=dict)
    totals: Counts = (0, 0, 0)
    heard: float = 0.0
    behind: bool = False
    connected: bool = False
    reconnects: int = 0
    snapshots: int = 0
    seen: list[Seen] = field(default_factory=list)

    def state(self, now: float) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "seq": self.seq,
            "sites": self.sites,
            "totals": self.totals,
            "silent_s": round(now - self.heard, 2),
            "behind": self.behind,
            "connected": self.connected,
            "reconnects": self.reconnects,
            "snapshots": self.snapshots,
        }


def counts(entry: dict[str, Any]) -> Counts:
    c = entry["checked_in"]
    return (c["member"], c["non_member"], c["guest"])


def apply(board: Board, data: dict[str, Any], record: bool, at: float) -> None:
    """A snapshot or delta into the board."""
    kind = data.get("type")
    board.heard = at
    if kind == "heartbeat":
        board.behind = bool(data.get("behind"))
        return
    if kind == "snapshot":
        board.snapshots += 1
        board.sites = {}
    board.behind = False
    for code, entry in data["sites"].items():
        if entry is None:
            board.sites.pop(code, None)
            continue
        now = counts(entry)
        if record and sum(now) > sum(board.sites.get(code, (0, 0, 0))):
            board.seen.append((code, sum(now), at))
        board.sites[code] = now
    board.totals = counts(data["totals"])
    board.seq = max(board.seq, int(data["seq"])) if kind == "delta" else int(data["seq"])


async def watch(
    http: aiohttp.ClientSession, boards: Boards, i: int, board: Board, gate: asyncio.Semaphore
) -> None:
    """One dashboard, for as long as the process runs."""
    base = boards.urls[i % len(boards.urls)].replace("http", "ws", 1)
    delay = 0.5
    while True:
        query = [f"unit={board.scope}"] if board.scope else []
        query += [f"since={board.seq}"] if board.seq >= 0 else []
        url = f"{base}/ws/conferences/{boards.conference}/live?{'&'.join(query)}"
        try:
            async with gate:
                ws = await http.ws_connect(
                    url, headers={"Authorization": f"Bearer {boards.token}"}, max_msg_size=0
                )
            board.connected, delay = True, 0.5
            async with ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    apply(board, orjson.loads(msg.data), boards.record[i], time.monotonic())
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        board.connected = False
        board.reconnects += 1
        await asyncio.sleep(delay * random.random() + 0.1)  # full jitter
        delay = min(2 * delay, 5.0)


async def serve_parent(boards: Boards, pipe: Connection) -> None:
    raise_file_limit()
    board_list = [Board(scope) for scope in boards.scopes]
    gate = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [
            asyncio.create_task(watch(http, boards, i, b, gate)) for i, b in enumerate(board_list)
        ]
        for _ in range(3000):  # five minutes at most for every first view
            if all(b.seq >= 0 for b in board_list):
                break
            await asyncio.sleep(0.1)
        for b in board_list:
            b.reconnects = 0
        pipe.send("ready")
        while True:
            word = await asyncio.to_thread(pipe.recv)
            now = time.monotonic()
            if word == "state":
                pipe.send([b.state(now) for b in board_list])
            else:
                pipe.send([b.seen for b in board_list])
                break
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_boards(boards: Boards, pipe: Connection) -> None:
    """A dashboard client process's body."""
    asyncio.run(serve_parent(boards, pipe))
    pipe.close()
