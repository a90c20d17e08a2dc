"""Requests arriving together share a transaction (group commit).

Every scan must be committed before it is answered, and a commit waits for the disk.
One transaction per request would cap a worker at a few hundred requests a second; so
the worker queues the jobs (one per request or websocket message) and a runner takes
everything that has queued for one conference into one `ingest` call, with a few such
calls in flight at once. Under light load a job runs alone at once; under heavy load the
batches grow and the commits stay few.

One kiosk's jobs are judged and committed in the order it sent them (DESIGN, Rules): a
job waits while an earlier job of its kiosk is in a batch in flight, and goes with the
next batch, after it. Two batches in flight never hold jobs of the same kiosk, so a
kiosk's later batch can never commit first (a repeat scan would be answered `accepted`,
and the earlier scan, committed after it, `accepted` too). Kiosks still share batches.

The Ingestor also keeps what the worker learns of kiosks as they talk to it: their
clocks' offsets (diemcau.checkin.clocks; a job is measured as it is submitted) and their
contact (diemcau.checkin.contact; recorded once a job is committed, written every few
seconds by a task of its own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg

from diemcau.checkin.clocks import Clocks
from diemcau.checkin.contact import WRITE_EVERY, Contacts
from diemcau.checkin.heartbeats import Heartbeats
from diemcau.checkin.ingest import Outcome, ingest
from diemcau.checkin.records import Job
from diemcau.errors import Problem
from diemcau.queries import kiosks as q

log = logging.getLogger("diemcau.checkin")

# Transient failures of a batch that running it again resolves: another batch committed
# the same scan id first (it becomes a retry), or two batches locked in a ring.
RETRYABLE = (
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
ATTEMPTS = 5
# A kiosk's `last_seen_at` is written at most this often by one worker.
TOUCH_EVERY = 5.0


class Liveness:
    """When this worker last recorded each kiosk as alive (monotonic seconds)."""

    def __init__(self) -> None:
        self._touched: dict[int, float] = {}

    def due(self, token_ids: set[int]) -> list[int]:
        """The kiosks whose last record is older than TOUCH_EVERY; marked as done."""
        now = time.monotonic()
        due = [t for t in token_ids if now - self._touched.get(t, -TOUCH_EVERY) >= TOUCH_EVERY]
        for t in due:
            self._touched[t] = now
        return sorted(due)

    def forget(self, token_id: int) -> None:
        self._touched.pop(token_id, None)


class Ingestor:
    """The worker's queue of check-in jobs and the runner that commits them."""

    def __init__(
        self, pool: asyncpg.Pool, *, parallel: int = 4, max_scans: int = 2000, gather: int = 32
    ):
        self.pool = pool
        self.liveness = Liveness()
        self.heartbeats = Heartbeats(pool)
        self.clocks = Clocks()
        self.contacts = Contacts()
        self._max_scans = max_scans
        self._gather = gather
        self._queued = 0  # scans waiting
        self._queue: dict[int, list[tuple[Job, asyncio.Future[Outcome]]]] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(parallel)
        self._tasks: set[asyncio.Task[None]] = set()
        self._touches: set[asyncio.Task[None]] = set()
        self._busy: Counter[int] = Counter()  # kiosks with a job in a batch in flight
        self._runner: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._runner = loop.create_task(self._run())
        self._keeper = loop.create_task(self._keep_contacts())

    async def close(self) -> None:
        """Finish what is queued and in flight, write the contacts, then stop."""
        while self._queue or self._tasks or self._touches or self.heartbeats.busy:
            self._wake.set()
            await asyncio.sleep(0.01)
        for task in (self._runner, self._keeper):
            if task is not None:
                task.cancel()
        await self.write_contacts()

    async def submit(self, job: Job) -> list[dict[str, Any]]:
        """The answers to a job's scans, once committed; raises its refusal (a Problem).

        Queued before its first `await`: jobs submitted one after another keep their
        order (the kiosk websocket relies on it)."""
        token = job.kiosk.token_id
        if job.sent_at is not None:
            self.clocks.measure(token, job.received_at, job.sent_at)
        job.offset = self.clocks.offset(token, job.received_at)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.setdefault(job.kiosk.conference_id, []).append((job, future))
        self._queued += len(job.scans)
        self._wake.set()
        # A client that goes away does not cancel the batch: its scans are committed for
        # everyone else in it, and its retry will be answered from what was stored.
        outcome = await asyncio.shield(future)
        if isinstance(outcome, Problem):
            raise outcome
        return outcome

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # Group commit: while a batch is being committed, let the queue gather
                # for the next one (a transaction costs about as much for 5 scans as for
                # 100); start another at once only when enough scans wait to fill one.
                if self._tasks and self._queued < self._gather:
                    break  # the batch in flight wakes the runner when it is done
                await self._slots.acquire()
                taken = self._take()
                if taken is None:  # every job queued waits for its kiosk's batch in flight
                    self._slots.release()
                    break
                conference_id, items = taken
                kiosks = Counter({job.kiosk.token_id for job, _ in items})
                self._busy += kiosks
                task = asyncio.get_running_loop().create_task(self._flush(conference_id, items))
                self._tasks.add(task)
                task.add_done_callback(partial(self._done, kiosks))

    def _done(self, kiosks: Counter[int], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy -= kiosks
        self._slots.release()
        self._wake.set()

    def _take(self) -> tuple[int, list[tuple[Job, asyncio.Future[Outcome]]]] | None:
        """The oldest conference's jobs that may go now, up to about max_scans scans: a
        job whose kiosk has a job in flight, or left queued before it, stays (in order)."""
        for conference_id, queued in self._queue.items():
            held = set(self._busy)
            taken: list[tuple[Job, asyncio.Future[Outcome]]] = []
            rest: list[tuple[Job, asyncio.Future[Outcome]]] = []
            scans = 0
            for n, item in enumerate(queued):
                if taken and scans >= self._max_scans:
                    rest.extend(queued[n:])
                    break
                token = item[0].kiosk.token_id
                if token in held:
                    rest.append(item)
                else:
                    taken.append(item)
                    scans += len(item[0].scans)
            if not taken:
                continue
            self._queued -= scans
            if rest:
                self._queue[conference_id] = rest
            else:
                del self._queue[conference_id]
            return conference_id, taken
        return None

    async def _flush(
        self, conference_id: int, items: list[tuple[Job, asyncio.Future[Outcome]]]
    ) -> None:
        try:
            await self._attempt(conference_id, items)
        except Exception as exc:
            if all(future.done() for _, future in items):
                # Committed and answered; only giving the connection back failed (the
                # pool closes it and opens another).
                log.warning("check-in connection not reset", extra={"error": repr(exc)})
                return
            if len(items) > 1:
                # Something in one job broke the batch: run each job alone, so one
                # kiosk's trouble is answered to that kiosk only.
                for item in items:
                    await self._flush(conference_id, [item])
                return
            log.exception("check-in batch failed", extra={"conference_id": conference_id})
            _settle(items[0][1], exc)
            return
        # Liveness on its own, so the next batch need not wait for it to start.
        touch = asyncio.get_running_loop().create_task(
            self._touch({job.kiosk.token_id for job, _ in items})
        )
        self._touches.add(touch)
        touch.add_done_callback(self._touches.discard)

    async def _attempt(
        self, conference_id: int, items: list[tuple[Job, asyncio.Future[Outcome]]]
    ) -> None:
        jobs = [job for job, _ in items]
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.pool.acquire() as conn:
                    outcomes = await ingest(conn, conference_id, jobs, contacts=self.contacts)
                    # Answered before the connection goes back to the pool: its reset
                    # (a round trip) is not the kiosks' to wait for.
                    self._answer(items, outcomes)
                return
            except RETRYABLE:
                if attempt == ATTEMPTS:
                    raise

    def _answer(
        self, items: list[tuple[Job, asyncio.Future[Outcome]]], outcomes: list[Outcome]
    ) -> None:
        for (job, future), outcome in zip(items, outcomes, strict=True):
            if not isinstance(outcome, Problem):  # answered: the kiosk was in contact
                self.contacts.heard(job.kiosk.token_id, job.received_at)
            _settle(future, outcome)

    async def _touch(self, token_ids: set[int]) -> None:
        due = self.liveness.due(token_ids)
        if not due:
            return
        try:
            async with self.pool.acquire() as conn:
                await q.touch_kiosks(conn, due)
        except (OSError, asyncpg.PostgresError) as exc:
            # Liveness is best effort: the scans are committed, the next one tries again.
            log.warning("kiosk liveness not recorded", extra={"error": repr(exc)})
            for t in due:
                self.liveness.forget(t)

    async def _keep_contacts(self) -> None:
        while True:
            await asyncio.sleep(WRITE_EVERY)
            await self.write_contacts()

    async def write_contacts(self) -> None:
        """Write the kiosks' contact spells that grew (a failure keeps them for the next)."""
        now = datetime.now(UTC)
        self.clocks.forget_stale(now)
        try:
            async with self.pool.acquire() as conn:
                await self.contacts.write(conn, now)
        except Exception as exc:  # best effort, like liveness: the next write tries again
            log.warning("kiosk contact not recorded", extra={"error": repr(exc)})


def _settle(future: asyncio.Future[Outcome], outcome: Outcome | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
