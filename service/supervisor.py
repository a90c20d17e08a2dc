"""`diemcau serve --workers N`: a master process keeps N worker processes alive.

A worker that dies (a crash, the OOM killer, a `kill -9`) is logged and started again:
at once after it served for a while (STABLE_AFTER seconds from its start), then with a
doubling delay (0.5 s up to 30 s) while it keeps dying before serving or young. When no worker is alive and each has failed
GIVE_UP_AFTER starts in a row, the master gives up and exits non-zero, so that whatever
runs it (systemd, a container runtime, a person) sees the service is down; a port with
nobody behind it would look alive to no one.

On SIGTERM or SIGINT the master stops restarting, sends each worker one SIGTERM (a
second one would cut its graceful shutdown short), waits for them, and exits 0. Workers
run in their own process group, so a Ctrl-C reaches the master alone and is passed on.

The master's view (workers configured, alive, that is started and serving, and restarts)
is written to a `Board` in shared memory that every worker maps, so whichever worker
answers `/metrics` or `/healthz` reports it.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

log = logging.getLogger("diemcau.supervisor")

STABLE_AFTER = 10.0  # seconds: a worker up this long had a good run; its streak restarts
FIRST_DELAY = 0.5
MAX_DELAY = 30.0
GIVE_UP_AFTER = 5  # failed starts in a row of every worker, with none alive
STOP_PATIENCE = 40.0  # seconds a worker has to stop after SIGTERM before it is killed


@dataclass(frozen=True)
class WorkerView:
    """What the master knows of its workers."""

    configured: int
    alive: int
    restarts: int
    master_pid: int


class Board:
    """The master's view in shared memory: the master writes it, and each worker writes
    one cell, its own slot's, to say it is serving (its pid, once its app has started).

    Shared memory rather than a file or a database row: the view belongs to one host's
    master, must be true when the database is down (when it matters most), needs no
    path to agree on or clean up, and cannot go stale on disk when the master is
    killed (each worker also checks that its master is still its parent).
    """

    _FIELDS = ("configured", "alive", "restarts", "master_pid")

    def __init__(self, ctx: SpawnContext, configured: int) -> None:
        self._values: Any = ctx.RawArray("q", len(self._FIELDS) + configured)
        self.publish(configured=configured, alive=0, restarts=0, master_pid=os.getpid())

    def publish(self, **values: int) -> None:
        for name, value in values.items():
            self._values[self._FIELDS.index(name)] = value

    def view(self) -> WorkerView:
        return WorkerView(*(int(v) for v in self._values[: len(self._FIELDS)]))

    def mark_serving(self, index: int, pid: int) -> None:
        self._values[len(self._FIELDS) + index] = pid

    def serving(self, index: int) -> int:
        """The pid of the last worker of this slot that started serving."""
        return int(self._values[len(self._FIELDS) + index])


@dataclass(frozen=True)
class Seat:
    """A worker's place: its number and its master's board (passed to the process)."""

    index: int
    board: Board

    def view(self) -> WorkerView:
        return self.board.view()

    def serving(self) -> None:
        """Tell the master this worker answers requests now."""
        self.board.mark_serving(self.index, os.getpid())


def workers_view(seat: Seat | None) -> WorkerView:
    """The master's view, or, for a process serving alone, itself."""
    if seat is None:
        return WorkerView(configured=1, alive=1, restarts=0, master_pid=os.getpid())
    return seat.view()


@dataclass
class _Slot:
    index: int
    process: SpawnProcess | None = None  # None once it died, until it is started again
    starts: int = 0
    started_at: float = 0.0
    failures: int = 0  # deaths in a row, each before serving or within STABLE_AFTER
    due: float | None = None  # when to start it again
    signalled: bool = False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def restart_delay(failures: int) -> float:
    """Seconds before the next start of a worker that died `failures` times in a row."""
    if failures <= 1:
        return 0.0
    return min(FIRST_DELAY * 2 ** (failures - 2), MAX_DELAY)


@dataclass
class Supervisor:
    """Runs `target(*args, seat)` in `count` processes and keeps them running."""

    ctx: SpawnContext
    target: Callable[..., None]
    args: tuple[Any, ...]
    count: int
    board: Board = field(init=False)
    restarts: int = 0
    stopping: bool = False

    def __post_init__(self) -> None:
        self.board = Board(self.ctx, self.count)
        self._slots = [_Slot(i) for i in range(self.count)]

    def run(self) -> int:
        """Until a signal (0) or until no worker can be kept alive (1)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for slot in self._slots:
            self._start(slot)
        while not self.stopping:
            self._reap()
            if self._hopeless():
                log.error("no worker stays alive; giving up", extra={"workers": self.count})
                self._stop_all()
                return 1
            self._start_due()
            self._publish()
            wait([p.sentinel for p in self._running()], timeout=self._next_wake())
        self._stop_all()
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            log.info("stopping workers", extra={"signal": signal.Signals(signum).name})
        self.stopping = True
        self._terminate_running()

    def _running(self) -> list[SpawnProcess]:
        return [s.process for s in self._slots if s.process is not None and s.process.is_alive()]

    def _serving(self) -> int:
        return sum(
            1
            for s in self._slots
            if s.process is not None
            and s.process.is_alive()
            and self.board.serving(s.index) == s.process.pid
        )

    def _start(self, slot: _Slot) -> None:
        process = self.ctx.Process(
            target=self.target,
            args=(*self.args, Seat(slot.index, self.board)),
            name=f"worker-{slot.index}",
        )
        process.start()
        slot.process, slot.started_at = process, time.monotonic()
        slot.due, slot.signalled = None, False
        slot.starts += 1
        if slot.starts > 1:
            self.restarts += 1
        log.info(
            "worker started",
            extra={"worker": slot.index, "pid": process.pid, "restart": slot.starts > 1},
        )

    def _reap(self) -> None:
        for slot in self._slots:
            process = slot.process
            if process is None or process.exitcode is None:
                continue
            uptime = time.monotonic() - slot.started_at
            served = self.board.serving(slot.index) == process.pid
            slot.failures = 1 if served and uptime >= STABLE_AFTER else slot.failures + 1
            delay = restart_delay(slot.failures)
            slot.due = time.monotonic() + delay
            code = process.exitcode
            log.warning(
                "worker died",
                extra={
                    "worker": slot.index,
                    "pid": process.pid,
                    "exit_code": code,
                    "signal": _signal_name(-code) if code < 0 else None,
                    "uptime_s": round(uptime, 1),
                    "served": served,
                    "deaths_in_a_row": slot.failures,
                    "restart_in_s": delay,
                },
            )
            slot.process = None
            process.close()

    def _hopeless(self) -> bool:
        return not self._running() and all(s.failures >= GIVE_UP_AFTER for s in self._slots)

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.due is not None and slot.due <= now and not self.stopping:
                self._start(slot)

    def _next_wake(self) -> float:
        """Sleep until a worker dies or a restart falls due; short, to see signals soon."""
        now = time.monotonic()
        due = [s.due - now for s in self._slots if s.due is not None]
        return max(0.0, min([0.25, *due]))

    def _publish(self) -> None:
        self.board.publish(alive=self._serving(), restarts=self.restarts)

    def _terminate_running(self) -> None:
        for slot in self._slots:
            process = slot.process
            if process is None or slot.signalled or not process.is_alive() or not process.pid:
                continue
            slot.signalled = True
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _stop_all(self) -> None:
        """SIGTERM once to each worker, wait, and kill what outlives STOP_PATIENCE."""
        self.stopping = True
        self._terminate_running()
        deadline = time.monotonic() + STOP_PATIENCE
        while self._running() and time.monotonic() < deadline:
            wait([p.sentinel for p in self._running()], timeout=0.25)
            self._terminate_running()  # one started just before the signal came
        for process in self._running():
            log.error("worker did not stop; killing it", extra={"pid": process.pid})
            process.kill()
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join()
        self.board.publish(alive=0)
