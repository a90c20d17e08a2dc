"""Absences imported from CSV or XLSX, the roster import's way: the file read by `tabular`
(its limits, its row numbers), every row checked, all rows saved or none, every bad row
reported as `{row, field, message}`.

Columns: `delegate_id` or `external_id` (one of them, or both when they agree),
`reason` (`sick`, `on_duty`, `travel`, `other`, or `ốm`, `công tác`, `đi xa`, `khác`),
`note`, `makeup_owed` (`true`/`false`, `1`/`0`, `có`/`không`, `x`, empty for no).
Rows are checked in an import thread (no database); then one transaction stages them by
COPY, finds each delegate and checks scope, check-ins and repeats set-based, and writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from diemcau import audit
from diemcau.auth import Principal
from diemcau.conferences import hold_writable
from diemcau.errors import Msg
from diemcau.queries import absences as q
from diemcau.queries.units import subtree_pattern
from diemcau.registry import free_text
from diemcau.search import fold
from diemcau.tabular import (
    MAX_REGISTRY_ROWS,
    Sheet,
    check_limits,
    import_failed,
    read_rows,
    row_error,
)
from diemcau.text import ascii_number

COLUMNS = ("delegate_id", "external_id", "reason", "note", "makeup_owed")
REQUIRED = ("reason",)
REASON_WORDS = {
    "sick": "sick",
    "om": "sick",
    "om dau": "sick",
    "benh": "sick",
    "on_duty": "on_duty",
    "on duty": "on_duty",
    "cong tac": "on_duty",
    "di cong tac": "on_duty",
    "ban cong tac": "on_duty",
    "travel": "travel",
    "di xa": "travel",
    "vang nha": "travel",
    "other": "other",
    "khac": "other",
    "ly do khac": "other",
}
YES = {"true", "1", "yes", "y", "x", "co", "có"}
NO = {"", "false", "0", "no", "n", "khong", "không"}
BAD_REASON = Msg(
    "Lý do phải là ốm, công tác, đi xa hoặc khác (sick, on_duty, travel, other)",
    "reason must be sick, on_duty, travel or other (or ốm, công tác, đi xa, khác)",
)
_BAD_FLAG = Msg("Ghi có/không (true/false, 1/0, x)", "write true/false, 1/0 or x")
_WHO = Msg("Cần delegate_id hoặc external_id", "delegate_id or external_id is needed")
_NO_DELEGATE = Msg(
    "Không có đại biểu này trong phạm vi của bạn", "no such delegate within your scope"
)


@dataclass
class Parsed:
    records: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    sha256: str = ""


def reason_of(value: str) -> str | None:
    """The canonical reason for a word people write (any case, accents or not)."""
    return REASON_WORDS.get(" ".join(fold(value).replace("_", " ").split())) or REASON_WORDS.get(
        value
    )


def _flag(value: str) -> bool | None:
    word = value.strip().lower()
    if word in YES or fold(word) in YES:
        return True
    if word in NO or fold(word) in NO:
        return False
    return None


def check_row(number: int, cells: dict[str, str]) -> tuple[tuple[Any, ...] | None, list[dict]]:
    """One row as a staging record (`STAGING_COLUMNS`), or its errors."""
    errors = []
    raw_id, external = cells.get("delegate_id", ""), cells.get("external_id", "") or None
    delegate_id = ascii_number(raw_id) if raw_id else None
    if raw_id and delegate_id is None:
        errors.append(row_error(number, "delegate_id", Msg("Phải là số", "must be a number")))
    if not raw_id and external is None:
        errors.append(row_error(number, "delegate_id", _WHO))
    reason = reason_of(cells.get("reason", ""))
    if reason is None:
        errors.append(row_error(number, "reason", BAD_REASON))
    owed = _flag(cells.get("makeup_owed", ""))
    if owed is None:
        errors.append(row_error(number, "makeup_owed", _BAD_FLAG))
    try:
        note = free_text(cells.get("note", ""))
    except ValueError as exc:
        vi, _, en = str(exc).partition("|")
        errors.append(row_error(number, "note", Msg(vi, en or vi)))
        note = None
    if errors:
        return None, errors
    return (number, delegate_id, external, reason, note, owed), []


def parse_absences(sheet: Sheet) -> Parsed:
    """Read and check every row (an import thread: no database, no event loop)."""
    sheet = replace(sheet, max_rows=MAX_REGISTRY_ROWS)
    check_limits(sheet)
    with open(sheet.path, "rb") as fh:
        parsed = Parsed(sha256=hashlib.file_digest(fh, "sha256").hexdigest())
    who_seen = False
    for number, cells in read_rows(sheet, COLUMNS, REQUIRED):
        who_seen = who_seen or "delegate_id" in cells or "external_id" in cells
        record, errors = check_row(number, cells)
        parsed.errors.extend(errors)
        if record is not None:
            parsed.records.append(record)
    if not who_seen and (parsed.records or parsed.errors):
        raise import_failed([row_error(0, "delegate_id", _WHO)])
    if not parsed.records and not parsed.errors:
        raise import_failed([row_error(1, "", Msg("Tệp không có dòng dữ liệu", "no rows"))])
    return parsed


def _set_based(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    errors = []
    for r in rows:
        if r["problem"] == "delegate":
            errors.append(row_error(r["row"], "delegate_id", _NO_DELEGATE))
        elif r["problem"] == "checked_in":
            message = Msg(f"Đại biểu đã điểm danh tại {r['site']}", f"checked in at {r['site']}")
            errors.append(row_error(r["row"], "delegate_id", message))
        else:
            first = r["first_row"]
            message = Msg(f"Đại biểu đã có ở dòng {first}", f"the same delegate as row {first}")
            errors.append(row_error(r["row"], "delegate_id", message))
    return errors


async def write_absences(
    conn: asyncpg.Connection, caller: Principal, conference: Any, parsed: Parsed
) -> dict[str, int]:
    """Stage, check and write every row in one transaction: `{imported, updated}`; 422
    `import_failed` with every bad row, and nothing written."""
    async with conn.transaction():
        row = await hold_writable(conn, conference["id"])
        await conn.execute(q.CREATE_STAGING)
        await conn.copy_records_to_table(
            "absence_import", records=parsed.records, columns=q.STAGING_COLUMNS
        )
        await conn.execute(q.FIND_BY_ID, row["id"])
        await conn.execute(q.FIND_BY_EXTERNAL_ID, row["id"])
        scope = subtree_pattern(caller.unit_path) if caller.unit_path else "%"
        errors = parsed.errors + _set_based(await conn.fetch(q.CHECK_ROWS, scope))
        if errors:
            errors.sort(key=lambda e: (e["row"], e["field"]))
            raise import_failed(errors)
        counts = dict(await conn.fetchrow(q.WRITE_ROWS, row["id"], caller.token_id, caller.actor))
        summary = {**counts, "rows": len(parsed.records), "sha256": parsed.sha256}
        await audit.record(conn, caller, "import", "absence", row["code"], None, summary)
    return counts
