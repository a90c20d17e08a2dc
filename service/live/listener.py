"""The worker's ear on the database: one dedicated connection LISTENing on the board's
channel, outside the pool (a pooled connection is reset with UNLISTEN * when returned).

Check-in's last statement sends `NOTIFY diemcau_live, '<conference id> <seq>'` (one per
committed batch, delivered at commit, to every worker of every host on the database).
Each notification pokes that conference's view. The connection reconnects by itself
(backoff 0.5 s doubling to 10 s); every time it (re)connects, every view is read again
from its `seq`, since notifications sent while it was away are lost for good (a
PostgreSQL restart, a network cut).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from diemcau.db import connect

log = logging.getLogger("diemcau.live")

CHANNEL = "diemcau_live"


class Listener:
    def __init__(
        self, dsn: str, poke: Callable[[int], None], caught_up: Callable[[], None]
    ) -> None:
        self.dsn = dsn
        self.poke = poke
        self.caught_up = caught_up
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        conference, _, _ = payload.partition(" ")
        if conference.isdigit():
            self.poke(int(conference))

    async def _run(self) -> None:
        wait = 0.5
        while True:
            try:
                conn = await connect(self.dsn)
            except Exception as exc:  # the database is away: try again later
                log.warning("live listener cannot connect", extra={"error": repr(exc)})
                await asyncio.sleep(wait)
                wait = min(wait * 2, 10.0)
                continue
            wait = 0.5
            try:
                await self._listen(conn)
            finally:
                self.connected = False
                if not conn.is_closed():
                    conn.terminate()

    async def _listen(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANNEL, self._heard)
        self.connected = True
        self.caught_up()  # whatever was said while nobody listened is read from the database
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), timeout=5)
            except TimeoutError:
                # A connection cut without a FIN is seen only when used: ask it something.
                try:
                    await asyncio.wait_for(conn.execute("SELECT 1"), timeout=5)
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    return
        log.warning("live listener lost its connection; reconnecting")
