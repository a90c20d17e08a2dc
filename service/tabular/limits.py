"""How much of an uploaded file the service will read: every limit, in one place.

Generous, far above any real roster (a national roster is 2,500,000 rows of eight short
columns; Lai Châu's is 11,873), and low enough that a hostile file is refused in seconds
with bounded memory: a sheet may claim any size and a zip may hold a gigabyte of text in
a kilobyte. Beyond a size limit the import answers 413 `payload_too_large` naming the
limit (`limit`, `max`); beyond a cell limit, 422 `import_failed` naming the row.
"""

from __future__ import annotations

from typing import Any

from diemcau.errors import Msg, Problem
from diemcau.text import vn_int

MAX_ROWS = 5_000_000  # rows (CSV lines, XLSX rows) of a roster: twice the national one
# Rows of a unit or site file, which are held in memory whole: the country has 21,000 to
# 37,000 bridge points.
MAX_REGISTRY_ROWS = 100_000
MAX_COLUMNS = 64  # columns read; a value further right is an error
MAX_CELL_CHARS = 32_767  # one cell: the most Excel itself holds
# One CSV line in bytes; a record spread over lines by quotes, in characters.
MAX_ROW_BYTES = 1 << 20
MAX_SHARED_STRINGS_BYTES = 128 << 20  # an XLSX's shared-strings part, uncompressed
MAX_SHEET_BYTES = 1 << 30  # an XLSX's sheet part, uncompressed
MAX_PART_BYTES = 1 << 20  # any other XLSX part read (workbook, relationships)
MAX_ZIP_DIRECTORY_BYTES = 1 << 20  # an XLSX's table of contents (a dozen parts, a few KB)
# The text a sheet may expand to, in characters: every cell's value counted as it is read.
# A shared string is stored once and may be referenced by every cell, so a 316 KB file
# of 3,800 strings of 32,000 characters in 20,000 rows of 64 cells stays under every
# other limit yet expands to 41 billion characters (32 s of work before its 422). Real
# files expand 2 to 5 times (a roster of 100,000 rows: 1.9; the same long values in
# every row: 4.2), so a sheet may expand to 64 characters per byte of its file, at least
# 64 Mi (any small file) and at most 2 Gi (a roster of 5,000,000 rows of 400 characters).
SHEET_TEXT_PER_FILE_BYTE = 64
MIN_SHEET_TEXT_CHARS = 64 << 20
MAX_SHEET_TEXT_CHARS = 2 << 30


def sheet_text_budget(file_bytes: int) -> int:
    """How many characters of text a sheet in a file of this size may expand to."""
    return min(
        MAX_SHEET_TEXT_CHARS, max(MIN_SHEET_TEXT_CHARS, SHEET_TEXT_PER_FILE_BYTE * file_bytes)
    )


# XML fed without an element starting or ending: one tag or comment this long is no
# spreadsheet, and the parser would hold all of it until it ends.
MAX_XML_TOKEN_BYTES = 1 << 20


class Stopped(Exception):
    """The reader was told to stop (the client went away): nobody waits for the result."""


class CellLimit(Exception):
    """A cell over MAX_CELL_CHARS, or (`wide`) a value right of column MAX_COLUMNS, at
    row `index` of the file (its own numbering: the reader does not know the header)."""

    def __init__(self, index: int = 0, column: int = 0, wide: bool = False) -> None:
        super().__init__(index, column, wide)
        self.index, self.column, self.wide = index, column, wide


def _en(n: int) -> str:
    return f"{n:,}"


def _mib(n: int) -> str:
    return f"{n >> 20} MiB"


_WHAT: dict[str, tuple[str, str]] = {
    # limit name: (Vietnamese, English), each with {n} for the limit
    "rows": ("Tệp có hơn {n} dòng", "the file has more than {n} rows"),
    "row_bytes": ("Một dòng dài hơn {n}", "a row is longer than {n}"),
    "shared_strings_bytes": (
        "Phần chuỗi dùng chung của tệp XLSX lớn hơn {n}",
        "the XLSX file's shared strings are over {n}",
    ),
    "sheet_bytes": ("Trang tính lớn hơn {n} khi giải nén", "the sheet is over {n} uncompressed"),
    "sheet_text": (
        "Chữ trong các ô của trang tính vượt {n} ký tự (64 ký tự cho mỗi byte của tệp)",
        "the sheet's cells hold more than {n} characters of text (64 per byte of the file)",
    ),
    "part_bytes": ("Một phần của tệp XLSX lớn hơn {n}", "a part of the XLSX file is over {n}"),
    "zip_directory_bytes": (
        "Mục lục của tệp XLSX lớn hơn {n}",
        "the XLSX file's table of contents is over {n}",
    ),
    "xml_token_bytes": (
        "Tệp XLSX có một thẻ XML dài hơn {n}",
        "the XLSX file holds an XML tag longer than {n}",
    ),
}


def too_large(limit: str, maximum: int) -> Problem:
    """The 413 for a file past one of the size limits (`_WHAT`), naming it."""
    vi, en = _WHAT[limit]
    in_bytes = limit.endswith("_bytes")
    shown_vi, shown_en = (_mib(maximum),) * 2 if in_bytes else (vn_int(maximum), _en(maximum))
    detail = Msg(
        vi.format(n=shown_vi) + " (giới hạn của một lần nhập)",
        en.format(n=shown_en) + " (the import limit)",
    )
    return Problem("payload_too_large", detail, limit=limit, max=maximum)


def cell_too_long(row: int, field: str) -> dict[str, Any]:
    """A row error for a cell over MAX_CELL_CHARS."""
    message = Msg(
        f"Ô dài hơn {vn_int(MAX_CELL_CHARS)} ký tự (giới hạn của một ô bảng tính)",
        f"the cell is longer than {_en(MAX_CELL_CHARS)} characters (a spreadsheet cell's limit)",
    )
    return {"row": row, "field": field, "message": message}


def too_many_columns(row: int, column: str) -> dict[str, Any]:
    """A row error for a value right of column MAX_COLUMNS."""
    message = Msg(
        f"Có giá trị ở cột {column}, ngoài {MAX_COLUMNS} cột được đọc",
        f"a value in column {column}, beyond the {MAX_COLUMNS} columns read",
    )
    return {"row": row, "field": column, "message": message}


def column_letters(index: int) -> str:
    """1 -> 'A', 27 -> 'AA', 16384 -> 'XFD'."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
