"""Roster import: a CSV or XLSX file in; every row checked; all rows saved or none.

The path is built for 2,500,000 rows, in four rooms: the file is read by `tabular` (the
one way files come in, within its limits); `checking` checks rows into COPY records;
`worker` runs the checking in an import thread, or a process of its own for a big file,
a chunk at a time while the event loop writes the previous chunk; `writing` puts them in
the database and runs the checks that need the whole file.

Any bad row: nothing is written and every bad row is reported (row, field, message).
Re-importing updates by external_id; a delegate moved to another site gets a new
credential version. A new delegate whose all-digit id is an existing one's but for
leading zeros is a bad row (a spreadsheet dropped the zeros); one with the same name and
site as an existing delegate, or as an earlier row, is a warning in the answer
(`warnings`, `warning_count`), beside what reading the file noted (tabular.cells: ids
stored as numbers, listing columns skipped).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from diemcau import audit, tabular
from diemcau.auth import Principal
from diemcau.conferences import ensure_writable, reload
from diemcau.errors import Msg, Problem
from diemcau.executors import ImportPool
from diemcau.queries import roster as q
from diemcau.roster import namesakes, writing
from diemcau.roster.checking import Checker, Maps
from diemcau.roster.worker import (
    COLUMNS,
    REQUIRED,
    REQUIRED_AGAIN,
    WRITTEN_ONLY,
    checking_for,
    roster_records,
    seen_names,
)
from diemcau.roster.writing import Found, Progress
from diemcau.tabular import MAX_ERRORS, Sheet, import_failed, row_error
from diemcau.tabular.cells import Found as Sink

__all__ = ["COLUMNS", "REQUIRED", "Progress", "import_roster", "load_maps"]


async def load_maps(
    conn: asyncpg.Connection, conference_id: int, principal: Principal | None = None
) -> Maps:
    """The site and unit codes a roster's rows are checked against; the units outside a
    scoped organiser's subtree apart, to be refused by name."""
    rows = await conn.fetch(q.FETCH_SITE_MAP, conference_id)
    units = await conn.fetch(q.FETCH_UNIT_MAP)
    ours = [r for r in units if principal is None or principal.covers_unit_path(r["path"])]
    return Maps(
        sites={r["code"]: r["id"] for r in rows if r["taking_part"]},
        site_units={r["id"]: r["unit_id"] for r in rows if r["taking_part"]},
        known_sites=frozenset(r["code"] for r in rows),
        units={r["code"]: r["id"] for r in ours},
        foreign_units=frozenset(r["code"] for r in units) - {r["code"] for r in ours},
    )


async def import_roster(
    conn: asyncpg.Connection,
    principal: Principal,
    conference: Any,
    sheet: Sheet,
    progress: Progress | None = None,
    imports: ImportPool | None = None,
) -> dict[str, Any]:
    """Import a roster file: {imported, updated, unchanged, rows, warnings,
    warning_count}; 422 `import_failed`, 413 `payload_too_large`.

    `imports` is the service's import pool; the CLI, with none, gets one of its own.
    """
    report = progress or (lambda stage, done, total: None)
    if imports is not None:
        return await _import(conn, principal, conference, sheet, report, imports)
    own = ImportPool()
    try:
        return await _import(conn, principal, conference, sheet, report, own)
    finally:
        own.shutdown()


async def _import(
    conn: asyncpg.Connection,
    principal: Principal,
    conference: Any,
    sheet: Sheet,
    report: Progress,
    imports: ImportPool,
) -> dict[str, Any]:
    # Limits first, before the conference is locked: an oversized file fails in seconds.
    expected = await imports.run(sheet.stop, tabular.check_limits, sheet)
    conference_id = conference["id"]
    async with conn.transaction():
        locked = await reload(conn, conference_id, lock=True)
        ensure_writable(locked)
        await conn.execute("SET LOCAL work_mem = '256MB'")
        await conn.execute(q.CREATE_STAGING)
        fresh = not await conn.fetchval(q.HAS_DELEGATES, conference_id)
        maps = await load_maps(conn, conference_id, principal)
        own = conference_id if fresh else None
        checker = Checker(maps, own, names=seen_names(own, sheet.path))
        async with checking_for(checker, sheet, imports) as checking:
            written, repeated_id = await writing.stage(conn, checking, report, expected)
        if fresh:
            found = await _file_problems(conn, imports, sheet, checker, repeated_id)
        else:
            present = frozenset(
                await imports.run(
                    sheet.stop,
                    tabular.read_header,
                    sheet,
                    COLUMNS,
                    REQUIRED_AGAIN,
                    WRITTEN_ONLY,
                )
            )
            found = await _reimport_problems(conn, conference_id, present)
        _refuse_if_bad(checker, found)
        report("validated", checker.rows, checker.rows)
        if fresh:
            imported, updated = written, 0
            alike = await namesakes.in_new_roster(conn, conference_id, checker.maybe_namesakes)
        else:
            alike = await namesakes.in_reimport(conn, conference_id)
            imported, updated = await writing.write(conn, conference_id, present)
        result = {
            "imported": imported,
            "updated": updated,
            "unchanged": checker.rows - imported - updated,
            "rows": checker.rows,
        }
        await audit.record(conn, principal, "import", "delegates", locked["code"], after=result)
    report("written", checker.rows, checker.rows)
    warnings = sorted(checker.warnings + alike[0], key=lambda w: (w["row"], w["field"]))
    count = checker.warning_count + alike[1]
    return result | {"warnings": warnings[:MAX_ERRORS], "warning_count": count}


def _refuse_if_bad(checker: Checker, found: Found) -> None:
    """422 with every bad row, the checker's and the set-based checks' together."""
    if checker.error_count or found[1]:
        errors = sorted(checker.errors + found[0], key=lambda e: (e["row"], e["field"]))
        raise import_failed(errors[:MAX_ERRORS], checker.error_count + found[1])
    if checker.rows == 0:
        raise import_failed([row_error(1, "", Msg("Tệp không có dòng dữ liệu", "no rows"))])


async def _file_problems(
    conn: asyncpg.Connection,
    imports: ImportPool,
    sheet: Sheet,
    checker: Checker,
    repeated_id: bool,
) -> Found:
    """A new roster's repeated ids and ids equal but for leading zeros, by row.

    Its chunks went straight into `delegates`; when something is wrong there (a bad row
    stopped the writing, a repeated id, two ids equal but for leading zeros) the file's
    ids are read again into `roster_staging`, and the problems found there by row.
    """
    conference_id = checker.conference_id
    zeros = checker.zero_led and await conn.fetchval(q.HAS_ZEROS, conference_id)
    if not (checker.error_count or repeated_id or zeros):
        return [], 0
    await writing.stage_ids(conn, imports, sheet, roster_records(sheet, Sink()))
    repeats, repeated = await writing.repeated_ids(conn)
    zero_errors, zero_count = await writing.zeros_in_file(conn, "roster_staging")
    if not (checker.error_count or repeated or zero_count):
        # Roster writes hold the conference's lock, so this is not expected; but never
        # report success on a partial write.
        raise Problem(
            "conflict",
            Msg(
                "Danh sách đã thay đổi trong khi nhập; hãy nhập lại",
                "the roster changed during the import; import again",
            ),
        )
    return repeats + zero_errors, repeated + zero_count


async def _reimport_problems(
    conn: asyncpg.Connection, conference_id: int, present: frozenset[str]
) -> Found:
    """A re-imported file's repeated ids, the new rows whose all-digit id is another's
    (in the roster, or earlier in the file) but for leading zeros, and, in a file
    without categories, the new rows (nothing says what they are)."""
    repeats, repeated = await writing.repeated_ids(conn)
    await conn.execute(q.CREATE_NEW_ROWS, conference_id)
    await conn.execute("ANALYZE roster_new")
    found = [
        await writing.zeros_in_roster(conn, conference_id),
        await writing.zeros_in_file(conn, "roster_new"),
    ]
    if "category" not in present:
        found.append(await writing.new_without_category(conn))
    return repeats + [e for f in found for e in f[0]], repeated + sum(f[1] for f in found)
