"""Measure the line from a bridge point to the service: N pings over the link-test websocket.

rtt: the mean round trip of the pongs received; jitter: the mean absolute difference of
consecutive round trips (RFC 3550 style, without its smoothing); loss: pings with no pong
within the timeout after the last one was sent, as a percentage.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from diemcau.cli.say import number, t
from diemcau.sites.client import ApiError, Client


@dataclass
class Measurement:
    sent: int = 0
    rtts: dict[int, float] = field(default_factory=dict)  # seq -> round trip, ms

    @property
    def received(self) -> int:
        return len(self.rtts)

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def ordered(self) -> list[float]:
        return [self.rtts[s] for s in sorted(self.rtts)]

    @property
    def rtt_ms(self) -> float:
        values = self.ordered()
        return sum(values) / len(values) if values else 0.0

    @property
    def jitter_ms(self) -> float:
        values = self.ordered()
        steps = [abs(b - a) for a, b in itertools.pairwise(values)]
        return sum(steps) / len(steps) if steps else 0.0

    def result(self) -> dict[str, float]:
        return {
            "rtt_ms": round(self.rtt_ms, 3),
            "jitter_ms": round(self.jitter_ms, 3),
            "loss_pct": round(self.loss_pct, 3),
        }


async def _receive(
    ws: aiohttp.ClientWebSocketResponse,
    sent_at: dict[int, float],
    m: Measurement,
    count: int,
    done: asyncio.Event,
) -> None:
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        seq = data.get("seq")
        if data.get("type") == "pong" and seq in sent_at and seq not in m.rtts:
            m.rtts[seq] = (time.perf_counter() - sent_at[seq]) * 1000.0
            if m.received == count:
                done.set()


async def measure(
    api: Client, site: str, count: int = 50, interval: float = 0.1, wait: float = 3.0
) -> Measurement:
    """Send `count` pings `interval` seconds apart; wait `wait` seconds for stragglers."""
    m = Measurement()
    url = api.ws_url(f"/ws/link-test?site={quote(site)}")
    try:
        return await _measure(api, url, m, count, interval, wait)
    except aiohttp.WSServerHandshakeError as exc:
        raise ApiError(exc.status, {"code": "websocket_refused", "title": exc.message}) from None
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        title = t("Mất kết nối", "connection lost") + f": {type(exc).__name__}"
        raise ApiError(0, {"code": "unreachable", "title": title}) from None


async def _measure(
    api: Client, url: str, m: Measurement, count: int, interval: float, wait: float
) -> Measurement:
    sent_at: dict[int, float] = {}
    async with api.session.ws_connect(url, heartbeat=None, autoping=True) as ws:
        hello = await ws.receive_json(timeout=wait)
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first message: {hello}")
        done = asyncio.Event()
        receiver = asyncio.create_task(_receive(ws, sent_at, m, count, done))
        for seq in range(1, count + 1):
            sent_at[seq] = time.perf_counter()
            await ws.send_json({"type": "ping", "seq": seq, "t": time.time()})
            m.sent = seq
            if seq < count:
                await asyncio.sleep(interval)
        try:
            await asyncio.wait_for(done.wait(), wait)
        except TimeoutError:
            pass  # the missing pongs count as lost
        receiver.cancel()
        try:
            await receiver
        except asyncio.CancelledError:
            pass
    return m


def table(m: Measurement) -> list[str]:
    """The measurement as lines for a person."""
    values = m.ordered()
    low, high = number(min(values, default=0), 1), number(max(values, default=0), 1)
    rows = [
        (t("Gói gửi", "sent"), number(m.sent)),
        (t("Gói nhận", "received"), number(m.received)),
        (t("Mất gói", "loss"), f"{number(m.loss_pct, 2)} %"),
        (t("Độ trễ trung bình", "round trip, mean"), f"{number(m.rtt_ms, 1)} ms"),
        (t("Độ trễ thấp nhất - cao nhất", "round trip, min - max"), f"{low} - {high} ms"),
        (t("Rung pha", "jitter"), f"{number(m.jitter_ms, 1)} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v:>18}" for k, v in rows]
