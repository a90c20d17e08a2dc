"""The private PostgreSQL under DIEMCAU_DATA_DIR, for users who have none.

Several diemcau processes on one data dir share one server. What they know of it lives
in `embedded.json` beside pgdata, read and written under a lock (`pgdata.lock`):

- `users`: the live diemcau processes using the server; a process killed with `kill -9`
  is pruned the next time anyone looks;
- `postmaster`: the server diemcau started (its pid): a server running in pgdata that is
  not this one was started by someone else (by hand with pg_ctl, say);
- `owner`: the process that starts the server again if it stops (diemcau/embedded/
  watch.py): the one that started it, or a user that took over when the owner was gone.

The last user to leave stops the server (a fast shutdown, which checkpoints), if diemcau
started it; a server started by someone else is left running, and said so.

The private server is tuned for bulk work (SETTINGS, in `diemcau.conf` included from
postgresql.conf); a server named by DATABASE_URL is never touched.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diemcau.embedded.server import (
    SETTINGS,
    SETTINGS_FILE,
    START_TIMEOUT_S,
    Binaries,
    EmbeddedError,
    Postmaster,
    pid_alive,
    write_settings,
)
from diemcau.embedded.watch import Watch
from diemcau.errors import Msg

__all__ = [
    "SETTINGS",
    "SETTINGS_FILE",
    "EmbeddedError",
    "EmbeddedPostgres",
    "Left",
    "State",
    "write_settings",
]

log = logging.getLogger("diemcau.embedded")


@dataclass
class State:
    """What the diemcau processes of one data dir know of its server (embedded.json)."""

    users: list[int] = field(default_factory=list)
    postmaster: int | None = None
    owner: int | None = None

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            raw: Any = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        listed = raw.get("users")
        listed = listed if isinstance(listed, list) else []
        users = [p for p in listed if isinstance(p, int) and pid_alive(p)]
        owner = raw.get("owner") if raw.get("owner") in users else None
        postmaster = raw.get("postmaster") if isinstance(raw.get("postmaster"), int) else None
        return cls(users, postmaster, owner)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"users": self.users, "postmaster": self.postmaster, "owner": self.owner})
        )
        tmp.replace(path)


@dataclass(frozen=True)
class Left:
    """How a process left the server: `stopped` it, left it to `others`, left alone one
    started `outside` diemcau, or found it `not_running`."""

    how: str
    pids: tuple[int, ...] = ()

    @property
    def message(self) -> Msg:
        pids = ", ".join(str(p) for p in self.pids)
        return {
            "stopped": Msg("đã dừng PostgreSQL đi kèm", "embedded PostgreSQL stopped"),
            "others": Msg(
                f"PostgreSQL đi kèm vẫn chạy cho tiến trình diemcau khác (pid {pids})",
                f"embedded PostgreSQL left running for other diemcau processes (pid {pids})",
            ),
            "outside": Msg(
                f"PostgreSQL đi kèm (pid {pids}) không do diemcau khởi động nên vẫn để chạy; "
                "hãy tự dừng nó bằng pg_ctl",
                f"embedded PostgreSQL (pid {pids}) was started outside diemcau and is left "
                "running; stop it yourself with pg_ctl",
            ),
            "not_running": Msg(
                "PostgreSQL đi kèm đã không còn chạy", "embedded PostgreSQL was not running"
            ),
        }[self.how]


class EmbeddedPostgres:
    """A handle on the data dir's PostgreSQL: `start()` joins or starts it, `watch()` keeps
    it up while this process runs, `stop()` leaves (and stops it when last)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.state_path = self.data_dir / "embedded.json"
        self._lock_path = self.data_dir / "pgdata.lock"
        self._binaries: Binaries | None = None
        self._joined = False
        self._watch: Watch | None = None

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = Binaries.find()
        return self._binaries

    @contextmanager
    def locked(self) -> Iterator[State]:
        """The state, under the data dir's lock; saved on the way out."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                state = State.load(self.state_path)
                yield state
                state.save(self.state_path)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def start(self) -> str:
        """Start (or join) the server and answer its DSN."""
        with self.locked() as state:
            self.binaries.prepare(self.pgdata)
            running = self._settle(state, write_settings(self.pgdata))
            if running is None:
                self.binaries.start(self.pgdata, wait=True)
                running = Postmaster.read(self.pgdata)
                if running is None:
                    raise _start_failed(self.pgdata)
                state.postmaster, state.owner = running.pid, os.getpid()
                log.info("embedded postgresql started", extra={"pid": running.pid})
            elif running.pid != state.postmaster:
                log.warning(
                    "embedded postgresql was started outside diemcau; using it as found",
                    extra={"pid": running.pid, "pgdata": str(self.pgdata)},
                )
            if state.owner is None:
                state.owner = os.getpid()  # it restarts the server if it stops
            state.users.append(os.getpid())
            self._joined = True
            ready = self._wait_ready(running)
        log.info("embedded postgresql ready", extra={"pgdata": str(self.pgdata)})
        return ready.dsn()

    def _settle(self, state: State, settings_changed: bool) -> Postmaster | None:
        """The running server, after a restart to take new settings when it is diemcau's
        and no one else uses it (always so right after initdb)."""
        running = Postmaster.read(self.pgdata)
        if running and settings_changed and not state.users and running.pid == state.postmaster:
            log.info("restarting the embedded postgresql with diemcau settings")
            self.binaries.stop(self.pgdata)
            return None
        return running

    def _wait_ready(self, running: Postmaster) -> Postmaster:
        """A server still starting (crash recovery) is waited for."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while running.status != "ready" and time.monotonic() < deadline:
            time.sleep(0.2)
            found = Postmaster.read(self.pgdata)
            if found is None:
                raise _start_failed(self.pgdata)
            running = found
        return running

    def watch(self) -> None:
        """Keep the server up while this process runs (a thread; `stop()` ends it)."""
        if self._watch is None:
            self._watch = Watch(self)
            self._watch.start()

    def stop(self) -> Left:
        """Leave the server; the last process to leave stops it, if diemcau started it."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if not self._joined:
            return Left("not_running")
        self._joined = False
        with self.locked() as state:
            me = os.getpid()
            state.users = [p for p in state.users if p != me]
            if state.owner == me:
                state.owner = None  # a remaining user takes over (its watch)
            running = Postmaster.read(self.pgdata)
            if state.users:
                return Left("others", tuple(state.users))
            if running is None:
                return Left("not_running")
            if running.pid != state.postmaster:
                return Left("outside", (running.pid,))
            self.binaries.stop(self.pgdata)
            state.postmaster = None
        log.info("embedded postgresql stopped")
        return Left("stopped")


def _start_failed(pgdata: Path) -> EmbeddedError:
    return EmbeddedError(
        Msg(
            f"PostgreSQL nhúng trong {pgdata} không khởi động được; xem {pgdata / 'log'}",
            f"the embedded PostgreSQL in {pgdata} did not start; see {pgdata / 'log'}",
        )
    )
