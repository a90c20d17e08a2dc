"""One dashboard connection: what it has been sent, what it still owes, and its sender.

The hub offers every watcher of a scope the same delta, made once (`offer`). A watcher
that is free and has not sent for `min_interval` takes it as it is; one still sending, or
that sent less than `min_interval` ago, merges the change into what it owes (a set of
ids, bounded by the scope's size: never a queue of messages) and later sends one delta
for all of it, built from the view's entries of that moment. So a slow client gets fewer,
larger deltas, and costs the others nothing: its sender waits alone.

A message is sent once the client's connection has taken it but for BACKLOG bytes; a
client that takes nothing for `slow_after` seconds (it stopped reading, and the socket's
bounded buffers are full) is dropped (close code 4408). A slow line that keeps taking
is not. When there is
nothing to send for `heartbeat_every`, a heartbeat goes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import orjson

from diemcau.live.scopes import Change, Scope, delta_message, snapshot_message

if TYPE_CHECKING:
    from diemcau.live.hub import Live

log = logging.getLogger("diemcau.live")

TOO_SLOW = 4408  # application close code: the client stopped reading
REVOKED = 4401  # the token behind the connection was revoked
# What may wait in the service's own buffer for one client once a message is "sent";
# beyond it the sender waits for the client (and the kernel's buffer, SO_SNDBUF, bounds
# the rest).
BACKLOG = 64 * 1024


@dataclass(frozen=True)
class LiveSettings:
    """The board's timings; tests shorten them, the defaults are DESIGN's."""

    min_interval: float = 0.25  # at most one delta per client per this many seconds
    heartbeat_every: float = 15.0  # a heartbeat after this long with nothing sent
    slow_after: float = 30.0  # a send stuck this long drops the client
    sweep_every: float = 5.0  # kiosks, links, roster, records looked at this often
    poll_every: float = 1.0  # the counters read this often (NOTIFY wakes sooner)
    idle_keep: float = 60.0  # a view nobody watches is kept this long
    send_buffer: int = 256 * 1024  # SO_SNDBUF of a dashboard's socket
    revoke_every: float = 30.0  # watchers' tokens checked for revocation this often
    behind_after: float = 5.0  # unconfirmed against the database this long: "behind"


class Sink(Protocol):
    """Where a watcher's messages go (the websocket, seen from the domain)."""

    async def send(self, message: bytes) -> None: ...

    def backlog(self) -> int:
        """Bytes written but not yet taken by the client's connection."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


class Watcher:
    def __init__(
        self, live: Live, scope: Scope, sink: Sink, token_id: int | None, settings: LiveSettings
    ) -> None:
        self.live = live
        self.scope = scope
        self.sink = sink
        self.token_id = token_id
        self.settings = settings
        self.owed = Change()  # what it must still send, beyond `ready`
        self.ready: tuple[bytes, Change, int] | None = None  # a delta made for its scope
        self.seq = 0  # the client holds every change up to this one (never goes back)
        self.snapshot_owed = False
        self.sending = False
        self.last_sent = 0.0
        self.wake = asyncio.Event()
        self.closed = False
        self.dropped: str | None = None

    def offer(self, change: Change, make: Callable[[], bytes], seq: int) -> None:
        """The scope's next delta, at `seq` (`make` builds it once for every free
        watcher)."""
        free = not self.sending and not self.owed and self.ready is None
        fresh = seq >= self.seq  # not older than what this client was already sent
        if free and fresh and time.monotonic() - self.last_sent >= self.settings.min_interval:
            self.ready = (make(), change, seq)
        else:
            self.owed.merge(change)
        self.wake.set()

    def start_over(self) -> None:
        """The next message is a fresh snapshot (the board was reshaped or rebuilt)."""
        self.snapshot_owed = True
        self.owed, self.ready = Change(), None
        self.wake.set()

    async def run(self, first: bytes) -> None:
        """Send `first` (a snapshot or a resuming delta), then whatever comes, until the
        connection ends or is dropped."""
        try:
            await self._send(first)
            while not self.closed:
                await self._next()
        except _Dropped:
            pass
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        finally:
            self.closed = True

    async def _next(self) -> None:
        since = time.monotonic() - self.last_sent
        try:
            await asyncio.wait_for(
                self.wake.wait(), max(0.0, self.settings.heartbeat_every - since)
            )
        except TimeoutError:
            await self._send(self.live.heartbeat(self.seq))
            return
        if self.closed:
            return
        wait = self.last_sent + self.settings.min_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.wake.clear()
        message = self._take()
        if message is not None:
            await self._send(message)

    def _take(self) -> bytes | None:
        """The message to send now, if any: a snapshot owed, the shared delta, or one
        made for what this watcher owes (with the shared one folded in)."""
        view = self.live.view
        if self.snapshot_owed:
            self.snapshot_owed = False
            self.seq = view.seq
            return snapshot_message(view, self.scope.members(view))
        ready, self.ready = self.ready, None
        if ready is not None and not self.owed:
            self.seq = ready[2]
            return ready[0]
        if ready is not None:
            self.owed.merge(ready[1])
        if not self.owed:
            return None
        owed, self.owed = self.owed, Change()
        self.seq = max(self.seq, self.live.flushed_seq)
        return delta_message(view, self.scope, owed, self.seq)

    async def _send(self, message: bytes) -> None:
        """Write the message, then wait while the client takes it: a client that takes
        nothing of it for `slow_after` seconds is dropped."""
        self.sending = True
        try:
            async with asyncio.timeout(self.settings.slow_after):
                await self.sink.send(message)
            await self._drained()
        except TimeoutError:
            await self.drop(TOO_SLOW, "too slow: not reading")
            raise _Dropped from None
        finally:
            self.sending = False
        self.last_sent = time.monotonic()

    async def _drained(self) -> None:
        """Until at most BACKLOG bytes wait in the service's buffer; TimeoutError when
        none of it moved for `slow_after` seconds (a slow line still makes progress)."""
        left, moved, step = self.sink.backlog(), time.monotonic(), 0.005
        while left > BACKLOG:
            await asyncio.sleep(step)
            step = min(step * 2, 0.1)
            now = self.sink.backlog()
            if now < left:
                left, moved = now, time.monotonic()
            elif time.monotonic() - moved > self.settings.slow_after:
                raise TimeoutError

    async def drop(self, code: int, reason: str) -> None:
        """End the connection from the service's side."""
        if self.dropped is None:
            self.dropped = reason
            log.info("dashboard dropped", extra={"reason": reason, "code": code})
        self.closed = True
        self.wake.set()
        await self.sink.close(code, reason)


class _Dropped(Exception):
    pass


def heartbeat(seq: int, behind: bool) -> bytes:
    return orjson.dumps(
        {"type": "heartbeat", "seq": seq, "server_time": datetime.now(UTC), "behind": behind}
    )
