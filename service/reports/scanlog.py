"""The scan log: every scan of a conference (or of a unit subtree's sites) as CSV or XLSX,
so that an auditor can trace any figure of the report to the scans behind it.

It streams: a server-side cursor reads the scans in the site index's order (a site's
scans in arrival order, no sort), a few thousand at a time; CSV goes out chunk by chunk,
XLSX streamed into its zip row by row (reports.xlsxstream). 2,500,000 scans export
in bounded memory (bench/reconcile.py measures it).

`offline`: the scan reached the service more than 30 seconds after it was made (by the
kiosk's clock as check-in corrected it, `judged_at`): it waited in a kiosk's queue.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any
from zoneinfo import ZoneInfo

import asyncpg

from diemcau.queries.units import subtree_pattern
from diemcau.reports.xlsxstream import StreamingBook
from diemcau.text import spreadsheet_safe

OFFLINE_AFTER_S = 30
CHUNK = 5000
SHEET_ROWS = 1_000_000  # data rows a sheet (the format's limit is 1,048,576)

COLUMNS = (
    "scan_id",
    "site_code",
    "kiosk_id",
    "kiosk_name",
    "delegate_id",
    "external_id",
    "full_name",
    "category",
    "method",
    "direction",
    "scanned_at",
    "received_at",
    "offline",
    "result",
    "reason",
    "moved",
    "reentry",
    "skewed",
    "annulled",
)
HEADINGS = {
    "vi": (
        "Mã lượt quét",
        "Điểm cầu",
        "Mã máy",
        "Tên máy",
        "Mã ĐB (hệ thống)",
        "Mã đại biểu",
        "Họ và tên",
        "Thành phần",
        "Cách điểm danh",
        "Chiều",
        "Lúc quét",
        "Lúc nhận",
        "Gửi sau (ngoại tuyến)",
        "Kết quả",
        "Lý do",
        "Từ nơi khác",
        "Vào lại",
        "Lệch đồng hồ",
        "Đã hủy",
    ),
    "en": (
        "Scan id",
        "Site",
        "Kiosk id",
        "Kiosk",
        "Delegate id",
        "External id",
        "Full name",
        "Category",
        "Method",
        "Direction",
        "Scanned at",
        "Received at",
        "Offline",
        "Result",
        "Reason",
        "Moved",
        "Re-entry",
        "Skewed",
        "Annulled",
    ),
}
WIDTHS = (38, 12, 8, 18, 10, 14, 28, 12, 10, 8, 20, 20, 10, 12, 14, 8, 8, 8, 8)

SQL = f"""
    SELECT c.scan_id::text, s.code, c.kiosk_id, k.device_name, c.delegate_id, d.external_id,
           coalesce(d.full_name, c.full_name), coalesce(d.category, c.category), c.method,
           c.direction, c.scanned_at, c.received_at,
           c.received_at - c.judged_at > interval '{OFFLINE_AFTER_S} seconds', c.result,
           c.reason, c.moved, c.reentry, c.skewed, c.annulment_id IS NOT NULL
      FROM checkins c
      JOIN sites s ON s.id = c.site_id
      LEFT JOIN kiosks k ON k.token_id = c.kiosk_id
      LEFT JOIN delegates d ON d.id = c.delegate_id
     WHERE c.conference_id = $1
       AND ($2::text IS NULL OR c.site_id IN (
             SELECT s2.id FROM sites s2 JOIN units u ON u.id = s2.unit_id
              WHERE u.path LIKE $2))
     ORDER BY c.conference_id, c.site_id, c.id"""

COUNT_SQL = """
    SELECT count(*) FROM checkins c
     WHERE c.conference_id = $1
       AND ($2::text IS NULL OR c.site_id IN (
             SELECT s2.id FROM sites s2 JOIN units u ON u.id = s2.unit_id
              WHERE u.path LIKE $2))"""


def _pattern(unit_path: str | None) -> str | None:
    return None if unit_path is None else subtree_pattern(unit_path)


async def count(conn: asyncpg.Connection, conference_id: int, unit_path: str | None) -> int:
    return int(await conn.fetchval(COUNT_SQL, conference_id, _pattern(unit_path)))


async def chunks(
    conn: asyncpg.Connection, conference_id: int, unit_path: str | None
) -> AsyncIterator[list[asyncpg.Record]]:
    """The scans, CHUNK at a time, from a server-side cursor in one read-only snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(SQL, conference_id, _pattern(unit_path))
        while True:
            rows = await cursor.fetch(CHUNK)
            if not rows:
                return
            yield rows


# The columns people typed (a kiosk's name, an external id, a name): made formula-safe.
# The rest are codes, UUIDs, fixed words, numbers, times and booleans.
TYPED = (3, 5, 6)
TIMES = (10, 11)
BOOLEANS = (12, 15, 16, 17, 18)


class Cells:
    """A scan's cells: times in the conference's zone (ISO 8601 with the offset, to the
    microsecond), typed text formula-safe; column by column, no per-value type tests
    (2,500,000 rows go through here)."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def __call__(self, row: Sequence[Any]) -> list[Any]:
        out = list(row)
        zone = self.zone
        for i in TIMES:
            out[i] = out[i].astimezone(zone).isoformat()
        for i in TYPED:
            value = out[i]
            if value is not None:
                out[i] = spreadsheet_safe(value)
        return out


class CsvLog:
    """CSV: UTF-8, a header of field names, booleans `true`/`false`, empty for null."""

    def __init__(self, timezone: str) -> None:
        self.cells = Cells(timezone)

    def header(self) -> bytes:
        return self._write([COLUMNS])

    def rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        return self._write(self._plain(self.cells(r)) for r in rows)

    @staticmethod
    def _plain(cells: list[Any]) -> list[Any]:
        """Booleans as `true`/`false` (csv writes None as an empty field itself)."""
        for i in BOOLEANS:
            cells[i] = "true" if cells[i] else "false"
        return cells

    @staticmethod
    def _write(rows: Any) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8")


class XlsxLog:
    """XLSX: sheets `Lượt quét` (then `Lượt quét 2`, ... past SHEET_ROWS rows: a sheet
    holds at most 1,048,576), headings in the language, then the field names (both
    frozen), rows streamed into the zip as they come (reports.xlsxstream)."""

    def __init__(self, out: IO[bytes] | str, timezone: str, language: str = "vi") -> None:
        self.cells = Cells(timezone)
        self.language = "en" if language == "en" else "vi"
        self.book = StreamingBook(out, WIDTHS)
        self.sheets = 0
        self.left = 0

    def _next_sheet(self) -> None:
        self.sheets += 1
        name = "Lượt quét" if self.language == "vi" else "Scans"
        self.book.sheet(
            name if self.sheets == 1 else f"{name} {self.sheets}",
            HEADINGS[self.language],
            COLUMNS,
        )
        self.left = SHEET_ROWS

    def rows(self, rows: Sequence[Sequence[Any]]) -> None:
        cells, at = self.cells, 0
        while at < len(rows):
            if not self.left:
                self._next_sheet()
            part = rows[at : at + self.left]
            self.book.rows(cells(row) for row in part)
            self.left -= len(part)
            at += len(part)

    def close(self) -> None:
        if not self.sheets:
            self._next_sheet()
        self.book.close()


async def write_csv(
    conn: asyncpg.Connection,
    conference: Any,
    unit_path: str | None,
    write: Callable[[bytes], Any],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Every scan as CSV through `write` (a file's write, or an async response's write
    wrapped by the caller); answers how many."""
    log, done = CsvLog(conference["timezone"]), 0
    await _maybe(write(log.header()))
    async for rows in chunks(conn, conference["id"], unit_path):
        await _maybe(write(log.rows(rows)))
        done += len(rows)
        if progress:
            progress(done)
    return done


async def _maybe(result: Any) -> None:
    if hasattr(result, "__await__"):
        await result
