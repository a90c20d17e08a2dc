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

from diemcau.executors import ImportPool, spawn_pool
from diemcau.roster.checking import Checker, Maps
from diemcau.roster.namesakes import SeenNames
from diemcau.tabular import Sheet, Sink, Table

COLUMNS = ("external_id", "full_name", "category", "site_code", "unit_code", "phone", "email")
REQUIRED = ("external_id", "full_name", "category", "site_code")
# A re-import may leave the category out, as `diemcau codes` writes no category: the
# stored one is kept (a new delegate in such a file is refused).
REQUIRED_AGAIN = ("external_id", "full_name", "site_code")
# Columns the service's own listings write (`roster list`, `roster show`, `codes`) that
# an import does not take: skipped with one note, so such a file reads back unchanged.
WRITTEN_ONLY = ("id", "credential_version", "revoked", "code")
# A file this big is checked in a process of its own (about 50,000 rows of CSV); a
# smaller one in a thread, sparing the process start (about half a second).
PROCESS_BYTES = 4 << 20


def roster_records(sheet: Sheet, sink: Sink) -> Generator[tuple[int, Sequence[str]]]:
    """(row number, cells in COLUMNS order) of a roster file, what reading finds told to
    `sink`; a Checker also learns whether the file has categories."""
    fresh = isinstance(sink, Checker) and sink.conference_id is not None
    with Table(sheet, COLUMNS, REQUIRED if fresh else REQUIRED_AGAIN, sink, WRITTEN_ONLY) as table:
        if isinstance(sink, Checker):
            sink.categories = "category" in table.present
        yield from table.records()


class Checking:
    """Hands out checked chunks of a file, checked in an import thread.

    `checker` holds the counts and errors so far. The file is read in the thread too, so
    the event loop only waits for bytes.
    """

    def __init__(self, checker: Checker, sheet: Sheet, imports: ImportPool) -> None:
        self.checker = checker
        self._sheet = sheet
        self._imports = imports
        self._rows = roster_records(sheet, checker)

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
        checker = self.checker
        known = (len(checker.errors), len(checker.warnings), len(checker.maybe_namesakes))
        records, counts, found = await loop.run_in_executor(self._pool, _check_next, known)
        checker.rows, checker.error_count, checker.warning_count, checker.zero_led = counts
        checker.errors.extend(found[0])
        checker.warnings.extend(found[1])
        checker.maybe_namesakes.extend(found[2])
        return records

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_WORK: tuple[Checker, Iterator[tuple[int, Sequence[str]]]] | None = None


def _start_checking(maps: Maps, conference_id: int | None, path: str, kind: str) -> None:
    """In the checking process: open the file once."""
    global _WORK
    checker = Checker(maps, conference_id, names=seen_names(conference_id, Path(path)))
    _WORK = (checker, roster_records(Sheet(Path(path), kind), checker))


def seen_names(conference_id: int | None, path: Path) -> SeenNames | None:
    """What a new roster (`conference_id` set) remembers of its rows' names."""
    return SeenNames(path.stat().st_size) if conference_id is not None else None


def _check_next(known: tuple[int, int, int]) -> tuple[bytes | None, tuple[int, ...], tuple]:
    """In the checking process: the next chunk, the counts, and what was found after the
    `known` errors, warnings and possible namesakes."""
    assert _WORK is not None
    checker, rows = _WORK
    records = checker.chunk(rows)
    counts = (checker.rows, checker.error_count, checker.warning_count, checker.zero_led)
    found = (
        checker.errors[known[0] :],
        checker.warnings[known[1] :],
        checker.maybe_namesakes[known[2] :],
    )
    return records, counts, found


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
