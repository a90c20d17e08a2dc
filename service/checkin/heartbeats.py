"""Kiosk websocket heartbeats written together, as check-ins are (group commit).

10,000 kiosks beating every 20 s are 500 heartbeats a second. Written one by one, each
took a pooled connection for two statements, and the check-in batches queued behind
hundreds of them for a connection (scans answered seconds late, at a fraction of a core).
Here the heartbeats that arrive while one write is in flight wait for the next, which
records them all in one statement and tells each kiosk whether its token was revoked.
"""

from __future__ import annotations

import asyncio

import asyncpg

from diemcau.queries import kiosks as q

Waiting = dict[int, tuple[int | None, "asyncio.Future[bool]"]]


class Heartbeats:
    """The heartbeats waiting to be written, and the task writing them."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._waiting: Waiting = {}  # token id -> (queue length, its answer)
        self._writer: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return bool(self._waiting) or self._writer is not None

    async def record(self, token_id: int, queue_length: int | None) -> bool:
        """Once written, whether the kiosk's token is revoked (then nothing is written)."""
        loop = asyncio.get_running_loop()
        known = self._waiting.get(token_id)
        answer = known[1] if known else loop.create_future()
        self._waiting[token_id] = (queue_length, answer)  # two beats at once: the later
        if self._writer is None:
            self._writer = loop.create_task(self._write_all())
        return await asyncio.shield(answer)

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, {}
                await self._write(taken)
        finally:
            self._writer = None

    async def _write(self, taken: Waiting) -> None:
        ids = sorted(taken)
        try:
            async with self.pool.acquire() as conn:
                revoked = await q.beat_kiosks(conn, ids, [taken[t][0] for t in ids])
        except Exception as exc:  # each waiting heartbeat answers it (service_unavailable)
            for _, answer in taken.values():
                if not answer.done():
                    answer.set_exception(exc)
            return
        for token_id, (_, answer) in taken.items():
            if not answer.done():
                answer.set_result(token_id in revoked)
