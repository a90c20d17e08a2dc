"""The morning, played through the service's API as the sites would play it.

Every site's kiosk is a websocket (`KioskConnection`, the Python kiosk's own) that
stamps each scan with its own clock when the person is at the door, and sends what is
due in batches. The link-lost sites close their socket for a while and keep scanning
into a queue, sent when the link is back (old `scanned_at`, a new `sent_at`); one kiosk's
clock is 10 minutes slow, and the service corrects it by `sent_at`. Technicians report
the three headcounts over HTTP, absences are imported, and the organiser moves the
conference open, live and closed with `POST .../status`. Nothing here writes a table.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from diemcau.demo.plan import (
    ENDS,
    HEADCOUNT_AT,
    OFFLINE,
    SKEW_MINUTES,
    STARTS,
    Plan,
)
from diemcau.figures import number, ratio
from diemcau.kiosk.connection import BatchRefused, KioskConnection, LinkClosed
from diemcau.sites.client import Client

BASE_SECONDS = 240.0  # the morning at --speed 1: four minutes
TICK = 0.2  # a kiosk looks at its door at most this often (seconds)
MAX_BATCH = 500
PERSISTENT_UP_TO, SOCKETS = 2_000, 1_000
DAWN, MORNING_MINUTES = 6 * 60 + 30, 300  # check-in opens at 06:30; closes at 11:30

Say = Callable[[str, str], None]


def hhmm(fraction: float) -> str:
    minutes = DAWN + round(max(0.0, min(1.0, fraction)) * MORNING_MINUTES)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Clock:
    """The morning's fraction against the wall clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.t0 = time.monotonic()
        self.wall0 = datetime.now(UTC)

    def wall(self, fraction: float) -> datetime:
        """The moment of the morning's `fraction` on the wall clock."""
        return self.wall0 + timedelta(seconds=fraction * self.seconds)

    def now(self) -> float:
        return (time.monotonic() - self.t0) / self.seconds

    async def until(self, fraction: float) -> None:
        await asyncio.sleep(max(0.0, (fraction - self.now()) * self.seconds))


@dataclass(slots=True)
class Event:
    at: float
    scan: dict[str, Any]


@dataclass
class Tally:
    """What the kiosks were answered, by result (and re-entries, moves, skews)."""

    results: Counter[str] = field(default_factory=Counter)

    def record(self, results: list[dict[str, Any]]) -> None:
        for r in results:
            self.results[r.get("result", "?")] += 1
            for mark in ("reentry", "moved", "skewed"):
                if r.get(mark):
                    self.results[mark] += 1


def door_events(plan: Plan, codes: dict[str, str]) -> dict[int, list[Event]]:
    """Each site's scans in the order its door sees them."""
    out: dict[int, list[Event]] = {i: [] for i in range(len(plan.sites))}
    for p in plan.people:
        if p.at is None:
            continue
        qr = codes[p.external_id]
        scans = [(p.arrive, "in"), (p.again, "in"), (p.out, "out"), (p.back, "in")]
        for at, direction in scans:
            if at is not None:
                out[p.at].append(Event(at, {"qr": qr, "direction": direction}))
    for w in plan.walk_ins:
        scan = {"method": "walk_in", "full_name": w.full_name, "category": w.category}
        out[w.site].append(Event(w.arrive, scan))
    for events in out.values():
        events.sort(key=lambda e: e.at)
    return out


def expected_results(plan: Plan) -> Counter[str]:
    """The answers the plan calls for: every entry, exit and re-entry accepted (marked
    moved at another site than the roster's), every second scan a duplicate."""
    want: Counter[str] = Counter()
    for p in plan.people:
        if p.at is None:
            continue
        accepted = 1 + (p.out is not None) + (p.back is not None)
        want["accepted"] += accepted
        want["duplicate"] += p.again is not None
        want["reentry"] += p.back is not None
        want["moved"] += accepted if p.at != p.site else 0  # each accepted scan says so
    want["accepted"] += len(plan.walk_ins)
    return want


class Kiosk:
    """One site's kiosk: a door that stamps scans when they happen, a sender that
    delivers them in order, and a link that may be down for a while."""

    def __init__(
        self, base: str, token: str, events: list[Event], morning: Morning, *, offline: bool,
        skew: timedelta,
    ) -> None:  # fmt: skip
        self.base, self.token, self.events = base, token, events
        self.morning, self.offline, self.skew = morning, offline, skew
        self.outbox: asyncio.Queue[list[str] | None] = asyncio.Queue()
        self.conn: KioskConnection | None = None
        self.delivered = asyncio.Event()
        self.slot = False  # holds one of the morning's sockets (sparse mode)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    async def run(self) -> None:
        sender = asyncio.create_task(self._send())
        try:
            if self.morning.sockets is None:
                await self._connect()  # a kiosk on all morning, heartbeats and all
            await self._door()
            await self.outbox.put(None)
            await sender
            if self.morning.sockets is not None:
                await self._hang_up()  # its socket to a kiosk still at work
            self.delivered.set()
            # The kiosk stays on (heartbeats) until the conference closes.
            await self.morning.closed.wait()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await self._hang_up()

    async def _connect(self) -> KioskConnection:
        sockets = self.morning.sockets
        if sockets is not None and not self.slot:
            await sockets.acquire()
            self.slot = True
        while self.conn is None or self.conn.closed:
            self.conn = KioskConnection(self.base, self.token, heartbeat_every=10, clock=self.now)
            try:
                await self.conn.open()
            except LinkClosed:
                self.conn = None
                await asyncio.sleep(0.5)
        return self.conn

    def _stamp(self, event: Event) -> str:
        scan = {"scan_id": str(uuid.uuid4()), "scanned_at": self.now().isoformat(), **event.scan}
        return json.dumps(scan, ensure_ascii=False)

    def _down(self, fraction: float) -> bool:
        return self.offline and OFFLINE[0] <= fraction < OFFLINE[1]

    async def _door(self) -> None:
        clock, i, down = self.morning.clock, 0, False
        held: list[str] = []
        while i < len(self.events) or held:
            now = clock.now()
            due = []
            while i < len(self.events) and self.events[i].at <= now:
                due.append(self._stamp(self.events[i]))
                i += 1
            if due:  # how late the door is on its plan (a machine that cannot keep up)
                late = (now - self.events[i - len(due)].at) * clock.seconds
                self.morning.behind = max(self.morning.behind, late)
            if self._down(now):
                if not down:
                    down = True
                    await self.outbox.join()  # what was sent before the link went
                    await self._hang_up()
                held.extend(due)
            else:
                if down:
                    down = False
                    self.morning.synced.append(len(held))
                for k in range(0, len(held + due), MAX_BATCH):
                    await self.outbox.put((held + due)[k : k + MAX_BATCH])
                held = []
            wake = self.events[i].at if i < len(self.events) else OFFLINE[1]
            if down:
                wake = min(wake, OFFLINE[1])
            await asyncio.sleep(max(self.morning.tick, (wake - clock.now()) * clock.seconds))
        await self.outbox.join()

    async def _hang_up(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None
        if self.slot and self.morning.sockets is not None:
            self.morning.sockets.release()
            self.slot = False

    async def _send(self) -> None:
        while (batch := await self._next_batch()) is not None:
            try:
                sent = time.monotonic()
                await self._deliver(batch)
                # How long the scans waited to be answered: a machine that cannot keep up.
                lag = time.monotonic() - sent
                self.morning.behind = max(self.morning.behind, lag)
            finally:
                self.outbox.task_done()
        self.outbox.task_done()

    async def _next_batch(self) -> list[str] | None:
        """The next batch; a sparse kiosk idle for two looks at its door hangs up, giving
        its socket back to the pool."""
        if self.morning.sockets is None or self.conn is None:
            return await self.outbox.get()
        try:
            return await asyncio.wait_for(self.outbox.get(), 2 * self.morning.tick)
        except TimeoutError:
            await self._hang_up()
            return await self.outbox.get()

    async def _deliver(self, batch: list[str]) -> None:
        """Send until answered: a dropped socket or a 429 sends the same scans again
        (their scan ids make a repeat harmless)."""
        while True:
            conn = await self._connect()
            try:
                self.morning.tally.record(await conn.submit(batch))
                return
            except BatchRefused as refused:
                if refused.status != 429:
                    raise
                await asyncio.sleep(refused.retry_after)
            except LinkClosed:
                await asyncio.sleep(0.2)


@dataclass
class Morning:
    """The simulation's state: its clock, the kiosks' answers, the synced queues."""

    api: Client
    plan: Plan
    conference: str
    say: Say
    clock: Clock
    tally: Tally = field(default_factory=Tally)
    synced: list[int] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    # Beyond PERSISTENT_UP_TO sites, kiosks open a socket only to send, at most SOCKETS
    # at a time (a process has a few tens of thousands of file descriptors at most).
    sockets: asyncio.Semaphore | None = None
    tick: float = TICK
    # The most a door stamped a scan after its planned moment, or a batch waited for its
    # answer (s): a machine that cannot keep the chosen speed.
    behind: float = 0.0
    reported: asyncio.Event = field(default_factory=asyncio.Event)
    warned: bool = False

    @property
    def path(self) -> str:
        return f"/api/v1/conferences/{self.conference}"

    async def status(self, status: str) -> None:
        await self.api.request("POST", f"{self.path}/status", json={"status": status})
        self.say(
            f"[{hhmm(self.clock.now())}] hội nghị: {status}",
            f"[{hhmm(self.clock.now())}] conference: {status}",
        )

    async def reports(self) -> None:
        """The three headcounts, then the absences; the conference closes after them."""
        for moment in HEADCOUNT_AT:
            await self.headcounts(moment)
        await self.absences()
        self.reported.set()

    async def headcounts(self, moment: str) -> None:
        await self.clock.until(HEADCOUNT_AT[moment])
        gate = asyncio.Semaphore(8)
        counted_at = self.clock.wall(HEADCOUNT_AT[moment]).isoformat()

        async def report(i: int, counts: dict[str, int]) -> None:
            body = {"moment": moment, "counted_at": counted_at, "members": counts["member"],
                    "non_members": counts["non_member"], "guests": counts["guest"],
                    "note": "kỹ thuật viên đếm trong hội trường"}  # fmt: skip
            async with gate:
                await self.api.request(
                    "POST", f"{self.path}/sites/{self.plan.sites[i].code}/headcounts", json=body
                )

        await asyncio.gather(
            *(report(i, c[moment]) for i, c in self.plan.headcounts.items() if moment in c)
        )
        n = sum(1 for c in self.plan.headcounts.values() if moment in c)
        self.say(f"[{hhmm(self.clock.now())}] {number(n)} điểm cầu báo số người ({moment})",
                 f"[{hhmm(self.clock.now())}] {n:,} sites reported a headcount ({moment})")  # fmt: skip

    async def absences(self) -> None:
        """The technicians' list of who did not come, with reasons, as one import."""
        await self.clock.until(0.70)
        rows = [
            [p.external_id, p.absence, "", "true" if p.category == "member" else "false"]
            for p in self.plan.people
            if p.absence is not None
        ]
        if not rows:
            return
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["external_id", "reason", "note", "makeup_owed"])
        writer.writerows(rows)
        await self.api.request(
            "POST", f"{self.path}/absences/import", data=out.getvalue().encode(),
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        self.say(f"[{hhmm(self.clock.now())}] ghi {number(len(rows))} người vắng có lý do",
                 f"[{hhmm(self.clock.now())}] {len(rows):,} absences recorded with reasons")  # fmt: skip

    async def progress(self) -> None:
        """A line every tenth of the morning: the board's totals, read from the API."""
        for tenth in range(1, 10):
            await self.clock.until(tenth / 10)
            view = await self.api.get(f"{self.path}/live")
            t = view["totals"]
            came = sum(t["checked_in"].values())
            want = sum(t["expected"].values())
            if self.behind > 10 and not self.warned:
                self.warned = True
                self.say(f"  (mô phỏng chậm {self.behind:.0f} giây so với đồng hồ của nó: máy này không theo kịp tốc độ này; thử --speed nhỏ hơn)",
                         f"  (the simulation runs {self.behind:.0f} s behind its clock: this machine cannot keep this speed; try a lower --speed)")  # fmt: skip
            self.say(
                f"[{hhmm(self.clock.now())}] đã điểm danh {ratio(came, want)}, "
                f"vãng lai {number(t['walk_ins'])}, trong hội trường {number(t['present'])}",
                f"[{hhmm(self.clock.now())}] checked in {ratio(came, want, 'en')}, "
                f"walk-ins {t['walk_ins']:,}, in the halls {t['present']:,}",
            )


async def play(
    api: Client, base: str, plan: Plan, conference: str, codes: dict[str, str],
    tokens: dict[str, str], speed: float, say: Say,
) -> Morning:  # fmt: skip
    """The whole morning, open to closed; answers the simulation's state."""
    morning = Morning(api, plan, conference, say, Clock(BASE_SECONDS / speed))
    if len(plan.sites) > PERSISTENT_UP_TO:
        morning.sockets = asyncio.Semaphore(SOCKETS)
    # Fewer wake-ups for many doors, but never holding a scan near the 30 s after which
    # a kiosk in contact is judged at the scan's arrival.
    morning.tick = min(20.0, max(TICK, len(plan.sites) / 2_000))
    events = door_events(plan, codes)
    kiosks = [
        Kiosk(base, tokens[s.code], events[i], morning, offline="offline" in s.roles,
              skew=timedelta(minutes=SKEW_MINUTES if "skewed" in s.roles else 0))
        for i, s in enumerate(plan.sites)
    ]  # fmt: skip
    await morning.status("open")
    doors = asyncio.gather(*(k.run() for k in kiosks))
    chores = asyncio.gather(
        _go_live(morning),
        _close(morning, kiosks),
        morning.reports(),
        morning.progress(),
    )
    try:
        await asyncio.gather(doors, chores)
    except BaseException:
        doors.cancel()
        chores.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(doors, chores, return_exceptions=True)
        raise
    return morning


async def _go_live(morning: Morning) -> None:
    await morning.clock.until(STARTS)
    await morning.status("live")


async def _close(morning: Morning, kiosks: list[Kiosk]) -> None:
    """At the end of the morning, once every kiosk's scans are answered."""
    await morning.clock.until(ENDS)
    await asyncio.gather(morning.reported.wait(), *(k.delivered.wait() for k in kiosks))
    await morning.status("closed")
    morning.closed.set()
