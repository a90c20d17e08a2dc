"""Where CPU work runs off the event loop: infrastructure, like the database pool.

- the default executor: QR codes, passes, small badge sheets (short jobs);
- `RenderPool`: one process for big badge PDFs;
- `ImportPool`: threads of their own, and a bounded number of processes, for reading and
  checking uploaded files, so an import (however big or hostile) never makes a QR code or
  a badge sheet wait for a free worker.

Every process started here exits when its parent dies (a kill -9 of the service must not
leave a worker, and through it the multiprocessing resource tracker, running).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Two import threads: one file being checked per core at most. More imports wait their
# turn in the queue instead of taking threads the rest of the service needs.
IMPORT_THREADS = 2
IMPORT_PROCESSES = 2


def _exit_with_parent(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)  # the parent is gone: nobody will read what we compute


def watch_parent(initializer: Callable[..., None] | None = None, *args: Any) -> None:
    """In a spawned worker: exit as soon as the parent process dies, then run `initializer`.

    A pool's worker otherwise waits for its next task forever (or finishes a long one)
    after a kill -9 of the service, keeping the resource tracker alive with it.
    """
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent.sentinel,), name="watch-parent", daemon=True
        ).start()
    if initializer is not None:
        initializer(*args)


def spawn_pool(
    initializer: Callable[..., None] | None = None, initargs: Sequence[Any] = ()
) -> ProcessPoolExecutor:
    """A one-process pool, spawned (not forked: this process has threads, and a lock held
    by one of them at fork time would hang the child), that dies with its parent."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=watch_parent,
        initargs=(initializer, *initargs),
    )


class RenderPool:
    """One process for big badge PDFs, started on first need: most workers never render one."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = spawn_pool()
        return self._pool

    @property
    def started(self) -> bool:
        return self._pool is not None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class ImportPool:
    """Threads and process slots for imports only.

    `run` reads in an import thread; a caller cancelled while waiting (the client went
    away) sets `stop`, which the file readers check as they go, so the thread is freed
    within a few thousand rows rather than at the end of the file.
    """

    def __init__(self, threads: int = IMPORT_THREADS, processes: int = IMPORT_PROCESSES) -> None:
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="diemcau-import")
        self._processes = processes
        self._slots: asyncio.Semaphore | None = None

    async def run(self, stop: threading.Event, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, func, *args)
        except asyncio.CancelledError:
            stop.set()
            raise

    def slots(self) -> asyncio.Semaphore:
        """At most IMPORT_PROCESSES files are checked in processes at once."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._processes)
        return self._slots

    def shutdown(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
