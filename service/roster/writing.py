"""A roster's checked rows into the database, and the checks that need all of them.

A conference with no delegates yet gets each clean chunk copied straight into
`delegates` (the unique index catches an external_id the file repeats; a later bad row
still rolls it all back). A roster being re-imported is copied into a temporary staging
table instead, checked set-based (repeated ids, ids that differ only by leading zeros,
namesakes: namesakes.py), and written with one UPDATE and one INSERT ... SELECT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import asyncpg

from diemcau import text
from diemcau.delegates import MAX_EXTERNAL_ID
from diemcau.errors import Msg
from diemcau.executors import ImportPool
from diemcau.queries import roster as q
from diemcau.roster import checking
from diemcau.roster.checking import clean_id, copy_line
from diemcau.roster.worker import Checking
from diemcau.tabular import MAX_ERRORS, Sheet, row_error
from diemcau.tabular.cells import ZEROS_FIX

RECORD_COLUMNS = ("external_id", "full_name", "category", "site_id", "unit_id", "phone", "email")
STAGING_COLUMNS = ("row", *RECORD_COLUMNS)
FRESH_COLUMNS = ("conference_id", *RECORD_COLUMNS)  # straight into `delegates`

# stage ("parsed", "validated", "written"), rows done, rows expected (None if unknown)
Progress = Callable[[str, int, int | None], None]
Found = tuple[list[dict[str, Any]], int]  # the first MAX_ERRORS found, and how many in all


async def stage(
    conn: asyncpg.Connection, checking_: Checking, progress: Progress, expected: int | None
) -> tuple[int, bool]:
    """Check rows off the event loop while the loop writes the previous chunk.

    A fresh roster (`checker.conference_id` set) is copied into `delegates` chunk by chunk
    while the next chunk is checked, so the server's index work overlaps the Python work
    (one core each); after the first bad row or repeated external_id nothing more is
    written, as the import will fail. Otherwise each chunk goes to `roster_staging`.
    Answers (delegates written, whether a chunk repeated an external_id).
    """
    checker = checking_.checker
    fresh = checker.conference_id is not None
    pending = asyncio.ensure_future(checking_.next())
    written, repeated = 0, False
    try:
        while (records := await pending) is not None:
            clean = checker.error_count == 0  # counted up to this chunk, before the next
            pending = asyncio.ensure_future(checking_.next())
            if not fresh:
                await q.copy_records(conn, "roster_staging", STAGING_COLUMNS, records)
            elif clean and not repeated:
                done = await _copy_fresh(conn, records)
                repeated = done is None
                written += done or 0
            # A chunk comes back checked; on a new roster it is written too.
            progress("parsed", checker.rows, expected)
            progress("validated", checker.rows, expected)
            if written:
                progress("written", written, expected)
    finally:
        # Never leave the worker reading the file after a failure (or a cancellation):
        # wait for it and drop what it found, so no exception is left unretrieved.
        if not pending.done():
            await asyncio.wait([pending])
        if pending.done() and not pending.cancelled():
            pending.exception()
    return written, repeated


async def _copy_fresh(conn: asyncpg.Connection, records: bytes) -> int | None:
    """COPY one checked chunk into `delegates`: how many rows, or None on a repeated id.

    COPY rather than INSERT ... SELECT from a staging table: rows go in page by page
    without a second copy. A repeated external_id rolls back this chunk only (a
    savepoint); the caller then stops writing and reports the repeats.
    """
    try:
        async with conn.transaction():
            return await q.copy_records(conn, "delegates", FRESH_COLUMNS, records)
    except asyncpg.UniqueViolationError:
        return None


def stored_id(value: str) -> str | None:
    """An external_id as the checker stores it, or None where it refuses it."""
    value = clean_id(value)
    if text.unusual_character(value) is not None:
        try:
            value = text.required_text(value, MAX_EXTERNAL_ID)
        except ValueError:
            return None
    return value if value and len(value) <= MAX_EXTERNAL_ID else None


def _ids_chunk(rows: Iterator[tuple[int, Sequence[str]]]) -> bytes | None:
    """The next CHUNK_ROWS (row, external_id) records, ids as the checker stores them."""
    out = []
    for number, cells in rows:
        if cells and (ext := stored_id(cells[0])) is not None:
            out.append(copy_line((number, ext)))
        if len(out) >= checking.CHUNK_ROWS:
            break
    return "".join(out).encode() if out else None


async def stage_ids(
    conn: asyncpg.Connection, imports: ImportPool, sheet: Sheet, rows: Iterator
) -> None:
    """Read the file again for its external_ids only, into `roster_staging`.

    Only a new roster that failed, or holds ids with leading zeros, needs this: its
    chunks went straight into `delegates` (and are rolled back), so the file's own
    problems are found here instead, with their rows.
    """
    while (records := await imports.run(sheet.stop, _ids_chunk, rows)) is not None:
        await q.copy_records(conn, "roster_staging", ("row", "external_id"), records)


async def repeated_ids(conn: asyncpg.Connection) -> Found:
    """Rows whose external_id appeared on an earlier row of the same file."""
    await conn.execute(q.CREATE_REPEATS)
    total = await conn.fetchval(q.COUNT_REPEATS)
    if not total:
        return [], 0
    rows = await conn.fetch(q.FETCH_REPEATS, MAX_ERRORS)
    errors = [
        row_error(
            r["row"],
            "external_id",
            Msg(
                f"Mã {r['external_id']} trùng với dòng {r['first']}",
                f"{r['external_id']} repeats row {r['first']}",
            ),
        )
        for r in rows
    ]
    return errors, int(total)


def _found(rows: list[asyncpg.Record], field: str, message: Callable[[Any], Msg]) -> Found:
    """Row errors on `field` from a query's rows, and its `total` found; with any, the fix
    once for the file (cells.ZEROS_FIX, which the number-cell check may say too: the
    problem then lists it once)."""
    if not rows:
        return [], 0
    errors = [row_error(r["row"], field, message(r)) for r in rows]
    return [row_error(0, field, ZEROS_FIX), *errors], int(rows[0]["total"]) + 1


async def zeros_in_roster(conn: asyncpg.Connection, conference_id: int) -> Found:
    """New rows whose all-digit id is a delegate's already in the roster, leading zeros
    aside ('123' where '000123' is): the same person, not a new one."""
    rows = await conn.fetch(q.FETCH_ZEROS_IN_ROSTER, conference_id, MAX_ERRORS)
    return _found(
        rows,
        "external_id",
        lambda r: Msg(
            f"Mã {r['external_id']} trùng mã {r['existing']} của đại biểu "
            f"{r['existing_name']} đã có nếu bỏ các số 0 ở đầu",
            f"{r['external_id']} is {r['existing']} ({r['existing_name']}), already in "
            "the roster, once leading zeros are ignored",
        ),
    )


async def zeros_in_file(conn: asyncpg.Connection, table: str) -> Found:
    """Rows of the file whose all-digit id is an earlier row's, leading zeros aside."""
    assert table in ("roster_new", "roster_staging")
    rows = await conn.fetch(q.FETCH_ZEROS_IN_FILE.format(table=table), MAX_ERRORS)
    return _found(
        rows,
        "external_id",
        lambda r: Msg(
            f"Mã {r['external_id']} trùng mã {r['first_id']} ở dòng {r['first']} nếu bỏ "
            "các số 0 ở đầu",
            f"{r['external_id']} is {r['first_id']} of row {r['first']} once leading "
            "zeros are ignored",
        ),
    )


async def new_without_category(conn: asyncpg.Connection) -> Found:
    """New rows of a file without a category column: nothing says what they are."""
    rows = await conn.fetch(q.FETCH_NEW_WITHOUT_CATEGORY, MAX_ERRORS)
    return [row_error(r["row"], "category", _NEEDS_CATEGORY) for r in rows], (
        int(rows[0]["total"]) if rows else 0
    )


_NEEDS_CATEGORY = Msg(
    "Đại biểu mới cần có loại, mà tệp không có cột category",
    "a new delegate needs a category, and the file has no category column",
)


async def write(
    conn: asyncpg.Connection, conference_id: int, present: frozenset[str]
) -> tuple[int, int]:
    """Update the delegates already in the roster, insert the new ones: (imported, updated)."""
    # Separate statements rather than INSERT ... ON CONFLICT: that locks and rewrites every
    # existing row even when nothing changed (27 s for an unchanged 2,500,000-row file).
    flags = tuple(c in present for c in ("unit_code", "phone", "email", "category"))
    updated = q.count_of(await conn.execute(q.UPDATE_EXISTING, conference_id, *flags))
    imported = q.count_of(await conn.execute(q.INSERT_NEW, conference_id))
    return imported, updated
