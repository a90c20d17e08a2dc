"""The sender: the SQLite queue to the service over `WS /ws/kiosk`, until it is empty.

Pending scans go in batches of at most 500, a few batches in flight at once; a scan
leaves the queue only when its result has arrived and is committed here. While the link
or the service is down the sender reconnects with exponential backoff and full jitter
(so a hall of kiosks coming back together does not knock at the same instant). It keeps
the roster fresh (on connect and on `roster_changed`) and prints the service's answer
whenever it differs from what the door was told offline.

A batch refused whole is handled as docs/checkin.md says: 409 `scan_conflict` or 422
name their scans, which are set aside (kept in the file, out of the queue) while the
rest flows; 413 halves the batch; 429 waits `retry_after`; 401 or a close with 4401 stops
the kiosk (`KioskRevoked`).

The door hears when the link drops and when it comes back (`on_link`, once each way,
with the queue's length). The backoff stops at RECONNECT_MAX seconds, so a kiosk is
back within a few seconds of its service, however long the outage was.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from diemcau.cli.say import language
from diemcau.errors import Msg
from diemcau.kiosk import api
from diemcau.kiosk.connection import (
    MAX_BATCH,
    REVOKED_CLOSE,
    BatchRefused,
    KioskConnection,
    KioskRevoked,
    LinkClosed,
)
from diemcau.kiosk.store import Pending, Store
from diemcau.sites.client import ApiError, Client

Correction = Callable[[Mapping[str, Any], str], None]
Notice = Callable[..., None]  # (message, *values)
LinkChange = Callable[[bool, int], None]  # (link up, scans queued)
# A hall of kiosks coming back together still spreads over these seconds (full jitter);
# a wait of 30 s (the cap until issue 22) kept a door offline for up to 20 s after its
# service had returned.
RECONNECT_MAX = 4.0
ANSWER_TIMEOUT = 120.0  # a batch unanswered this long means a stuck link: reconnect
HEADCOUNT_RETRY = 5.0  # seconds before a headcount the service could not take goes again
# The service judges a scan more than 5 minutes ahead of its clock at its arrival; the
# door should hear of a wrong clock before that happens (the window is judged by it too).
SKEW_LIMIT = 300.0
CLOCK_FAST = Msg(
    "Đồng hồ máy nhanh {} phút so với dịch vụ: hãy chỉnh giờ máy",
    "This device's clock is {} minutes fast: set the clock",
)
CLOCK_SLOW = Msg(
    "Đồng hồ máy chậm {} phút so với dịch vụ: hãy chỉnh giờ máy",
    "This device's clock is {} minutes slow: set the clock",
)


class Backoff:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^n)]."""

    def __init__(self, base: float = 0.5, cap: float = RECONNECT_MAX) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return random.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Sender:
    """Drains a kiosk file's queue over the websocket; `run()` until cancelled or revoked."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        token: str,
        *,
        on_correction: Correction | None = None,
        on_roster: Callable[[], None] | None = None,
        on_notice: Notice | None = None,
        on_link: LinkChange | None = None,
        batch_size: int = MAX_BATCH,
        window: int = 4,
    ) -> None:
        self.store = store
        self.base_url = base_url
        self._token = token
        self.on_correction = on_correction
        self.on_roster = on_roster
        self.on_notice = on_notice
        self.on_link = on_link
        self._up: bool | None = None  # not known before the first try
        self._clock_warned = False
        self.batch_size = min(batch_size, MAX_BATCH)
        self.window = window
        self.wake = asyncio.Event()  # set when a scan is queued
        self.progress = asyncio.Event()  # set when results are recorded
        self.contacted = asyncio.Event()  # set once the service was reached and refreshed
        self.backoff = Backoff()
        self._roster_due = asyncio.Event()
        self._headcounts_at = 0.0  # monotonic time the queued headcounts may go again

    def __repr__(self) -> str:  # never the token
        return f"Sender({self.base_url!r})"

    def link(self, state: str, error: str | None = None) -> None:
        self.store.set(link_state=state, link_since=now_text(), link_error=error)

    async def run(self) -> None:
        """Connect, send, reconnect; never returns, raises KioskRevoked."""
        while True:
            try:
                await self._session()
            except KioskRevoked:
                self.link("revoked")
                raise
            except (LinkClosed, TimeoutError, OSError) as exc:
                self.link("offline", str(exc) or type(exc).__name__)
                self._linked(False)
            await asyncio.sleep(self.backoff.next())

    def _linked(self, up: bool) -> None:
        """Tell the door when the link drops or comes back (a first connection is no news)."""
        was, self._up = self._up, up
        if was is up or (was is None and up) or self.on_link is None:
            return
        self.on_link(up, self.queue_length())

    async def _session(self) -> None:
        conn = KioskConnection(
            self.base_url,
            self._token,
            on_push=self._push,
            queue_length=self.queue_length,
            language=language(),
        )
        await conn.open()
        try:
            self.link("connected")
            self._linked(True)
            self.backoff.reset()
            await self.refresh()
            await self.send_headcounts()
            self.contacted.set()
            self.progress.set()
            await self._pump(conn)
        finally:
            await conn.close()

    def queue_length(self) -> int:
        return self.store.counts()["pending"]

    def _push(self, message: dict[str, Any]) -> None:
        if message.get("type") == "roster_changed":
            self._roster_due.set()
            self.wake.set()
        elif message.get("type") == "heartbeat" and message.get("server_time"):
            self._clock(str(message["server_time"]))

    def _clock(self, server_time: str) -> None:
        """Note how far this device's clock is from the service's; warn once if too far."""
        try:
            offset = (datetime.fromisoformat(server_time) - datetime.now(UTC)).total_seconds()
        except (ValueError, TypeError):
            return  # an unreadable time (or one without an offset) says nothing
        self.store.set(clock_offset_s=round(offset, 1), server_time_seen=now_text())
        if abs(offset) > SKEW_LIMIT and not self._clock_warned and self.on_notice:
            self._clock_warned = True
            self.on_notice(CLOCK_SLOW if offset > 0 else CLOCK_FAST, round(abs(offset) / 60))

    async def refresh(self) -> None:
        """The conference's current state and the roster's changes, over HTTP.

        A failure here is noted and does not stop the scans: they matter more.
        """
        self._roster_due.clear()
        try:
            async with Client(self.base_url, self._token, language()) as http:
                kiosk = await api.fetch_kiosk(http)
                self.store.set(**{k: kiosk[k] for k in ("conference", "site") if k in kiosk})
                await api.refresh_roster(http, self.store)
        except ApiError as err:
            self.store.set(roster_error=f"{err.status} {err.code}")
            return
        self.store.set(roster_error=None, roster_synced_at=now_text())
        if self.on_roster is not None:
            self.on_roster()

    async def send_headcounts(self) -> None:
        """The queued headcounts over HTTP, oldest first (the websocket carries scans only).

        One the service refuses for good (404, 409, 422) is set aside; one it cannot take
        now (no link, 429, 5xx) stays queued and goes again in a few seconds.
        """
        pending = self.store.pending_headcounts()
        if not pending:
            return
        conference = (self.store.get("conference") or {}).get("code", "")
        site = (self.store.get("site") or {}).get("code", "")
        path = f"/api/v1/conferences/{quote(conference)}/sites/{quote(site)}/headcounts"
        async with Client(self.base_url, self._token, language()) as http:
            for headcount_id, body in pending:
                try:
                    answer = await http.post(path, body)
                except ApiError as err:
                    if err.status == 401:
                        raise KioskRevoked(err.code) from None
                    if err.status in (404, 409, 422):
                        self.store.set_aside_headcount(headcount_id, err.code or str(err.status))
                        continue
                    self._headcounts_at = time.monotonic() + HEADCOUNT_RETRY
                    return
                self.store.answer_headcount(headcount_id, answer, now_text())
                self.progress.set()

    async def _pump(self, conn: KioskConnection) -> None:
        """Send what is queued, a few batches in flight, until the socket closes."""
        flights: set[asyncio.Task[str]] = set()
        try:
            await self._fly(conn, flights)
        finally:
            await self._drop(flights)
        if conn.close_code == REVOKED_CLOSE:
            raise KioskRevoked(f"closed {conn.close_code}")
        raise LinkClosed(f"closed {conn.close_code}")

    async def _fly(self, conn: KioskConnection, flights: set[asyncio.Task[str]]) -> None:
        sent_up_to = 0  # the seq of the last scan sent on this connection
        rewind = False  # a batch must go again: once nothing is in flight, start over
        while not conn.closed:
            if self._roster_due.is_set():
                await self.refresh()
            if time.monotonic() >= self._headcounts_at:
                await self.send_headcounts()
            if rewind and not flights:
                sent_up_to, rewind = 0, False
            batch = [] if rewind or len(flights) >= self.window else self._next(sent_up_to)
            if batch:
                sent_up_to = batch[-1].seq
                flights.add(asyncio.create_task(self._send(conn, batch)))
                continue
            await self._wait(flights, conn)
            for task in [t for t in flights if t.done()]:
                flights.discard(task)
                rewind |= task.result() == "resend"

    def _next(self, after: int) -> list[Pending]:
        return self.store.pending(self.batch_size, after)

    async def _wait(self, flights: set[asyncio.Task[str]], conn: KioskConnection) -> None:
        """Until a batch is answered, a scan is queued, the roster changed or 2 s pass.

        The 2 s poll picks up scans queued by another process (`diemcau kiosk walkin`).
        """
        self.wake.clear()
        waker = asyncio.create_task(self.wake.wait())
        closer = asyncio.create_task(conn.wait_closed())
        await asyncio.wait({waker, closer, *flights}, timeout=2.0, return_when="FIRST_COMPLETED")
        waker.cancel()
        closer.cancel()

    async def _drop(self, flights: set[asyncio.Task[str]]) -> None:
        for task in flights:
            task.cancel()
        for task in flights:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send(self, conn: KioskConnection, batch: list[Pending]) -> str:
        """Send one batch and record its answer: "ok", "resend", or "lost" with the link."""
        try:
            future = await conn.send_batch([p.body for p in batch])
            results = await asyncio.wait_for(future, ANSWER_TIMEOUT)
        except BatchRefused as refused:
            await self._refused(refused, batch)
            return "resend"
        except TimeoutError:
            await conn.close()
            return "lost"
        except LinkClosed:
            return "lost"  # still pending in the file; it goes again after reconnecting
        self._record(results)
        return "ok"

    def _record(self, results: list[dict[str, Any]]) -> None:
        answered = now_text()
        site = (self.store.get("site") or {}).get("code")
        before = {r["scan_id"]: self._told(r["scan_id"], site) for r in results}
        self.store.answer(results, answered)
        self.store.set(last_sync_at=answered)
        self.progress.set()
        if self.on_correction is None:
            return
        for result in results:
            said = before.get(result["scan_id"])
            if said is not None and differs(result, said):
                self.on_correction(result, said["result"])

    def _told(self, scan_id: str, site: str | None) -> dict[str, Any] | None:
        """What the door was told of a scan: the service's earlier answer, else offline."""
        found = self.store.told(scan_id)
        if found is None:
            return None
        offline, earlier = found
        if earlier is not None:
            return earlier
        # Offline, a duplicate is one seen by this kiosk, so its first scan was here.
        return {"result": offline, "first": {"site_code": site} if offline == "duplicate" else {}}

    async def _refused(self, refused: BatchRefused, batch: list[Pending]) -> None:
        if refused.status == 401:
            raise KioskRevoked(refused.code)
        if refused.status == 429:
            await asyncio.sleep(refused.retry_after)
        elif refused.status == 413:
            self.batch_size = max(1, self.batch_size // 2)
        elif refused.status in (409, 422):
            self._set_aside(refused, batch)
        else:
            await asyncio.sleep(self.backoff.next())

    def _set_aside(self, refused: BatchRefused, batch: list[Pending]) -> None:
        named = [batch[i] for i in refused.scan_indexes() if i < len(batch)]
        # A refusal that names no scan cannot be mended by sending it again: set the whole
        # batch aside rather than send it forever.
        for pending in named or batch:
            self.store.set_aside(pending.scan_id, refused.code)
        self.store.set(last_refusal=refused.problem)
        self.progress.set()


def differs(result: Mapping[str, Any], said: Mapping[str, Any]) -> bool:
    """Whether the service's answer tells the door something it was not told.

    `said` is what the door was told before: the offline verdict, or the service's own
    earlier answer when the queue is replayed (which must not change).
    """
    if result.get("result") != said.get("result"):
        return True
    if bool(result.get("skewed")) != bool(said.get("skewed")):
        return True
    first, told = result.get("first") or {}, said.get("first") or {}
    return result.get("result") == "duplicate" and first.get("site_code") != told.get("site_code")
