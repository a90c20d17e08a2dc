"""The live bench's client processes: dashboards on the board's websocket, and the probe
that times scans from the kiosk to them (bench/live.py drives both).

A `Dashboards` share is one process's sockets: each opens with a token and a scope
(`?unit=`, or the whole conference), reads its snapshot, then keeps reading. For every
delta it notes, for each probe site in it, the site's `walk_ins` and when the delta
arrived. The probe sends one walk-in at a time, round robin over the probe sites, and
notes when it sent the k-th of each site: the k-th walk-in's latency is the first time a
dashboard showed that site with `walk_ins >= k`, less the time it was sent. Times are
`time.time()`, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import bisect
import resource
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import aiohttp
import orjson

Seen = tuple[int, str, int, float]  # (dashboard, site code, walk_ins shown, when received)


@dataclass
class Dashboards:
    url: str  # http://host:port
    conference: str
    token: str
    scopes: list[str | None]  # one dashboard per entry: a unit code or None (everything)
    probes: list[str]  # probe site codes
    seconds: float  # how long to keep reading after all are open


def raise_file_limit() -> None:
    """As many open files as the hard limit allows (a process holds 500 sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _dashboard(
    http: aiohttp.ClientSession,
    share: Dashboards,
    me: int,
    gate: asyncio.Semaphore,
    seen: list[Seen],
    opened: asyncio.Queue[float],
    stop: asyncio.Event,
) -> None:
    scope = share.scopes[me]
    query = f"?unit={scope}" if scope else ""
    url = f"{share.url.replace('http', 'ws', 1)}/ws/conferences/{share.conference}/live{query}"
    probes = set(share.probes)
    async with gate:  # a few open at a time, as people arrive
        started = time.time()
        ws = await http.ws_connect(
            url, headers={"Authorization": f"Bearer {share.token}"}, max_msg_size=0
        )
        first = orjson.loads((await ws.receive()).data)
        assert first["type"] == "snapshot", first
        await opened.put(time.time() - started)
    async with ws:
        while not stop.is_set():
            try:
                msg = await ws.receive(timeout=1.0)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            at = time.time()
            data = orjson.loads(msg.data)
            if data["type"] == "delta":
                for code, entry in data["sites"].items():
                    if code in probes and entry is not None:
                        seen.append((me, code, entry["walk_ins"], at))


async def watch(share: Dashboards, pipe: Connection) -> tuple[list[Seen], list[float], int]:
    raise_file_limit()
    seen: list[Seen] = []
    opened: asyncio.Queue[float] = asyncio.Queue()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(50)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [
            asyncio.create_task(_dashboard(http, share, me, gate, seen, opened, stop))
            for me in range(len(share.scopes))
        ]
        times = [await opened.get() for _ in share.scopes]
        pipe.send("ready")
        await asyncio.to_thread(pipe.recv)  # the rush is over (the loop reads on meanwhile)
        await asyncio.sleep(1.0)  # what is still on its way
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    return seen, times, failed


def run_dashboards(share: Dashboards, pipe: Connection) -> None:
    """A dashboard process's body."""
    pipe.send(asyncio.run(watch(share, pipe)))
    pipe.close()


@dataclass
class Probe:
    url: str
    kiosks: dict[str, str]  # probe site code -> a kiosk token of that site
    rate: float  # walk-ins a second, all sites together
    seconds: float


async def probe(p: Probe) -> list[tuple[str, int, float]]:
    """Walk-ins round robin over the probe sites; (site, k, sent) for each answered one."""
    sent: list[tuple[str, int, float]] = []
    counts = dict.fromkeys(p.kiosks, 0)
    sites = list(p.kiosks)
    deadline = time.monotonic() + p.seconds
    n = 0
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            site = sites[n % len(sites)]
            n += 1
            body = {
                "scans": [
                    {
                        "scan_id": str(uuid.uuid4()),
                        "scanned_at": datetime.now(UTC).isoformat(),
                        "method": "walk_in",
                        "full_name": "Khách đo độ trễ",
                        "category": "guest",
                    }
                ]
            }
            at = time.time()
            async with http.post(
                f"{p.url}/api/v1/checkins",
                json=body,
                headers={"Authorization": f"Bearer {p.kiosks[site]}"},
            ) as resp:
                if resp.status == 200:
                    counts[site] += 1
                    sent.append((site, counts[site], at))
            await asyncio.sleep(max(0.0, 1 / p.rate - (time.time() - at)))
    return sent


def run_probe(p: Probe, pipe: Connection) -> None:
    pipe.send(asyncio.run(probe(p)))
    pipe.close()


def latencies(sent: list[tuple[str, int, float]], seen: list[Seen]) -> list[float]:
    """Milliseconds from each probe walk-in's sending to each dashboard's first delta
    showing it (the first of that dashboard's deltas with the site's walk_ins >= k)."""
    shown: dict[str, dict[int, list[tuple[int, float]]]] = {}
    for me, code, count, at in seen:
        shown.setdefault(code, {}).setdefault(me, []).append((count, at))
    out = []
    for site, k, at in sent:
        for deltas in shown.get(site, {}).values():
            i = bisect.bisect_left([c for c, _ in deltas], k)
            if i < len(deltas):
                out.append((deltas[i][1] - at) * 1000)
    return out
