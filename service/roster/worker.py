"""Where a roster's rows are checked: an import thread, or a process of its own.

Either hands out checked chunks one at a time, so the event loop writes one chunk while
the next is checked, and stopping between two chunks is always possible: a cancelled
import (its client went away) stops within a chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from diemcau.executors import ImportPool, spawn_pool
from diemcau.roster.checking import Checker, Maps
from diemcau.tabular import Sheet, read_records

COLUMNS = ("external_id", "full_name", "category", "site_code", "unit_code", "phone", "email")
REQUIRED = ("external_id", "full_name", "category", "site_code")
# A file this big is checked in a process of its own (about 50,000 rows of CSV); a
# smaller one in a thread, sparing the process start (about half a second).
PROCESS_BYTES = 4 << 20


def roster_records(sheet: Sheet) -> Generator[tuple[int, Sequence[str]]]:
    """(row number, cells in COLUMNS order) of a roster file."""
    return read_records(sheet, COLUMNS, REQUIRED)


class Checking:
    """Hands out checked chunks of a file, checked in an import thread.

    `checker` holds the counts and errors so far. The file is read in the thread too, so
    the event loop only waits for bytes.
    """

    def __init__(self, checker: Checker, sheet: Sheet, imports: ImportPool) -> None:
        self.checker = checker
        self._sheet = sheet
        self._imports = imports
        self._rows = roster_records(sheet)

    async def next(self) -> bytes | None:
        """The next chunk's COPY records, None at the end of the file."""
        return await self._imports.run(self._sheet.stop, self.checker.chunk, self._rows)

    def close(self) -> None:
        self._rows.close()


class ProcessChecking(Checking):
    """The same, in a process of its own: a big file's checking then takes no GIL from
    the event loop, which would otherwise wait up to 5 ms for it each time it wakes to
    feed the server (a 2,500,000-row import measured 60 s in a thread, 48 s this way).
    The process exits with the service (executors.watch_parent)."""

    def __init__(self, checker: Checker, sheet: Sheet) -> None:
        self.checker = checker
        self._pool = spawn_pool(
            _start_checking,
            (checker.maps, checker.conference_id, str(sheet.path), sheet.kind),
        )

    async def next(self) -> bytes | None:
        loop = asyncio.get_running_loop()
        known = len(self.checker.errors)
        records, rows, count, zeros, errors = await loop.run_in_executor(
            self._pool, _check_next, known
        )
        self.checker.rows, self.checker.error_count, self.checker.zero_led = rows, count, zeros
        self.checker.errors.extend(errors)
        return records

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_WORK: tuple[Checker, Iterator[tuple[int, Sequence[str]]]] | None = None


def _start_checking(maps: Maps, conference_id: int | None, path: str, kind: str) -> None:
    """In the checking process: open the file once."""
    global _WORK
    _WORK = (Checker(maps, conference_id), roster_records(Sheet(Path(path), kind)))


def _check_next(known: int) -> tuple[bytes | None, int, int, int, list[dict[str, Any]]]:
    """In the checking process: the next chunk, the counts, the errors after `known`."""
    assert _WORK is not None
    checker, rows = _WORK
    records = checker.chunk(rows)
    return records, checker.rows, checker.error_count, checker.zero_led, checker.errors[known:]


@asynccontextmanager
async def checking_for(
    checker: Checker, sheet: Sheet, imports: ImportPool
) -> AsyncIterator[Checking]:
    """A thread's checking for a small file; a process's for a big one, once one of the
    import pool's process slots is free (imports never run more processes than that)."""
    if sheet.path.stat().st_size < PROCESS_BYTES:
        checking = Checking(checker, sheet, imports)
        try:
            yield checking
        finally:
            checking.close()
        return
    async with imports.slots():
        process = ProcessChecking(checker, sheet)
        try:
            yield process
        finally:
            process.close()
