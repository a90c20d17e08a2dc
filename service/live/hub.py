"""The worker's live hub: one view per conference being watched, kept at the database's
`seq`, and its watchers.

How a scan reaches a dashboard: check-in commits with the conference's next `seq` and a
NOTIFY carrying it (queries.checkins.add_tallies); this worker's listener
(diemcau.live.listener) pokes the conference's `Live`, which reads what changed since its
`seq` (one snapshot transaction, on the seq indexes) and applies it to its view; at most
every `min_interval` it flushes: each watched scope's share of the change becomes one
delta, offered to every watcher of that scope (diemcau.live.watcher). A safety poll of
the counters every `poll_every`, and a full catch-up whenever the listener reconnects,
cover notifications missed while the database or the connection was away.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time

import asyncpg

from diemcau.live.reading import catch_up, read_view
from diemcau.live.scopes import (
    Change,
    Scope,
    delta_message,
    resume,
    snapshot_body,
    snapshot_message,
    split,
)
from diemcau.live.sweep import sweep
from diemcau.live.view import View
from diemcau.live.watcher import REVOKED, LiveSettings, Sink, Watcher, heartbeat
from diemcau.queries import live as q

log = logging.getLogger("diemcau.live")


class Live:
    """One conference's board on this worker."""

    def __init__(self, hub: Hub, view: View) -> None:
        self.hub = hub
        self.view = view
        self.scopes: dict[int | None, Scope] = {}
        self.watchers: dict[int | None, set[Watcher]] = {}
        self.flushed_seq = view.seq
        self.last_flush = 0.0
        self.fresh_at = time.monotonic()  # when the view was last confirmed current
        self.idle_since = time.monotonic()
        self._flush: asyncio.TimerHandle | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._again = False
        self._lock = asyncio.Lock()  # one refresh at a time: views only move forward
        self._sweeping: asyncio.Task[None] | None = None
        self.swept_at = 0.0

    @property
    def conference_id(self) -> int:
        return self.view.conference_id

    def scope(self, unit_id: int | None) -> Scope:
        return self.scopes.setdefault(unit_id, Scope(unit_id))

    # --- watchers -------------------------------------------------------------------

    def watch(self, unit_id: int | None, sink: Sink, token_id: int | None) -> Watcher:
        watcher = Watcher(self, self.scope(unit_id), sink, token_id, self.hub.settings)
        self.watchers.setdefault(unit_id, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        mine = self.watchers.get(watcher.scope.unit_id)
        if mine is not None:
            mine.discard(watcher)
            if not mine:
                del self.watchers[watcher.scope.unit_id]
        if not self.watchers:
            self.idle_since = time.monotonic()

    def all_watchers(self) -> list[Watcher]:
        return [w for group in self.watchers.values() for w in group]

    async def first_message(self, watcher: Watcher, since: int | None) -> bytes:
        """A snapshot, or the delta that brings a client at `since` up to date (read
        after the view is brought to the database's `seq`, so nothing committed before
        the client came back is left for later)."""
        if since is not None:
            await self.refresh()
        scope = watcher.scope.members(self.view)
        seq = watcher.seq = self.view.seq
        if since is None or since > seq:
            return snapshot_message(self.view, scope)
        async with self.hub.pool.acquire() as conn, q.snapshot_transaction(conn):
            sites = await q.fetch_changed_site_ids(conn, self.conference_id, since, seq)
            units = await q.fetch_changed_unit_ids(conn, self.conference_id, since, seq)
        change = resume(self.view, scope, since, sites, units)
        if change is None:
            return snapshot_message(self.view, scope)
        return delta_message(self.view, scope, change, seq)

    def heartbeat(self, seq: int) -> bytes:
        behind = time.monotonic() - self.fresh_at > self.hub.settings.behind_after
        return heartbeat(max(seq, self.flushed_seq), behind)

    # --- following the database -----------------------------------------------------

    def poke(self) -> None:
        """Something changed: read it (once, however many pokes come meanwhile)."""
        if self._refresh is not None and not self._refresh.done():
            self._again = True
            return
        self._refresh = asyncio.get_running_loop().create_task(self._refreshing())

    async def _refreshing(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            try:
                await self.refresh()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live view not refreshed", extra={"error": repr(exc)})
                return

    async def refresh(self) -> None:
        """Bring the view to the database's `seq` now."""
        cid = self.conference_id
        async with self._lock, self.hub.pool.acquire() as conn, q.snapshot_transaction(conn):
            seq = await q.fetch_seq(conn, cid)
            if seq == self.view.seq:
                self.fresh_at = time.monotonic()
                return
            view = await catch_up(conn, self.view, seq)
        if view is not None:
            self._replace(view)
        self.fresh_at = time.monotonic()
        self.schedule_flush()

    def _replace(self, view: View) -> None:
        self.view = view
        self.scopes = {key: Scope(key) for key in self.scopes}
        self.flushed_seq = view.seq
        for watcher in self.all_watchers():
            watcher.scope = self.scopes[watcher.scope.unit_id]
            watcher.start_over()

    # --- handing out ----------------------------------------------------------------

    def schedule_flush(self) -> None:
        if self._flush is not None:
            return
        wait = max(0.0, self.last_flush + self.hub.settings.min_interval - time.monotonic())
        self._flush = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Offer each watched scope its share of what changed since the last flush."""
        self._flush = None
        self.last_flush = time.monotonic()
        dirty = self.view.take_dirty()
        self.flushed_seq = self.view.seq
        if not dirty:
            return
        if dirty.reshaped:
            for watcher in self.all_watchers():
                watcher.start_over()
            return
        for key, change in split(self.view, dirty, set(self.watchers)).items():
            if change:
                self._offer(key, change)

    def _offer(self, key: int | None, change: Change) -> None:
        made: list[bytes] = []
        scope = self.scope(key)

        def make() -> bytes:
            if not made:
                made.append(delta_message(self.view, scope, change, self.flushed_seq))
            return made[0]

        for watcher in list(self.watchers.get(key, ())):
            watcher.offer(change, make, self.flushed_seq)

    async def snapshot(self, unit_id: int | None, packed: bool = False) -> bytes:
        """The live view of a scope as of now (GET .../live): swept when due, then read
        up to the database's `seq`, so it shows every change committed before. `packed`:
        gzipped (in a thread, once per `seq`: 40,000 sites are 13 MB of JSON)."""
        await self.sweep_if_due()
        await self.refresh()
        view = self.view
        body = snapshot_body(view, self.scope(unit_id).members(view))
        if not packed:
            return body
        key = ("gzip", unit_id)
        found = view.cached(key)
        if found is None:
            seq = view.seq
            found = await asyncio.to_thread(gzip.compress, body, 1)
            if view is self.view and view.seq == seq:  # not moved on meanwhile
                view.remember(key, found)
        return found

    async def sweep_if_due(self) -> None:
        if time.monotonic() - self.swept_at < self.hub.settings.sweep_every:
            return
        self.swept_at = time.monotonic()
        async with self.hub.pool.acquire() as conn:
            await sweep(conn, self.conference_id, self.hub.settings.sweep_every)

    def sweep_soon(self) -> None:
        """Sweep in the background (one at a time), then read what it published."""
        if self._sweeping is not None and not self._sweeping.done():
            return

        async def run() -> None:
            try:
                await self.sweep_if_due()
                self.poke()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live sweep failed", extra={"error": repr(exc)})

        self._sweeping = asyncio.get_running_loop().create_task(run())

    async def close(self, code: int, reason: str) -> None:
        for watcher in self.all_watchers():
            await watcher.drop(code, reason)


class Hub:
    """Every `Live` of this worker, and the tasks that keep them current."""

    def __init__(self, pool: asyncpg.Pool, settings: LiveSettings | None = None) -> None:
        self.pool = pool
        self.settings = settings or LiveSettings()
        self.lives: dict[int, Live] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._revoked_at = time.monotonic()

    def start(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._keep()))

    async def close(self) -> None:
        """Stop every task, and wait for them: none may hold a connection past here."""
        tasks = list(self._tasks)
        for live in self.lives.values():
            tasks += [t for t in (live._refresh, live._sweeping) if t is not None]
            if live._flush is not None:
                live._flush.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def live(self, conference_id: int) -> Live:
        """The conference's board on this worker, read from the database the first time."""
        found = self.lives.get(conference_id)
        if found is not None:
            found.idle_since = time.monotonic()  # not dropped while its caller gets going
            return found
        async with self._loading.setdefault(conference_id, asyncio.Lock()):
            found = self.lives.get(conference_id)
            if found is None:
                async with self.pool.acquire() as conn:
                    await _first_sweep(conn, conference_id, self.settings.sweep_every)
                    async with q.snapshot_transaction(conn):
                        view = await read_view(conn, conference_id)
                found = self.lives[conference_id] = Live(self, view)
                found.swept_at = time.monotonic()
        return found

    def poke(self, conference_id: int) -> None:
        live = self.lives.get(conference_id)
        if live is not None:
            live.poke()

    def poke_all(self) -> None:
        """After a gap in the notifications (the listener reconnected): read everything."""
        for live in self.lives.values():
            live.poke()

    async def _keep(self) -> None:
        """Sweeps, the safety poll, idle views dropped, revoked tokens closed."""
        while True:
            await asyncio.sleep(self.settings.poll_every)
            try:
                await self._tick()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live housekeeping failed", extra={"error": repr(exc)})

    async def _tick(self) -> None:
        now = time.monotonic()
        for cid, live in list(self.lives.items()):
            if not live.watchers and now - live.idle_since > self.settings.idle_keep:
                del self.lives[cid]
            elif live.watchers:
                live.sweep_soon()
        if not self.lives:
            return
        async with self.pool.acquire() as conn:
            seqs = await q.fetch_seqs(conn, list(self.lives))
            if now - self._revoked_at > self.settings.revoke_every:
                self._revoked_at = now
                await self._close_revoked(conn)
        for cid, watched in list(self.lives.items()):
            if seqs.get(cid, 0) != watched.view.seq:
                watched.poke()
            else:
                watched.fresh_at = time.monotonic()

    async def _close_revoked(self, conn: asyncpg.Connection) -> None:
        watchers = [w for live in self.lives.values() for w in live.all_watchers()]
        tokens = sorted({w.token_id for w in watchers if w.token_id is not None})
        if not tokens:
            return
        revoked = set(await q.fetch_revoked(conn, tokens))
        for watcher in watchers:
            if watcher.token_id in revoked:
                await watcher.drop(REVOKED, "token revoked")


async def _first_sweep(conn: asyncpg.Connection, conference_id: int, every: float) -> None:
    """Publish the board before reading it. If another worker is sweeping it for the
    first time, wait for that one (an unpublished board has no sites yet)."""
    if await sweep(conn, conference_id, every):
        return
    row = await conn.fetchrow(
        "SELECT swept_at FROM live_sweeps WHERE conference_id = $1", conference_id
    )
    if row is None or row["swept_at"] is None:
        await sweep(conn, conference_id, every, wait=True)
