"""Keeping the embedded PostgreSQL up: a thread in every long-running diemcau process
(`serve`) that uses it.

Once a second, under the data dir's lock, the watch looks at the state and the server:

- the owner gone (killed) and this process a user: this process becomes the owner, and
  says so;
- this process the owner and the server gone (killed, crashed, an immediate shutdown):
  it starts it again. PostgreSQL runs crash recovery first (replaying the WAL since the
  last checkpoint), during which requests answer 503 as they do while it is down. If the
  server does not come up (the log's last lines say why), the next try comes after 1 s,
  2 s, 4 s ... up to 30 s, for as long as the process runs; the log names the command to
  start it by hand.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
import time
from typing import TYPE_CHECKING

from diemcau.embedded.server import EmbeddedError, Postmaster, socket_dir

if TYPE_CHECKING:
    from diemcau.embedded import EmbeddedPostgres, State

log = logging.getLogger("diemcau.embedded")

TICK_S = 1.0
BUSY_TICK_S = 0.2  # while the server is down or recovering: notice at once when it is back
MAX_DELAY_S = 30.0
LAUNCH_GRACE_S = 5.0  # a server just launched may not have written postmaster.pid yet


class Watch(threading.Thread):
    def __init__(self, embedded: EmbeddedPostgres) -> None:
        super().__init__(name="embedded-postgresql-watch", daemon=True)
        self.embedded = embedded
        self._stopped = threading.Event()
        self._down_since: float | None = None  # when this owner found the server gone
        self._next_try = 0.0
        self._delay = 1.0
        self._launched: float | None = None  # when the start under way was launched

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join()

    def run(self) -> None:
        while not self._stopped.wait(TICK_S if self._down_since is None else BUSY_TICK_S):
            try:
                with self.embedded.locked() as state:
                    self.tick(state)
            except Exception:  # never let the watch die: the next tick tries again
                log.exception("embedded postgresql watch failed")

    def tick(self, state: State) -> None:
        me = os.getpid()
        if me not in state.users:
            return
        if state.owner is None:
            log.warning(
                "the process that owned the embedded postgresql is gone; "
                "this one starts it again if it stops",
                extra={"pid": me},
            )
            state.owner = me
        if state.owner != me:
            return
        running = Postmaster.read(self.embedded.pgdata)
        if running is None:
            self._restart(state)
        elif self._down_since is not None:
            self._coming_back(state, running)

    def _restart(self, state: State) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.error(
                "embedded postgresql stopped; starting it again",
                extra={"pgdata": str(self.embedded.pgdata), "last_pid": state.postmaster},
            )
        elif self._launched is not None:
            if now - self._launched < LAUNCH_GRACE_S:
                return
            self._launched = None
            log.error(
                "embedded postgresql did not come back; trying again",
                extra={
                    "in_s": self._delay,
                    "log_tail": self._log_tail(),
                    "by_hand": self._by_hand(),
                },
            )
            self._next_try = now + self._delay
            self._delay = min(self._delay * 2, MAX_DELAY_S)
        if now < self._next_try:
            return
        try:
            self.embedded.binaries.start(self.embedded.pgdata, wait=False)
            self._launched = now
        except EmbeddedError as exc:
            log.error(
                "embedded postgresql could not be started",
                extra={"error": str(exc), "in_s": self._delay, "by_hand": self._by_hand()},
            )
            self._next_try = now + self._delay
            self._delay = min(self._delay * 2, MAX_DELAY_S)

    def _coming_back(self, state: State, running: Postmaster) -> None:
        state.postmaster = running.pid  # diemcau started this one
        if running.status != "ready":
            return  # crash recovery is running
        assert self._down_since is not None
        log.warning(
            "embedded postgresql is back",
            extra={"pid": running.pid, "down_s": round(time.monotonic() - self._down_since, 1)},
        )
        self._down_since, self._launched, self._delay, self._next_try = None, None, 1.0, 0.0

    def _log_tail(self) -> str:
        try:
            lines = (self.embedded.pgdata / "log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-5:])

    def _by_hand(self) -> str:
        pgdata, binaries = self.embedded.pgdata, self.embedded.binaries
        sockets = socket_dir(pgdata, binaries.user)
        line = binaries.command(
            "pg_ctl",
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "log"),
            "-o",
            f"-h '' -k {sockets}",
            "start",
        )
        return shlex.join(line)
